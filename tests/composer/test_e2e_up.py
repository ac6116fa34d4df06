"""End to end, for real: `composer up -d / ps / logs / down -v` of a small project on the embedded runtime.

web (busybox httpd, published port) needs app; app needs migrate (one-shot, completed successfully)
and db (healthchecked, named volume, a secret and a config). Order and conditions are read from the
timestamps the monitor writes on each log line.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import composer_cli, composer_ok

pytestmark = pytest.mark.privileged

COMPOSE = """
name: e2eup
services:
  web:
    image: localhost/busybox:latest
    command:
      - sh
      - -c
      - >-
        echo web start; mkdir -p /www; echo hello-from-web > /www/index.html;
        exec httpd -f -p 8080 -h /www
    ports: ["127.0.0.1:{port}:8080"]
    depends_on: {{app: {{condition: service_started}}}}
  app:
    image: localhost/busybox:latest
    command: ["sh", "-c", "echo app start {version}; exec sleep 1000"]
    stop_grace_period: 1s
    volumes: [/scratch]
    depends_on:
      db: {{condition: service_healthy}}
      migrate: {{condition: service_completed_successfully}}
  migrate:
    image: localhost/busybox:latest
    command: ["sh", "-c", "echo migrate start; cat /data/ready; echo migrate done"]
    volumes: [data:/data]
    depends_on: {{db: {{condition: service_healthy}}}}
  db:
    image: localhost/busybox:latest
    command:
      - sh
      - -c
      - >-
        echo db start; cat /run/secrets/token; cat /etc/app.conf; echo; sleep 1;
        echo ok > /data/ready; echo db ready; exec sleep 1000
    volumes: [data:/data]
    healthcheck: {{test: ["CMD", "test", "-f", "/data/ready"], interval: 1s, retries: 30}}
    secrets: [token]
    configs: [{{source: appconf, target: /etc/app.conf}}]
