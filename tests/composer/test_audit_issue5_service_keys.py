"""Issue 5 audit: what a service asks the runtime for reaches the real container (busybox), and the
fault points (SIGKILL of `up`, two `up`s at once, a second Ctrl-C)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, composer_cli, composer_ok

pytestmark = pytest.mark.privileged

LOOP = "trap 'exit 0' TERM; while true; do sleep 0.1; done"

# f prints what its own main process sees, then loops; the rest is read with exec and inspect
REPORT = (
    'echo "env=$$E1,$$FROMFILE"; echo "id=$(id -u):$(id -g)"; echo "pwd=$(pwd)"; '
    'echo "nofile=$(ulimit -n):$(ulimit -Hn)"; echo "fwd=$(cat /proc/sys/net/ipv4/ip_forward)"; '
    'grep -E "^(CapBnd|NoNewPrivs|Seccomp):" /proc/self/status | tr -d "\\t" | sed "s/^/st=/"; '
    'echo "host=$(hostname)"; echo "secret=$(cat /run/secrets/mysecret)"; '
    'echo "pid1=$(cat /proc/1/comm)"; ' + LOOP
)

COMPOSE = f"""
name: auditkeys
services:
  donor:
    image: localhost/busybox:latest
    command: ["sh", "-c", "{LOOP}"]
    volumes: [/anon]
    ipc: shareable
    pid: host
  f:
    image: localhost/busybox:latest
    entrypoint: ["sh", "-c"]
    command: [{json.dumps(REPORT)}]
    volumes:
      - named:/named
      - ./data:/bind:ro
      - {{type: tmpfs, target: /tmpf}}
    volumes_from: [donor]
    tmpfs: [/run/t1]
    read_only: true
    secrets: [{{source: s1, target: mysecret, uid: "1000", gid: "1001", mode: 0400}}]
    configs: [{{source: c1, target: /etc/c1.conf, mode: 0444}}, c2]
    environment: {{E1: v1}}
    env_file: [app.env]
    user: "1000:1001"
    working_dir: /tmp
    init: true
    stop_signal: SIGUSR1
    stop_grace_period: 2s
    restart: unless-stopped
    ulimits: {{nofile: {{soft: 1234, hard: 2345}}}}
    sysctls: {{net.ipv4.ip_forward: 1}}
    mem_limit: 64m
    cpus: 0.5
    pids_limit: 77
    cap_add: [NET_ADMIN]
    cap_drop: [CHOWN]
    security_opt: [no-new-privileges, "seccomp=unconfined"]
    labels: {{lab.one: "1"}}
    container_name: auditkeys-custom
    hostname: myhost
    logging: {{driver: json-file, options: {{max-size: 1m}}}}
    ipc: service:donor
    networks: {{front: {{aliases: [fa]}}}}
  p:
    image: localhost/busybox:latest
    command: ["sh", "-c", "{LOOP}"]
    privileged: true
    tty: true
    stdin_open: true
    shm_size: 8m
    networks: [front]
    deploy: {{replicas: 2}}
volumes: {{named: {{}}}}
networks: {{front: {{}}}}
secrets:
  s1: {{file: ./s.txt}}
configs:
  c1: {{content: "c1-content"}}
  c2: {{environment: C2VAL}}
