"""A recreate as docker compose's recreateContainer makes it (the new container under the
temporary name `<12 hex of the old id>_<name>`, with the old one's anonymous volumes; the old one
removed keeping them; then the rename), `container rename`, and SIGKILLs of a recreating `up -d`
between those steps: the next `up -d` converges and `down -v` leaves nothing, the anonymous volume
included. Real containers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from runtime.engine import Engine
from tests.killpoint import DIE_AT

pytestmark = pytest.mark.privileged
IMAGE = "localhost/busybox:latest"
REPO = Path(__file__).resolve().parents[2]

COMPOSE = textwrap.dedent(f"""
    services:
      web:
        image: {IMAGE}
        command: sh -c 'echo run >> /data/log; exec sleep 1000'
        stop_signal: SIGKILL
        volumes: [/data]
        environment: {{V: "1"}}
        networks:
          default:
            ipv4_address: 172.30.91.5
      peer:
        image: {IMAGE}
        command: sleep 1000
        stop_signal: SIGKILL
    networks:
      default:
        ipam:
          config: [{{subnet: 172.30.91.0/24}}]
""")

# the CLI in a child that SIGKILLs itself at one step (tests/killpoint.py)
KILLED_UP = DIE_AT + textwrap.dedent("""
    die_at(sys.argv[1])
    from composer.cli.main import main
    main(sys.argv[2:])
""")


def _cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "composer", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)})


def _project(tmp_path: Path, version: str) -> Path:
    (tmp_path / "compose.yaml").write_text(COMPOSE.replace('V: "1"', f'V: "{version}"'))
    return tmp_path


def _anonymous_owned(engine: Engine) -> None:
    """Every anonymous volume is named by a container's row (its rm -v or down -v removes it)."""
    rows = engine.store.read().list("container")
    owned = {v for _, d in rows for v in d.get("anonymous_volumes") or ()}
    for v in engine.volumes.list():
        assert v.name in owned, f"volume {v.name} is no container's: {[d['name'] for _, d in rows]}"


def _web(engine: Engine, project: str) -> list[str]:
    return sorted(c.name for c in engine.containers.list(all=True)
                  if c.labels.get("com.docker.compose.project") == project
                  and c.labels.get("com.docker.compose.service") == "web")


def test_a_recreate_keeps_the_anonymous_volume_the_name_and_the_static_address(
    engine: Engine, tmp_path: Path
) -> None:
    d = _project(tmp_path, "1")
    try:
        assert _cli(d, "-p", "t-rc", "up", "-d").returncode == 0
        old = engine.containers.get("t-rc-web-1")
        _project(tmp_path, "2")
        r = _cli(d, "-p", "t-rc", "up", "-d")
        assert r.returncode == 0, r.stderr
        new = engine.containers.get("t-rc-web-1")
        assert new.id != old.id and new.status == "running"
        assert new.labels["com.docker.compose.replace"] == "web-1"
        assert _web(engine, "t-rc") == ["t-rc-web-1"]
        log = _cli(d, "-p", "t-rc", "exec", "-T", "web", "cat", "/data/log")
        assert log.stdout.split() == ["run", "run"], log.stderr  # the volume's data from the first run
        addr = _cli(d, "-p", "t-rc", "exec", "-T", "web", "ip", "-4", "addr", "show", "eth0").stdout
        assert "172.30.91.5/" in addr
        hosts = _cli(d, "-p", "t-rc", "exec", "-T", "peer", "cat", "/etc/hosts").stdout
        assert "172.30.91.5\t" in hosts and " t-rc-web-1" in hosts and "_t-rc-web-1" not in hosts
        _anonymous_owned(engine)
        assert len(engine.volumes.list()) == 1
    finally:
        assert _cli(d, "-p", "t-rc", "down", "-v", "-t", "0").returncode == 0
    assert engine.containers.list(all=True) == [] and engine.volumes.list() == []


