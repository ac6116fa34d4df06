"""SIGKILLs of compose verbs at a fixed step, real containers: the CLI runs in a child that kills
itself there (tests/killpoint.py), then `up -d` again must converge (each service once, running,
its published port served, every container's /etc/hosts naming its peers by their names and
addresses) and `down -v` must leave nothing. Each point is one a sweep (bench/killsweep.py) or a
report found; the commit that added it says what was wrong."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.conftest import composer_ok, first_words
from tests.killpoint import DIE_AT

pytestmark = pytest.mark.privileged
REPO = Path(__file__).resolve().parents[2]

KILLED_CLI = DIE_AT + textwrap.dedent("""
    die_at(sys.argv[1])
    from composer.cli.main import main
    main(sys.argv[2:])
""")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("0.0.0.0", 0))
        return int(s.getsockname()[1])


def _project(tmp_path: Path, image: str, port: int) -> Path:
    """web publishes *port* (it answers 'web'), db and worker are peers; no health condition: up
    sets them up in one network batch (their peers' hosts files and ports written at its end)."""
    d = tmp_path / "proj"
    d.mkdir()
    (d / "compose.yaml").write_text(textwrap.dedent(f"""
        services:
          web:
            image: {image}
            command: ["sh", "-c", "trap 'exit 0' TERM; while :; do echo web | nc -l -p 80; done"]
            ports: ["127.0.0.1:{port}:80"]
            volumes: [data:/data, /anon]
            depends_on: [db]
          db:
            image: {image}
            command: ["sleep", "1000"]
            stop_signal: SIGKILL
            volumes: [data:/data]
          worker:
            image: {image}
            command: ["sleep", "1000"]
            stop_signal: SIGKILL
        volumes:
          data: {{}}
    """))
    return d


def _killed(d: Path, step: str, *args: str) -> None:
    proc = subprocess.run([sys.executable, "-c", KILLED_CLI, step, "--progress", "plain", *args], cwd=d,
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == -signal.SIGKILL, proc.stderr


def _converged(d: Path, project: str, port: int) -> None:
    composer_ok(d, "-p", project, "up", "-d")
    ps = composer_ok(d, "-p", project, "ps", "-a", "--format", "json").stdout
    rows = [json.loads(x) for x in ps.splitlines()]
    assert sorted((r["Name"], r["State"]) for r in rows) == [
        (f"{project}-{s}-1", "running") for s in ("db", "web", "worker")]
    addrs = {r["Name"]: json.loads(composer_ok(d, "container", "inspect", r["Name"]).stdout)[0] for r in rows}
    for name, doc in addrs.items():
        hosts = Path(doc["HostsPath"]).read_text()
        for peer, pdoc in addrs.items():
            ip = next(iter(pdoc["NetworkSettings"]["Networks"].values()))["IPAddress"]
            svc = peer.removeprefix(project + "-").rsplit("-", 1)[0]
            names = [ln.split()[1:] for ln in hosts.splitlines() if ln.split()[:1] == [ip]]
            assert len(names) == 1 and {peer, svc} <= set(names[0]), (name, hosts)
        assert "_" + project not in hosts, (name, hosts)  # no recreate's temporary name
    assert first_words(port, 5) == "web"


@pytest.mark.parametrize(
    "step",
    [
        # every container set up, started: the peers' hosts files and the ports' nft elements,
        # due at the network batch's end, not written
        "before runtime.network.manager.NetworkManager._change_ports",
    ],
)
def test_a_kill_of_up_leaves_what_up_converges_and_down_v_removes(
    tmp_path: Path, busybox_image: str, step: str
) -> None:
    port = _free_port()
    d = _project(tmp_path, busybox_image, port)
    try:
        _killed(d, step, "-p", "t-kpu", "up", "-d")
        _converged(d, "t-kpu", port)
    finally:
        composer_ok(d, "-p", "t-kpu", "down", "-v", "-t", "0")
    assert composer_ok(d, "container", "ls", "-aq").stdout == ""
    assert composer_ok(d, "volume", "ls", "-q").stdout == ""


def _monitors(run: Path) -> list[str]:
    """Monitor processes of the engine at *run* (a pod monitor's command line names its socket there)."""
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "monitor.py" in cmd and str(run) in cmd:
            out.append(f"{pid}: {cmd}")
    return out


def test_down_after_a_kill_of_run_rm_amid_its_set_up_leaves_no_pod_monitor(
    tmp_path: Path, busybox_image: str, engine_paths: tuple[Path, Path]
) -> None:
    """`run --rm` starts the project's pod monitor ahead of its containers; killed before any came
    to it, that monitor waited out its grace after `down` had removed everything."""
    d = _project(tmp_path, busybox_image, _free_port())
    try:
        _killed(d, "before runtime.container_create._launch", "-p", "t-kpr", "run", "--rm", "web", "true")
        assert _monitors(engine_paths[1]) != []  # the one started ahead, serving none
    finally:
        composer_ok(d, "-p", "t-kpr", "down", "-v", "-t", "0")
    end = time.monotonic() + 1  # its exit is asynchronous, but not the grace's 5 s
    while _monitors(engine_paths[1]) and time.monotonic() < end:
        time.sleep(0.05)
    assert _monitors(engine_paths[1]) == []
    assert composer_ok(d, "container", "ls", "-aq").stdout == ""


def test_down_v_after_a_kill_of_a_volume_removal_amid_its_data_leaves_no_data(
    tmp_path: Path, busybox_image: str, engine_paths: tuple[Path, Path]
) -> None:
    """A volume removal killed while it deletes the data (down -v's, volume rm's: the row gone,
    the directory under a trash name) left that data on disk after the next down -v, which had no
    volume left to remove (only a later volume removal emptied the trash)."""
    d = _project(tmp_path, busybox_image, _free_port())
    try:
        composer_ok(d, "-p", "t-kpv", "up", "-d")
        composer_ok(d, "-p", "t-kpv", "exec", "-T", "db", "sh", "-c", "echo data > /data/f")
        composer_ok(d, "-p", "t-kpv", "down", "-t", "0")
        _killed(d, "before runtime.volumes.shutil.rmtree", "volume", "rm", "t-kpv_data")
        assert "t-kpv_data" not in composer_ok(d, "volume", "ls", "-q").stdout  # gone, its data not yet
    finally:
        composer_ok(d, "-p", "t-kpv", "down", "-v", "-t", "0")
    vdir = engine_paths[0] / "volumes"
    left = composer_ok(d, "volume", "ls", "-q").stdout.split()  # web's anonymous one: down kept it
    assert len(left) == 1 and sorted(os.listdir(vdir)) == left
    composer_ok(d, "volume", "rm", *left)