volumes: {{data: {{}}}}
secrets: {{token: {{file: ./token.txt}}}}
configs: {{appconf: {{content: "conf-value=42"}}}}
"""


def _engine_processes(root: Path) -> list[str]:
    """Processes in a cgroup of the engine with state *root* (its containers and monitors)."""
    from runtime.cgroups import engine_scope

    scope = "/".join(("", "composer", *engine_scope(root), ""))
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cgroups = Path(f"/proc/{pid}/cgroup").read_text()
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if scope in cgroups:
            found.append(f"{pid}: {cmd}")
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


_cli = composer_ok


def _log_times(proj: Path) -> dict[str, str]:
    """First time each line was logged, keyed by its text: `web-1  | 2026-...Z text`."""
    out = _cli(proj, "logs", "-t", "--no-color").stdout
    times: dict[str, str] = {}
    for line in out.splitlines():
        _, _, rest = line.partition("| ")
        stamp, _, text = rest.partition(" ")
        times.setdefault(text.strip(), stamp)
    return times


def test_up_ps_logs_recreate_down(
    tmp_path: Path, engine_paths: tuple[Path, Path], busybox_image: str
) -> None:
    root, rundir = engine_paths
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "token.txt").write_text("s3cret-token\n")
    port = _free_port()
    (proj / "compose.yaml").write_text(COMPOSE.format(port=port, version="v1"))
    bridges: list[str] = []
    try:
        up = _cli(proj, "up", "-d")
        assert " Container e2eup-web-1  Started" in up.stderr
        assert " Container e2eup-db-1  Healthy" in up.stderr

        # conditions, from the monitor's own timestamps
        t = _log_times(proj)
        assert t["db ready"] < t["migrate start"], t
        assert t["migrate done"] < t["app start v1"], t
        assert t["app start v1"] < t["web start"], t
        assert "s3cret-token" in t and "conf-value=42" in t and "ok" in t

        # the published port answers
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=10) as resp:
            assert resp.read().decode().strip() == "hello-from-web"

        # ps: table and json, from the file and from -p alone
        ps = [json.loads(x) for x in _cli(proj, "ps", "-a", "--format", "json").stdout.splitlines()]
        state = {c["Service"]: (c["State"], c["ExitCode"]) for c in ps}
        assert state == {
            "web": ("running", 0),
            "app": ("running", 0),
            "migrate": ("exited", 0),
            "db": ("running", 0),
        }
        ids = {c["Service"]: c["ID"] for c in ps}
        table = _cli(tmp_path, "-p", "e2eup", "ps").stdout
        assert table.splitlines()[0].split() == [
            "NAME",
            "IMAGE",
            "COMMAND",
            "SERVICE",
            "CREATED",
            "STATUS",
            "PORTS",
        ]
        assert f"127.0.0.1:{port}->8080/tcp" in table and "(healthy)" in table

        # logs prefixes
        logs = _cli(tmp_path, "-p", "e2eup", "logs", "--no-color", "web").stdout
        assert logs.splitlines() == ["web-1  | web start"]

        # the bridge of the project network, to check it is gone after down
        (net,) = json.loads(_cli(proj, "network", "inspect", "e2eup_default").stdout)
        assert {k: v for k, v in net["Labels"].items() if k != "com.docker.compose.version"} == {
            "com.docker.compose.network": "default", "com.docker.compose.project": "e2eup"}
        assert (net["Attachable"], net["IPAM"]["Options"]) == (False, None)  # as compose makes it
        running = {c["Name"] for c in net["Containers"].values()}
        assert {"e2eup-web-1", "e2eup-app-1", "e2eup-db-1"} <= running, running
        bridges.append(net["Options"]["com.docker.network.bridge.name"])

        # second up: only the changed service is recreated
        (proj / "compose.yaml").write_text(COMPOSE.format(port=port, version="v2"))
        dry = _cli(proj, "--dry-run", "up", "-d").stdout
        assert dry == (  # the finished one-shot runs again, as with docker compose
            "[] -> #1 service:migrate:1, StartContainer, container is exited\n"
            "[] -> #2 service:app:1, RecreateContainer, config hash changed\n"
            "[1,2] -> #3 service:app:1, StartContainer, recreated by #2\n"
        )
        up2 = _cli(proj, "up", "-d")
        assert " Container e2eup-app-1  Recreated" in up2.stderr
        for other in ("web", "db"):
            assert f"Container e2eup-{other}-1  Recreate" not in up2.stderr
        ps2 = {
            c["Service"]: c["ID"]
            for c in (json.loads(x) for x in _cli(proj, "ps", "-a", "--format", "json").stdout.splitlines())
        }
        assert ps2["app"] != ids["app"]
        assert (ps2["web"], ps2["db"]) == (ids["web"], ids["db"])
    finally:
        down = composer_cli("--progress", "plain", "down", "-v", "-t", "1", cwd=proj, timeout=120)
    assert down.returncode == 0, down.stderr

    # nothing is left: processes, mounts, netns, bridges, nft table, volumes, state rows
    assert _cli(tmp_path, "-p", "e2eup", "ps", "-a", "-q").stdout == ""
    mounts = Path("/proc/mounts").read_text()
    assert str(root) not in mounts and str(rundir) not in mounts
    netns = rundir / "netns"
    assert not netns.exists() or list(netns.iterdir()) == []
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    assert bridges and all(bridges), "the project network's bridge was not found"
    for br in bridges:
        assert f" {br}:" not in links
    from runtime.network.nft import table_name

    table = table_name(rundir)
    nft = subprocess.run(["nft", "list", "table", "inet", table], capture_output=True, text=True)
    assert nft.returncode != 0 or "e2eup" not in nft.stdout
    assert not (root / "volumes" / "e2eup_data").exists()
    assert not (root / "projects" / "e2eup").exists()  # the secret's and the config's files
    with sqlite3.connect(root / "state.db") as db:
        rows = db.execute(
            "SELECT kind, name FROM objects WHERE kind IN ('container','network','volume','pod')"
        ).fetchall()
    assert rows == []
    ps_out = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert str(root) not in ps_out
    # no process left in this engine's cgroups (db's `sleep 1000` would be; other runs' may not count)
    assert _engine_processes(root) == []


SLEEPERS = """
name: e2ethreads
services:
""" + "".join(
    f"""  s{i}:
    image: localhost/busybox:latest
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 600 & wait"]
""" + ("    depends_on: [s0]\n" if i else "")
    for i in range(4)
)

# runs the CLI in-process and prints whether trio was imported (F9: a plan that polls no
# health/completion condition runs on threads)
_PROBE = (
    "import sys\nfrom composer.cli.main import main\n"
    "try:\n    rc = main(sys.argv[1:])\nexcept SystemExit as e:\n    rc = e.code\n"
    "print('@@', rc, 'trio' in sys.modules)"
)


def _probe(proj: Path, *args: str) -> tuple[str, str]:
    out = subprocess.run([sys.executable, "-c", _PROBE, "--progress", "plain", *args], capture_output=True,
                         text=True, cwd=proj, timeout=120)
    marks = [line.split() for line in out.stdout.splitlines() if line.startswith("@@")]
    assert marks, out.stderr
    return marks[-1][1] + " " + marks[-1][2], out.stderr


def test_up_and_down_without_conditions_run_on_threads(
    tmp_path: Path, engine_paths: tuple[Path, Path], busybox_image: str
) -> None:
    proj = tmp_path / "threads"
    proj.mkdir()
    (proj / "compose.yaml").write_text(SLEEPERS)
    try:
        verdict, err = _probe(proj, "up", "-d")
        assert verdict == "0 False", err
        for i in range(4):
            assert f" Container e2ethreads-s{i}-1  Started" in err
        # s0 is started before the services that depend on it
        assert err.index("e2ethreads-s0-1  Started") < err.index("e2ethreads-s1-1  Starting")
        rows = [json.loads(line) for line in _cli(proj, "ps", "--format", "json").stdout.splitlines()]
        assert sorted(r["Service"] for r in rows if r["State"] == "running") == ["s0", "s1", "s2", "s3"]
        verdict, err = _probe(proj, "down", "-t", "5")
        assert verdict == "0 False", err
        # dependents stop before what they depend on
        assert err.index("e2ethreads-s3-1  Stopped") < err.index("e2ethreads-s0-1  Stopping")
        assert " Network e2ethreads_default  Removed" in err
        assert _cli(proj, "ps", "-a", "-q").stdout.strip() == ""
    finally:
        composer_cli("down", "-t", "0", cwd=proj)


def test_a_failed_up_leaves_no_pod_monitor_waiting(
    tmp_path: Path, engine_paths: tuple[Path, Path], busybox_image: str
) -> None:
    """`up` starts the project's pod monitor before it plans (its interpreter start then runs
    on the other core); when no container comes for it, `up` retires it as it ends, well before
    the monitor's own wait for a first container (podmon.WARM_GRACE) would."""
    import time

    from runtime import zygote
    from runtime.executor import podmon

    proj = tmp_path / "nomon"
    proj.mkdir()
    (proj / "compose.yaml").write_text("name: e2enomon\nservices:\n  a:\n    image: localhost/nosuch:1\n")
    try:
        res = composer_ok(proj, "up", "-d", code=None)
        assert res.returncode != 0 and "localhost/nosuch:1" in res.stderr
        sock = zygote.pod_socket(str(engine_paths[1]), "e2enomon")
        assert os.path.exists(sock[: -len(".sock")] + ".lock"), "no pod monitor was started ahead"
        deadline = time.monotonic() + podmon.WARM_GRACE / 2
        while _pod_monitors(sock) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _pod_monitors(sock) == []
        assert not os.path.exists(sock)
    finally:  # the pod and its network stay after a failed up, as docker compose's network does
        composer_ok(proj, "down")


def _pod_monitors(sock: str) -> list[int]:
    """Processes serving the pod monitor socket *sock* (their command line names it)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"--pod" in cmd and sock.encode() in cmd:
            found.append(int(pid))
    return found