"""


_ok = composer_ok


def _exec(proj: Path, *args: str) -> str:
    return _ok(proj, "exec", "-T", *args).stdout


def test_service_keys_reach_the_container(
    tmp_path: Path, engine_paths: tuple[Path, Path], busybox_image: str
) -> None:
    proj = tmp_path / "proj"
    (proj / "data").mkdir(parents=True)
    (proj / "data" / "b.txt").write_text("bindval\n")
    (proj / "app.env").write_text("FROMFILE=1\n")
    (proj / "s.txt").write_text("sekrit\n")
    (proj / "compose.yaml").write_text(COMPOSE)
    env = {**os.environ, "C2VAL": "fromenv"}
    try:
        _ok(proj, "up", "-d", env=env)
        deadline = time.monotonic() + 30
        while True:
            logs = _ok(proj, "logs", "--no-log-prefix", "f", env=env).stdout
            if "pid1=" in logs or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        seen = dict(line.split("=", 1) for line in logs.splitlines() if "=" in line)
        assert seen["env"] == "v1,1" and seen["id"] == "1000:1001" and seen["pwd"] == "/tmp", logs
        assert seen["nofile"] == "1234:2345" and seen["fwd"] == "1" and seen["host"] == "myhost", logs
        assert seen["secret"] == "sekrit" and seen["pid1"] == "init", logs
        status = [line.split(":", 1) for line in logs.splitlines() if line.startswith("st=")]
        st = {k[3:]: v for k, v in status}
        bounding = int(st["CapBnd"], 16)
        assert bounding & (1 << 12) and not bounding & 1, logs  # +NET_ADMIN, -CHOWN
        assert (st["NoNewPrivs"], st["Seccomp"]) == ("1", "0"), logs

        _exec(proj, "donor", "sh", "-c", "echo shared > /dev/shm/z")
        files = _exec(
            proj,
            "f",
            "sh",
            "-c",
            "cat /bind/b.txt /etc/c1.conf; echo; cat /c2; echo; stat -c '%u:%g:%a %n' /run/secrets/mysecret "
            "/etc/c1.conf; touch /x 2>/dev/null || echo ro-root; touch /bind/x 2>/dev/null || echo ro-bind; "
            "touch /tmpf/x /run/t1/x && echo tmpfs-rw; test -d /anon && test -d /named && echo vols; "
            "cat /dev/shm/z",
        )
        assert files.splitlines() == [
            "bindval",
            "c1-content",
            "fromenv",
            "1000:1001:400 /run/secrets/mysecret",
            "0:0:444 /etc/c1.conf",
            "ro-root",
            "ro-bind",
            "tmpfs-rw",
            "vols",
            "shared",
        ], files
        # the donor's anonymous volume is shared through volumes_from
        _exec(proj, "donor", "sh", "-c", "echo from-donor > /anon/v")
        assert _exec(proj, "f", "cat", "/anon/v") == "from-donor\n"

        p = _exec(
            proj,
            "--index",
            "2",
            "p",
            "sh",
            "-c",
            "grep CapEff /proc/self/status; df -k /dev/shm | tail -1; readlink /proc/1/fd/0",
        )
        cap, shm, tty = p.splitlines()
        pidns = _exec(proj, "donor", "readlink", "/proc/self/ns/pid").strip()
        host_bounding = next(
            x for x in Path("/proc/self/status").read_text().splitlines() if x.startswith("CapBnd")
        )
        assert int(cap.split()[1], 16) == int(host_bounding.split()[1], 16), p  # privileged: every capability
        assert shm.split()[1] == "8192", p
        assert tty.startswith("/dev/pts/"), p
        assert pidns == os.readlink("/proc/self/ns/pid"), p  # pid: host
        names = [
            json.loads(x)["Name"] for x in _ok(proj, "ps", "--format", "json", env=env).stdout.splitlines()
        ]
        assert sorted(names) == ["auditkeys-custom", "auditkeys-donor-1", "auditkeys-p-1", "auditkeys-p-2"]

        doc = json.loads(_ok(proj, "container", "inspect", "auditkeys-custom").stdout)[0]
        flat = json.dumps(doc)
        cfg, host = doc["Config"], doc["HostConfig"]
        assert cfg["Labels"]["lab.one"] == "1" and cfg["Labels"]["com.docker.compose.service"] == "f"
        assert (cfg["StopSignal"], cfg["StopTimeout"]) == ("SIGUSR1", 2.0), flat
        assert (host["Memory"], host["NanoCpus"], host["PidsLimit"], host["Init"]) == (
            64 * 1024 * 1024,
            500_000_000,
            77,
            True,
        ), flat
        assert host["RestartPolicy"]["Name"] == "unless-stopped", flat
    finally:
        composer_cli("down", "-v", "-t", "0", cwd=proj, env=env)
    assert composer_cli("-p", "auditkeys", "ps", "-a", "-q", cwd=tmp_path).stdout == ""
    assert "auditkeys" not in composer_cli("volume", "ls").stdout


def test_down_v_with_volumes_from_at_once(
    tmp_path: Path, engine_paths: tuple[Path, Path], busybox_image: str
) -> None:
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "compose.yaml").write_text(
        "name: auditvf\nservices:\n"
        f'  donor:\n    image: localhost/busybox:latest\n    command: ["sh", "-c", "{LOOP}"]\n'
        "    volumes: [/anon]\n"
        f'  user:\n    image: localhost/busybox:latest\n    command: ["sh", "-c", "{LOOP}"]\n'
        "    volumes_from: [donor]\n"
    )
    try:
        _ok(proj, "up", "-d")
        down = composer_cli("--progress", "plain", "down", "-v", "-t", "0", cwd=proj, timeout=120)
        assert down.returncode == 0, down.stderr
        assert _ok(proj, "ps", "-a", "-q").stdout == ""
        assert _ok(proj, "volume", "ls", "-q").stdout == ""
    finally:
        composer_cli("down", "-v", "-t", "0", cwd=proj)
        composer_cli("down", "-v", "-t", "0", cwd=proj)


def _project(tmp_path: Path, name: str, n: int) -> Path:
    proj = tmp_path / name
    proj.mkdir()
    body = "".join(
        f'  s{i}:\n    image: localhost/busybox:latest\n    command: ["sh", "-c", "{LOOP}"]\n'
        + (f"    depends_on: [s{i - 1}]\n" if i else "")
        for i in range(n)
    )
    (proj / "compose.yaml").write_text(f"name: {name}\nservices:\n{body}")
    return proj


def _popen(proj: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "composer", "--progress", "plain", *args],
        cwd=proj,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


def _counts(proj: Path, name: str) -> tuple[int, int]:
    """(running containers of the project, containers of the engine named after it)."""
    running = _ok(proj, "ps", "-q").stdout.split()
    out = _ok(proj, "container", "ls", "-a", "--format", "json").stdout  # one object a line, as docker ps
    every = [json.loads(line) for line in out.splitlines()]
    return len(running), sum(1 for c in every if name in json.dumps(c.get("Names") or c.get("Name")))


# the row as create() writes it before the bundle: what a SIGKILL in between leaves
_ROW_KEYS = (
    "name",
    "image",
    "image_id",
    "labels",
    "spec",
    "created_at",
    "volume_names",
    "anonymous_volumes",
    "pod",
)


def _half_create(engine_paths: tuple[Path, Path], proj: Path, name: str) -> str:
    """Turn container *name* into what a create killed after its state row leaves: the row only."""
    from runtime.engine import Engine
    from runtime.paths import Paths

    engine = Engine(Paths(root=str(engine_paths[0]), rundir=str(engine_paths[1])))
    try:
        cid, doc = engine.store.read().by_name("container", name) or ("", {})
        assert cid, name
        _ok(proj, "container", "rm", "-f", name)
        with engine.store.transaction() as tx:
            tx.put("container", cid, {k: doc[k] for k in _ROW_KEYS if k in doc}, name=name)
    finally:
        engine.store.close()
    return cid


def _leftovers(engine_paths: tuple[Path, Path], cid: str) -> list[str]:
    """Whatever of container *cid* outlives its removal: mounts, dirs, cgroups, processes."""
    import glob

    root, run = (str(p) for p in engine_paths)
    out = [ln for ln in Path("/proc/mounts").read_text().splitlines() if cid in ln]
    out += glob.glob(f"{root}/**/{cid}*", recursive=True) + glob.glob(f"{run}/**/{cid}*", recursive=True)
    out += glob.glob(f"/sys/fs/cgroup/*/composer/**/{cid}", recursive=True)
    for pid in (d for d in os.listdir("/proc") if d.isdigit()):
        try:
            if cid.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                out.append(f"process {pid}")
        except OSError:
            pass
    return out


def _engine_leftovers(engine_paths: tuple[Path, Path]) -> list[str]:
    """Mounts, container cgroups and processes of the test's engine that outlive `down`."""
    import glob

    from runtime.cgroups import engine_scope

    root, run = (str(p) for p in engine_paths)
    out = [ln for ln in Path("/proc/mounts").read_text().splitlines() if root in ln or run in ln]
    scope = "/".join(engine_scope(engine_paths[0]))
    out += [d for d in glob.glob(f"/sys/fs/cgroup/*/composer/{scope}/*/*") if os.path.isdir(d)]
    for pid in (d for d in os.listdir("/proc") if d.isdigit()):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if run.encode() in cmd or root.encode() in cmd:
            out.append(f"process {pid}: {cmd!r}")
    return out