def test_a_recreate_whose_create_fails_leaves_the_old_container_running(
    engine: Engine, tmp_path: Path
) -> None:
    d = _project(tmp_path, "1")
    try:
        assert _cli(d, "-p", "t-rf", "up", "-d").returncode == 0
        old = engine.containers.get("t-rf-web-1")
        bad = COMPOSE.replace("volumes: [/data]", "volumes: [/data]\n    devices: [/dev/t-rf-none]")
        (d / "compose.yaml").write_text(bad)
        r = _cli(d, "-p", "t-rf", "up", "-d")
        assert r.returncode != 0 and "/dev/t-rf-none does not exist" in r.stderr, r.stderr
        assert _web(engine, "t-rf") == ["t-rf-web-1"]
        again = engine.containers.get("t-rf-web-1")
        assert again.id == old.id and again.status == "running"
        _anonymous_owned(engine)
    finally:
        r = _cli(d, "-p", "t-rf", "down", "-v", "-t", "0")
    assert r.returncode == 0, r.stderr
    assert engine.containers.list(all=True) == [] and engine.volumes.list() == []


@pytest.mark.parametrize(
    "step",
    [
        "after runtime.containers.ContainerManager.stop",  # the old one stopped, nothing made
        # the new one half made (its address handed over, its row without its bundle)
        "after runtime.network.manager.NetworkManager.setup_container",
        "after runtime.containers.ContainerManager.create",  # both, the new one under its temp name
        "after runtime.containers.ContainerManager.remove",  # the new one alone, under its temp name
        "before runtime.cgroups.Cgroup.remove",  # the old one's removal cut after its network's teardown
        "after runtime.containers.ContainerManager.rename",  # renamed, not started
        # renamed in the state, the hosts files not yet: they named it by its temporary name
        "before runtime.network.manager.NetworkManager.refresh_hosts",
    ],
)
def test_a_kill_of_a_recreating_up_leaves_what_up_converges_and_down_v_removes(
    engine: Engine, tmp_path: Path, step: str
) -> None:
    d = _project(tmp_path, "1")
    try:
        assert _cli(d, "-p", "t-rk", "up", "-d").returncode == 0
        _project(tmp_path, "2")
        proc = subprocess.run([sys.executable, "-c", KILLED_UP, step, "-p", "t-rk", "up", "-d"], cwd=d,
                              capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
        assert proc.returncode == -signal.SIGKILL, proc.stderr
        _anonymous_owned(engine)
        assert len(engine.volumes.list()) == 1
        r = _cli(d, "-p", "t-rk", "up", "-d")
        assert r.returncode == 0, r.stderr
        assert _web(engine, "t-rk") == ["t-rk-web-1"]
        web = engine.containers.get("t-rk-web-1")
        assert web.status == "running" and web.spec is not None and ("V", "2") in web.spec.env.items()
        log = _cli(d, "-p", "t-rk", "exec", "-T", "web", "cat", "/data/log").stdout.split()
        assert log[0] == "run" and len(log) >= 2  # the first run's line: the same volume
        assert "172.30.91.5/" in _cli(d, "-p", "t-rk", "exec", "-T", "web", "ip", "-4", "addr").stdout
        for svc in ("web", "peer"):  # its name, not the temporary one, in its own and its peer's
            hosts = _cli(d, "-p", "t-rk", "exec", "-T", svc, "cat", "/etc/hosts").stdout
            assert "172.30.91.5\t" in hosts and " t-rk-web-1" in hosts and "_t-rk-web-1" not in hosts, hosts
        _anonymous_owned(engine)
        assert len(engine.volumes.list()) == 1
        again = _cli(d, "-p", "t-rk", "up", "-d")  # converged: nothing more to do
        assert "Recreate" not in again.stderr and engine.containers.get("t-rk-web-1").id == web.id
    finally:
        r = _cli(d, "-p", "t-rk", "down", "-v", "-t", "0")
    assert r.returncode == 0, r.stderr
    assert engine.containers.list(all=True) == [] and engine.volumes.list() == []


def test_up_of_the_old_config_after_a_kill_amid_the_old_ones_removal_replaces_it(
    engine: Engine, tmp_path: Path
) -> None:
    """A recreate killed in the old container's removal after its network's teardown; the next up
    has the old config again (the change undone): it kept the old container, the one of the
    file's config, and its start failed ('cannot join the network namespace ...: setns: Invalid
    argument'). Without its network it is no more whole than one without its bundle: replaced."""
    d = _project(tmp_path, "1")
    try:
        assert _cli(d, "-p", "t-ro", "up", "-d").returncode == 0
        _project(tmp_path, "2")
        proc = subprocess.run([sys.executable, "-c", KILLED_UP, "before runtime.cgroups.Cgroup.remove",
                               "-p", "t-ro", "up", "-d"], cwd=d, capture_output=True, text=True,
                              env={**os.environ, "PYTHONPATH": str(REPO)})
        assert proc.returncode == -signal.SIGKILL, proc.stderr
        _project(tmp_path, "1")
        r = _cli(d, "-p", "t-ro", "up", "-d")
        assert r.returncode == 0, r.stderr
        assert _web(engine, "t-ro") == ["t-ro-web-1"]
        web = engine.containers.get("t-ro-web-1")
        assert web.status == "running" and web.spec is not None and ("V", "1") in web.spec.env.items()
        assert "172.30.91.5/" in _cli(d, "-p", "t-ro", "exec", "-T", "web", "ip", "-4", "addr").stdout
        _anonymous_owned(engine)
    finally:
        r = _cli(d, "-p", "t-ro", "down", "-v", "-t", "0")
    assert r.returncode == 0, r.stderr
    assert engine.containers.list(all=True) == [] and engine.volumes.list() == []


def test_down_v_after_a_kill_between_create_and_removal_removes_both_and_the_volume(
    engine: Engine, tmp_path: Path
) -> None:
    d = _project(tmp_path, "1")
    assert _cli(d, "-p", "t-rd", "up", "-d").returncode == 0
    _project(tmp_path, "2")
    step = "after runtime.containers.ContainerManager.create"
    proc = subprocess.run([sys.executable, "-c", KILLED_UP, step, "-p", "t-rd", "up", "-d"], cwd=d,
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert len(_web(engine, "t-rd")) == 2  # the old one and its successor under the temp name
    r = _cli(d, "-p", "t-rd", "down", "-v", "-t", "0")
    assert r.returncode == 0, r.stderr
    assert engine.containers.list(all=True) == [] and engine.volumes.list() == []


def test_container_rename_and_its_errors(engine: Engine, tmp_path: Path) -> None:
    for name in ("t-rn-a", "t-rn-b"):  # on the default network: each in the other's hosts file
        r = _cli(tmp_path, "container", "run", "-d", "--name", name, "-l", "k=v", IMAGE, "sleep", "100")
        assert r.returncode == 0, r.stderr
    a = engine.containers.get("t-rn-a")
    labels = a.labels

    r = _cli(tmp_path, "container", "rename", "t-rn-a", "t-rn-c")
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
    c = engine.containers.get("t-rn-c")
    assert c.id == a.id and c.status == "running" and c.labels == labels
    hosts = _cli(tmp_path, "container", "exec", "t-rn-c", "cat", "/etc/hosts").stdout
    assert " t-rn-c\n" in hosts and "t-rn-a" not in hosts
    peer = (Path(engine.paths.container_run(engine.containers.get("t-rn-b").id)) / "hosts").read_text()
    assert "t-rn-c" in peer.split() and "t-rn-a" not in peer  # what a peer resolves
    time.sleep(1)  # --until 0s is now in whole seconds
    events = _cli(tmp_path, "container", "events", "--since", "1m", "--until", "0s", "--format", "json")
    renamed = [e for e in map(json.loads, events.stdout.splitlines()) if e["Action"] == "rename"]
    assert renamed, (events.stdout, events.stderr)
    assert renamed[0]["Actor"]["Attributes"]["oldName"] == "/t-rn-a"
    assert renamed[0]["Actor"]["Attributes"]["name"] == "t-rn-c"

    def fails(old: str, new: str, daemon: str) -> None:
        r = _cli(tmp_path, "container", "rename", old, new)
        assert r.returncode == 1
        failed = f"Error: failed to rename container named {old}\n"
        assert r.stderr == f"Error response from daemon: {daemon}\n{failed}"

    fails("t-rn-a", "t-rn-d", "No such container: t-rn-a")
    b = engine.containers.get("t-rn-b")
    fails("t-rn-c", "t-rn-b", 'Error when allocating new name: Conflict. The container name "/t-rn-b" is '
          f'already in use by container "{b.id}". You have to remove (or rename) that container to be able '
          "to reuse that name.")
    fails("t-rn-c", "t-rn-c", "Renaming a container with the same name as its current name")
    fails("t-rn-c", "bad name", "Error when allocating new name: Invalid container name (bad name), only "
          "[a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
    fails("t-rn-c", "", "Neither old nor new names may be empty")
    assert sorted(x.name for x in engine.containers.list(all=True)) == ["t-rn-b", "t-rn-c"]
