"""Issue 5 audit: compose verbs and flags the other end-to-end tests do not exercise, each checked
with the real CLI on real containers (busybox), as docker compose v2 behaves."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import composer_cli, composer_ok

pytestmark = pytest.mark.privileged

_LOOP = "trap 'exit 0' TERM; echo {0} up; while true; do sleep 0.1; done"


def _svc(name: str, extra: str = "") -> str:
    cmd = _LOOP.format(name)
    return f'  {name}:\n    image: localhost/busybox:latest\n    command: ["sh", "-c", "{cmd}"]\n{extra}'


_run = composer_ok


def _ps(proj: Path, *args: str, glob: tuple[str, ...] = ()) -> dict[str, dict[str, object]]:
    out = _run(proj, *glob, "ps", "--format", "json", *args).stdout
    return {str(r["Name"]): r for r in (json.loads(line) for line in out.splitlines())}


def _states(proj: Path, *args: str, glob: tuple[str, ...] = ()) -> dict[str, str]:
    return {n: str(r["State"]) for n, r in _ps(proj, *args, glob=glob).items()}


def _write(proj: Path, name: str, *services: str) -> None:
    (proj / "compose.yaml").write_text(f"name: {name}\nservices:\n" + "".join(services))


def test_down_keeps_an_orphan_running_and_ps_a_lists_one_offs(
    tmp_path: Path, engine_paths: tuple[Path, Path], busybox_image: str
) -> None:
    proj = tmp_path / "proj"
    proj.mkdir()
    _write(proj, "auditorph", _svc("keep"), _svc("gone"))
    try:
        _run(proj, "up", "-d")
        one = _run(proj, "run", "-d", "--name", "auditorph-once", "keep", "sleep", "30")
        # docker compose's run -d prints the container's ID (RunStart of created.ID)
        assert one.stdout.strip() == _container_id("auditorph-once")
        # docker compose ps: -a includes the one-off `run` containers, plain ps does not
        assert set(_states(proj)) == {"auditorph-keep-1", "auditorph-gone-1"}
        every = _ps(proj, "-a")
        assert set(every) == {"auditorph-keep-1", "auditorph-gone-1", "auditorph-once"}
        assert "com.docker.compose.oneoff=True" in str(every["auditorph-once"]["Labels"])
        assert "com.docker.compose.oneoff=False" in str(every["auditorph-keep-1"]["Labels"])

        _write(proj, "auditorph", _svc("keep"))
        up = _run(proj, "up", "-d")
        assert "found orphan containers (auditorph-gone-1)" in up.stderr
        assert _states(proj)["auditorph-gone-1"] == "running"  # up warns, keeps it

        down = _run(proj, "down", "-t", "0")
        assert "found orphan containers (auditorph-gone-1)" in down.stderr
        # the orphan is neither stopped nor removed (nor killed with the pod), as docker compose
        left = _states(tmp_path, "-a", glob=("-p", "auditorph"))
        assert left == {"auditorph-gone-1": "running"}, down.stderr

        _write(proj, "auditorph", _svc("keep"))
        gone = _run(proj, "down", "--remove-orphans", "-t", "0")
        assert " Container auditorph-gone-1  Removed" in gone.stderr
        assert _run(tmp_path, "-p", "auditorph", "ps", "-a", "-q").stdout == ""
        nets = composer_cli("network", "ls").stdout
        assert "auditorph_default" not in nets
    finally:
        composer_cli("down", "--remove-orphans", "-t", "0", cwd=proj)


def test_up_create_start_stop_rm_and_recreate_flags(
    tmp_path: Path, engine_paths: tuple[Path, Path], busybox_image: str
) -> None:
    proj = tmp_path / "proj"
    proj.mkdir()
    web_deps = "    depends_on: [db]\n"
    _write(proj, "auditflags", _svc("db"), _svc("web", web_deps))
    try:
        build = _run(proj, "up", "-d", "--build", code=None)
        assert build.returncode != 0 and "build is not supported yet" in build.stderr
        assert _run(proj, "ps", "-a", "-q").stdout == ""

        _run(proj, "up", "-d", "--no-start")
        assert _states(proj, "-a") == {"auditflags-db-1": "created", "auditflags-web-1": "created"}
        _run(proj, "start")
        assert _states(proj) == {"auditflags-db-1": "running", "auditflags-web-1": "running"}
        ids = {n: r["ID"] for n, r in _ps(proj).items()}

        # a changed service: --no-recreate keeps it, --no-deps touches only the named one
        _write(proj, "auditflags", _svc("db", "    environment: {V: '2'}\n"), _svc("web", web_deps))
        keep = _run(proj, "up", "-d", "--no-recreate")
        assert "Recreate" not in keep.stderr
        assert {n: r["ID"] for n, r in _ps(proj).items()} == ids
        only = _run(proj, "up", "-d", "--no-deps", "web")
        assert "auditflags-db-1  Recreate" not in only.stderr
        assert {n: r["ID"] for n, r in _ps(proj).items()} == ids
        forced = _run(proj, "up", "-d", "--force-recreate", "--no-deps", "web")
        assert " Container auditflags-web-1  Recreated" in forced.stderr
        now = {n: r["ID"] for n, r in _ps(proj).items()}
        assert now["auditflags-web-1"] != ids["auditflags-web-1"]
        assert now["auditflags-db-1"] == ids["auditflags-db-1"]

        scaled = _run(proj, "up", "-d", "--no-recreate", "--scale", "web=2")
        assert " Container auditflags-web-2  Started" in scaled.stderr
        assert set(_states(proj)) == {"auditflags-db-1", "auditflags-web-1", "auditflags-web-2"}
        _run(proj, "scale", "web=1")
        assert set(_states(proj)) == {"auditflags-db-1", "auditflags-web-1"}

        _run(proj, "pause", "web")
        assert _states(proj)["auditflags-web-1"] == "paused"
        _run(proj, "unpause", "web")
        assert _states(proj)["auditflags-web-1"] == "running"
        top = _run(proj, "top", "web").stdout
        # docker compose 2.40's one table: SERVICE and the replica first, the command last
        assert top.startswith("SERVICE  #   UID") and "\nweb      1   " in top and "echo web up" in top
        stats = _run(proj, "stats", "--no-stream").stdout
        assert "auditflags-db-1" in stats and "auditflags-web-1" in stats
        images = _run(proj, "images").stdout
        assert "auditflags-web-1" in images and "localhost/busybox" in images

        _run(proj, "stop", "-t", "1", "web")
        assert _states(proj, "-a")["auditflags-web-1"] == "exited"
        _run(proj, "restart", "-t", "1", "web")
        assert _states(proj)["auditflags-web-1"] == "running"
        import subprocess
        import sys

        waiter = subprocess.Popen([sys.executable, "-m", "composer", "wait", "web"], cwd=proj,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(1.0)  # it has found the running container
        _run(proj, "kill", "-s", "SIGKILL", "web")
        assert _states(proj, "-a")["auditflags-web-1"] == "exited"
        out, err = waiter.communicate(timeout=30)
        assert waiter.returncode == 137 and out.endswith(" exited with status code 137\n"), (out, err)
        # as docker compose's: wait is about running containers
        assert "no containers for project" in _run(proj, "wait", "web", code=1).stderr

        _run(proj, "rm", "-f", "-s", "-v", "db")  # -s stops the running db first
        assert set(_states(proj, "-a")) == {"auditflags-web-1"}
        _run(proj, "create", "db")
        assert _states(proj, "-a")["auditflags-db-1"] == "created"
        assert _run(proj, "ps", "--services", "--status", "created").stdout == "db\n"
        # -q prints the whole ID, --format json the short one (as docker compose: trunc by default)
        exited = _run(proj, "ps", "-q", "--filter", "status=exited").stdout.strip()
        assert len(exited) == 64 and exited[:12] == now["auditflags-web-1"]
    finally:
        composer_cli("down", "-t", "0", cwd=proj)
    assert _run(tmp_path, "-p", "auditflags", "ps", "-a", "-q").stdout == ""


def test_up_wait_names_the_failing_service_and_honours_the_timeout(
    tmp_path: Path, engine_paths: tuple[Path, Path], busybox_image: str
) -> None:
    proj = tmp_path / "proj"
    proj.mkdir()
    healthy = '    healthcheck: {test: ["CMD", "true"], interval: 1s, retries: 5}\n'
    never = (
        '    healthcheck: {test: ["CMD", "false"], interval: 1s, retries: 100, start_period: 100s}\n'
        "    profiles: [slow]\n"
    )
    once = '  once:\n    image: localhost/busybox:latest\n    command: ["true"]\n'
    bad = '  bad:\n    image: localhost/busybox:latest\n    command: ["sh", "-c", "sleep 0.5; exit 3"]\n'
    bad += "    profiles: [bad]\n"
    # health starting until it dies: without a healthcheck --wait may see it running, as docker's does
    bad += '    healthcheck: {test: ["CMD", "true"], interval: 2s}\n'

    deps = "    depends_on:\n"
    deps += "      once: {condition: service_completed_successfully}\n"
    deps += "      db: {condition: service_healthy}\n"
    (proj / "compose.yaml").write_text(
        "name: auditwait\nservices:\n"
        + _svc("db", healthy)
        + once
        + _svc("app", deps)
        + bad
        + _svc("slow", never)
    )
    try:
        _run(proj, "up", "-d", "--wait")  # a one-shot that exited 0 does not fail --wait
        assert _ps(proj)["auditwait-db-1"]["Health"] == "healthy"
        failed = _run(proj, "--profile", "bad", "up", "-d", "--wait", code=1)
        assert "auditwait-bad-1" in failed.stderr and "exited (3)" in failed.stderr
        slow = _run(proj, "--profile", "slow", "up", "-d", "--wait", "--wait-timeout", "2", "slow", code=1)
        assert "auditwait-slow-1" in slow.stderr
    finally:
        composer_cli("--profile", "bad", "--profile", "slow", "down", "-t", "0", cwd=proj)


def test_attached_up_flags(tmp_path: Path, engine_paths: tuple[Path, Path], busybox_image: str) -> None:
    proj = tmp_path / "proj"
    proj.mkdir()
    fail = "  a:\n    image: localhost/busybox:latest\n"
    fail += '    command: ["sh", "-c", "echo a-line; sleep 0.5; exit 4"]\n'
    (proj / "compose.yaml").write_text("name: auditatt\nservices:\n" + fail + _svc("b"))
    try:
        res = _run(
            proj,
            "up",
            "--attach",
            "a",
            "--no-log-prefix",
            "--timestamps",
            "--abort-on-container-failure",
            code=4,
        )
        lines = res.stdout.splitlines()
        assert lines[0] == "Attaching to a-1"
        stamped = [x for x in lines if x.endswith(" a-line")]
        assert len(stamped) == 1 and stamped[0][:4].isdigit() and "T" in stamped[0].split()[0]
        assert not any("b up" in x for x in lines)  # b is not attached
        assert "\x1b[Ka-1 exited with code 4" in lines
        assert _states(proj, "-a") == {"auditatt-a-1": "exited", "auditatt-b-1": "exited"}

        res = _run(proj, "--ansi", "never", "up", "--no-attach", "b", "--abort-on-container-exit", code=4)
        assert res.stdout.splitlines()[0] == "Attaching to a-1"
        assert "a-1  | a-line" in res.stdout and "b-1  |" not in res.stdout
        assert res.stdout.count("a-line") == 1, res.stdout  # a's first run is not replayed

        # attached up attaches from now on, as docker compose: b, running and kept, prints nothing
        # of its earlier output; a, started again, prints this run's line only
        _run(proj, "up", "-d", "b")
        res = _run(proj, "--ansi", "never", "up", "--abort-on-container-exit", code=4)
        assert res.stdout.splitlines()[0] == "Attaching to a-1, b-1", res.stdout
        assert res.stdout.count("a-1  | a-line") == 1 and "b up" not in res.stdout, res.stdout
    finally:
        composer_cli("down", "-t", "0", cwd=proj)


def test_exec_run_logs_cp_port_ls_version_flags(
    tmp_path: Path, engine_paths: tuple[Path, Path], busybox_image: str
) -> None:
    proj = tmp_path / "proj"
    (proj / "data").mkdir(parents=True)
    (proj / "data" / "in.txt").write_text("bound\n")
    talk = '    command: ["sh", "-c", "echo one; echo two; echo three; ' + _LOOP.format("s") + '"]\n'
    (proj / "compose.yaml").write_text(
        "name: auditexec\nservices:\n"
        "  s:\n    image: localhost/busybox:latest\n" + talk + "    deploy: {replicas: 2}\n"
        "    ports: ['127.0.0.1::80']\n"
    )
    try:
        _run(proj, "up", "-d")
        out = _run(
            proj,
            "exec",
            "-T",
            "-u",
            "1000",
            "-w",
            "/etc",
            "-e",
            "A=b",
            "--index",
            "2",
            "s",
            "sh",
            "-c",
            "echo $(id -u) $(pwd) $A $(hostname)",
        ).stdout
        assert out.split()[:3] == ["1000", "/etc", "b"]
        capeff = "grep CapEff /proc/self/status"
        plain = _run(proj, "exec", "-T", "s", "sh", "-c", capeff).stdout.split()[1]
        priv = _run(proj, "exec", "-T", "--privileged", "s", "sh", "-c", capeff).stdout.split()[1]
        _run(proj, "exec", "-T", "--index", "0", "s", "true")  # 0 is no index, as docker compose
        assert int(priv, 16) > int(plain, 16)
        _run(proj, "exec", "-d", "s", "sh", "-c", "sleep 0.3; echo detached > /tmp/d")
        deadline = time.monotonic() + 10
        while _run(proj, "exec", "-T", "s", "cat", "/tmp/d", code=None).stdout != "detached\n":
            assert time.monotonic() < deadline
            time.sleep(0.2)

        run = _run(
            proj,
            "run",
            "--rm",
            "-T",
            "--no-deps",
            "-e",
            "X=1",
            "-u",
            "100",
            "-w",
            "/tmp",
            "-v",
            f"{proj / 'data'}:/vv:ro",
            "--entrypoint",
            "sh",
            "s",
            "-c",
            "echo $X $(id -u) $(pwd) $(cat /vv/in.txt)",
        ).stdout
        assert run == "1 100 /tmp bound\n"
        port = _free_port()
        one = _run(
            proj,
            "run",
            "-d",
            "--name",
            "auditexec-web",
            "-p",
            f"127.0.0.1:{port}:80",
            "s",
            "httpd",
            "-f",
            "-p",
            "80",
            "-h",
            "/etc",
        ).stdout.strip()
        assert one == _container_id("auditexec-web")
        deadline = time.monotonic() + 10
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/hostname", timeout=2) as resp:
                    assert resp.status == 200
                break
            except OSError:
                assert time.monotonic() < deadline
                time.sleep(0.2)

        logs = _run(proj, "logs", "--no-color", "--tail", "2", "--index", "2", "s").stdout
        assert logs == "s-2  | three\ns-2  | s up\n"
        bare = _run(proj, "logs", "--no-log-prefix", "-t", "--since", "1h", "--index", "1", "s").stdout
        lines = bare.splitlines()
        assert [x.split(" ", 1)[1] for x in lines] == ["one", "two", "three", "s up"] and lines[0][:2] == "20"
        assert _run(proj, "logs", "--until", "2000-01-01T00:00:00Z", "s").stdout == ""
        mapped = _run(proj, "port", "--index", "2", "s", "80").stdout.strip()
        assert mapped.startswith("127.0.0.1:") and int(mapped.rsplit(":", 1)[1]) > 0

        (tmp_path / "src.txt").write_text("copied\n")
        _run(proj, "cp", str(tmp_path / "src.txt"), "s:/tmp/c.txt")
        _run(proj, "cp", "s:/tmp/c.txt", str(tmp_path / "back.txt"))
        assert (tmp_path / "back.txt").read_text() == "copied\n"

        listed = json.loads(_run(tmp_path, "ls", "--format", "json").stdout)
        mine = [p for p in listed if p["Name"] == "auditexec"]
        assert mine and mine[0]["Status"].startswith("running(") and "compose.yaml" in mine[0]["ConfigFiles"]
        assert _run(tmp_path, "version").stdout.startswith("composer version ")
        # stop from labels alone, without the compose file (as ps/logs/down/ls)
        _run(tmp_path, "-p", "auditexec", "stop", "-t", "0")
        left = _states(tmp_path, "-a", glob=("-p", "auditexec"))
        assert (left["auditexec-s-1"], left["auditexec-s-2"]) == ("exited", "exited"), left
    finally:
        composer_cli("down", "-t", "0", cwd=proj)
    assert _run(tmp_path, "-p", "auditexec", "ps", "-a", "-q").stdout == ""


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _container_id(name: str) -> str:
    return composer_cli("container", "inspect", name, "--format", "{{.Id}}").stdout.strip()