def test_half_created_container_is_dead_refuses_start_and_up_recreates_it(
    tmp_path: Path, engine_paths: tuple[Path, Path], busybox_image: str
) -> None:
    proj = _project(tmp_path, "audithalf", 3)
    try:
        _ok(proj, "up", "-d")
        cid = _half_create(engine_paths, proj, "audithalf-s1-1")
        states = {
            json.loads(x)["Name"]: json.loads(x)["State"]
            for x in _ok(proj, "ps", "-a", "--format", "json").stdout.splitlines()
        }
        assert states["audithalf-s1-1"] == "dead", states
        res = composer_cli("container", "start", "audithalf-s1-1", cwd=proj)
        assert res.returncode == 1  # docker start's: the error, then the containers that failed
        err = res.stderr.strip().splitlines()
        assert len(err) == 2 and "audithalf-s1-1" in err[0] and "bundle" in err[0], res.stderr
        assert err[1] == "failed to start containers: audithalf-s1-1"
        # rm -f removes it whole
        _ok(proj, "container", "rm", "-f", "audithalf-s1-1")
        assert _leftovers(engine_paths, cid) == []
        assert _counts(proj, "audithalf") == (2, 2)
        # up -d recreates a half-made one (its config hash is the service's: a start would fail)
        _ok(proj, "up", "-d")
        cid = _half_create(engine_paths, proj, "audithalf-s1-1")
        up = _ok(proj, "up", "-d")
        assert _counts(proj, "audithalf") == (3, 3), up.stdout + up.stderr
        rows = [json.loads(x) for x in _ok(proj, "ps", "--format", "json").stdout.splitlines()]
        assert {r["Name"]: r["State"] for r in rows}.get("audithalf-s1-1") == "running", rows
        assert "Recreate" in up.stdout + up.stderr
        _ok(proj, "down", "-t", "0")
        assert _counts(proj, "audithalf") == (0, 0)
        assert _leftovers(engine_paths, cid) == []
        # down removes a half-made one too
        _ok(proj, "up", "-d")
        cid = _half_create(engine_paths, proj, "audithalf-s2-1")
        _ok(proj, "down", "-t", "0")
        assert _counts(proj, "audithalf") == (0, 0)
        assert _leftovers(engine_paths, cid) == []
        assert "audithalf" not in _ok(proj, "network", "ls").stdout
    finally:
        composer_cli("down", "-t", "0", cwd=proj)


def test_sigkill_of_up_then_up_converges_and_down_removes_everything(
    tmp_path: Path, engine_paths: tuple[Path, Path], busybox_image: str
) -> None:
    proj = _project(tmp_path, "auditkill", 5)
    try:
        for delay in (0.1, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.7):
            p = _popen(proj, "up", "-d")
            time.sleep(delay)
            p.kill()
            p.communicate(timeout=30)
            _ok(proj, "up", "-d")
            assert _counts(proj, "auditkill") == (5, 5), delay
            _ok(proj, "down", "-t", "0")
            assert _counts(proj, "auditkill") == (0, 0), delay
            assert "auditkill" not in _ok(proj, "network", "ls").stdout
            assert "auditkill" not in _ok(proj, "pod", "ls").stdout
            assert _engine_leftovers(engine_paths) == [], delay
    finally:
        composer_cli("down", "-t", "0", cwd=proj)


def test_two_ups_at_once_create_no_duplicates(
    tmp_path: Path, engine_paths: tuple[Path, Path], busybox_image: str
) -> None:
    proj = _project(tmp_path, "auditlock", 4)
    try:
        a, b = _popen(proj, "up", "-d"), _popen(proj, "up", "-d")
        outs = [a.communicate(timeout=120), b.communicate(timeout=120)]
        assert (a.returncode, b.returncode) == (0, 0), outs
        assert _counts(proj, "auditlock") == (4, 4)
        assert len(_ok(proj, "network", "ls").stdout.split("auditlock_default")) == 2
    finally:
        composer_cli("down", "-t", "0", cwd=proj)


def test_second_ctrl_c_kills_and_keeps_the_containers(
    tmp_path: Path, engine_paths: tuple[Path, Path], busybox_image: str
) -> None:
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "compose.yaml").write_text(
        "name: auditint\nservices:\n  stubborn:\n    image: localhost/busybox:latest\n"
        '    command: ["sh", "-c", "trap \'\' TERM; echo stubborn up; while true; do sleep 0.1; done"]\n'
        "    stop_grace_period: 60s\n"
    )
    try:
        p = _popen(proj, "up", "--no-color")
        assert p.stdout is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and "stubborn up" not in p.stdout.readline():
            pass
        p.send_signal(signal.SIGINT)
        time.sleep(1.0)  # the graceful stop now waits up to 60 s for a container ignoring SIGTERM
        assert p.poll() is None
        t0 = time.monotonic()
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=30)
        assert time.monotonic() - t0 < 15, (out, err)
        assert p.returncode != 0
        states = [
            json.loads(x)["State"] for x in _ok(proj, "ps", "-a", "--format", "json").stdout.splitlines()
        ]
        assert states == ["exited"], (out, err)  # killed, not removed
    finally:
        composer_cli("down", "-t", "0", cwd=proj)


def test_plan_recreates_a_damaged_container_even_with_no_recreate() -> None:
    """Pure: a container observed as half-made is recreated, never started (its start cannot work)."""
    from composer import labels as L
    from composer.plan import Observed, ReconcileOptions, reconcile
    from composer.project import Project
    from runtime.spec import ContainerInfo

    svc = {"image": "busybox"}
    p = Project(
        name="demo", working_dir="/w", config_files=("/w/compose.yaml",), tree={"services": {"a": svc}}
    )
    c = ContainerInfo(
        id="id-a-1",
        name="demo-a-1",
        image="busybox",
        image_id="sha256:x",
        status="dead",
        created_at="2026-01-01T00:00:00Z",
        labels={
            L.PROJECT: "demo",
            L.SERVICE: "a",
            L.CONTAINER_NUMBER: "1",
            L.ONEOFF: "False",
            L.CONFIG_HASH: L.config_hash(svc),
        },
    )
    seen = {"containers": (c,), "networks": frozenset({"demo_default"}), "images": frozenset({"busybox"})}
    plan = reconcile(p, Observed(**seen, pod=True))  # type: ignore[arg-type]
    assert [(o.kind, o.cause) for o in plan.ops] == [("StartContainer", "container is dead")]
    damaged = Observed(**seen, pod=True, damaged=frozenset({"id-a-1"}))  # type: ignore[arg-type]
    for recreate in ("diverged", "never"):
        plan = reconcile(p, damaged, ReconcileOptions(recreate=recreate))  # type: ignore[arg-type]
        assert [(o.kind, o.cause) for o in plan.ops] == [
            ("RecreateContainer", "its create was interrupted"),
            ("StartContainer", "recreated by #1"),
        ]
