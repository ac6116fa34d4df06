"""SIGKILL of a verb at a chosen point, with real containers: a child process runs the verb with one
of the runtime's steps wrapped to kill the process right after it (as a user's kill -9 of the CLI
at that moment), then the test checks that the next command tells the truth and that removing
what is left leaves nothing. The points are ones where a sweep of kills at random delays found
something left behind or untrue; the commit that added each says what."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from runtime.engine import Engine
from runtime.spec import ContainerSpec, Mount
from tests.killpoint import DIE_AT

pytestmark = pytest.mark.privileged
IMAGE = "localhost/busybox:latest"
REPO = Path(__file__).resolve().parents[2]

KILLED = DIE_AT + textwrap.dedent("""
    from pathlib import Path
    from runtime.engine import Engine
    from runtime.paths import Paths

    die_at(sys.argv[3])
    eng = Engine(Paths(root=sys.argv[1], rundir=sys.argv[2]))
    exec(sys.argv[4])
""")


def _killed_after(engine_paths: tuple[Path, Path], step: str, code: str) -> None:
    """Run *code* (with ``eng``, an Engine) in a child that SIGKILLs itself at *step*: ``after
    module.Class.method`` once it first returns, ``before ...`` instead of calling it (any dotted
    path from a module: ``before runtime.volumes.shutil.rmtree``); the step must be reached."""
    root, run = engine_paths
    proc = subprocess.run([sys.executable, "-c", KILLED, str(root), str(run), step, code], cwd=REPO,
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == -signal.SIGKILL, proc.stderr


@pytest.mark.parametrize(
    "step",
    [
        "after runtime.volumes.VolumeManager._remove_dir",  # its data gone, its row not yet
        "after runtime.containers.ContainerManager._delete_row",  # the container's row gone
    ],
)
def test_a_kill_of_rm_v_leaves_no_anonymous_volume_once_rm_is_done_again(
    engine: Engine, engine_paths: tuple[Path, Path], step: str
) -> None:
    spec = ContainerSpec(name="t-kp-rmv", image=IMAGE, command=("sleep", "100"), network_mode="none",
                         mounts=(Mount(type="volume", target="/v"),))
    c = engine.containers.create(spec)
    engine.containers.start(c.id)
    assert len(engine.volumes.list()) == 1
    _killed_after(engine_paths, step, "eng.containers.remove('t-kp-rmv', force=True, volumes=True)")
    left = engine.containers.list(all=True)
    assert [x.status for x in left] in ([], ["exited"], ["dead"]), left
    for x in left:
        engine.containers.remove(x.id, force=True, volumes=True)
    assert engine.volumes.list() == []
    vdir = Path(engine.paths.root) / "volumes"
    assert not vdir.exists() or list(vdir.iterdir()) == []


def test_a_kill_of_volume_rm_while_it_deletes_the_data_leaves_the_name_free_and_no_data(
    engine: Engine, engine_paths: tuple[Path, Path]
) -> None:
    from runtime.spec import VolumeSpec

    vol = engine.volumes.create(VolumeSpec(name="t-kp-vol"))
    (Path(vol.mountpoint) / "f").write_text("data")
    _killed_after(engine_paths, "before runtime.volumes.shutil.rmtree", "eng.volumes.remove('t-kp-vol')")
    for v in engine.volumes.list():  # what the next command lists, rm removes
        engine.volumes.remove(v.name)
    again = engine.volumes.create(VolumeSpec(name="t-kp-vol"))  # not 'exists and is not empty'
    assert list(Path(again.mountpoint).iterdir()) == []
    engine.volumes.remove("t-kp-vol")
    vdir = Path(engine.paths.root) / "volumes"
    assert not vdir.exists() or list(vdir.iterdir()) == []


def test_a_kill_of_create_amid_its_cgroup_mkdirs_leaves_no_cgroup_once_removed(
    engine: Engine, engine_paths: tuple[Path, Path]
) -> None:
    from runtime.cgroups import engine_scope

    # the engine's first container: its cgroup's parents are made too, a hierarchy at a time (on
    # v1 cpuset the kill comes after the engine's dir, before its cpus are filled in)
    _killed_after(engine_paths, "after runtime.cgroups._write", textwrap.dedent("""
        from runtime.spec import ContainerSpec
        eng.containers.create(ContainerSpec(name="t-kp-cg", image="localhost/busybox:latest",
                                            command=("sleep", "100"), network_mode="none"))
    """))
    for c in engine.containers.list(all=True):
        engine.containers.remove(c.id, force=True)
    scope = engine_scope(engine_paths[0])[0]
    assert sorted(map(str, Path("/sys/fs/cgroup").glob(f"*/composer/{scope}"))) == []


def test_a_kill_of_create_while_its_cgroup_is_made_in_the_background_leaves_none_once_removed(
    engine: Engine, engine_paths: tuple[Path, Path]
) -> None:
    from runtime.cgroups import engine_scope

    # as while the attach lock's write made ahead still waits: the mkdirs go to a thread, and the
    # kill comes once the rest is made, the mkdirs done or not (container_create.Background)
    _killed_after(engine_paths, "after runtime.container_create._seccomp", textwrap.dedent("""
        from runtime import attach_lock
        from runtime.spec import ContainerSpec
        attach_lock._busy.append(True)
        eng.containers.create(ContainerSpec(name="t-kp-bg", image="localhost/busybox:latest",
                                            command=("sleep", "100"), network_mode="none"))
    """))
    left = engine.containers.list(all=True)
    assert [c.name for c in left] == ["t-kp-bg"]  # the row came first
    for c in left:
        engine.containers.remove(c.id, force=True)
    scope = engine_scope(engine_paths[0])[0]
    assert sorted(map(str, Path("/sys/fs/cgroup").glob(f"*/composer/{scope}"))) == []


def test_a_kill_of_down_before_its_network_bridge_is_deleted_is_finished_by_down_again(
    engine: Engine, engine_paths: tuple[Path, Path]
) -> None:
    from runtime.network import links
    from runtime.spec import NetworkSpec

    labels = {"com.docker.compose.project": "t-kp-net", "com.docker.compose.network": "default"}
    engine.networks.create(NetworkSpec(name="t-kp-net_default", labels=labels))
    bridge = engine.networks.get("t-kp-net_default").bridge
    _killed_after(engine_paths, "before runtime.network.links.delete_bridge",
                  "eng.networks.remove('t-kp-net_default')")  # as down removes it
    assert links.link_exists(bridge)
    r = subprocess.run([sys.executable, "-m", "composer", "-p", "t-kp-net", "down"], cwd=REPO,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert not links.link_exists(bridge)


@pytest.mark.parametrize(
    "step",
    [
        "after runtime.network.rtnl.Rtnl.add_bridge",  # the bridge, without its address, down
        "before runtime.network.manager.NetworkManager._refresh_nft",  # no rules for it
    ],
)
def test_a_kill_of_network_create_is_finished_by_the_next_container_on_it(
    engine: Engine, engine_paths: tuple[Path, Path], step: str
) -> None:
    from runtime.network.nft import table_name
    from runtime.spec import NetworkAttachment

    _killed_after(engine_paths, step, textwrap.dedent("""
        from runtime.spec import NetworkSpec
        eng.networks.create(NetworkSpec(name="t-kp-mk"))
    """))
    net = engine.networks.get("t-kp-mk")  # what the next command lists: the network
    specs = [ContainerSpec(name=f"t-kp-mk-{i}", image=IMAGE, command=("sleep", "100"),
                           networks=(NetworkAttachment(network="t-kp-mk"),)) for i in range(3)]
    with ThreadPoolExecutor(3) as pool:  # as up sets a network's containers up: at once
        list(pool.map(lambda s: engine.containers.start(engine.containers.create(s).id), specs))
    addrs = subprocess.run(["ip", "-o", "-4", "addr", "show", "dev", net.bridge], capture_output=True,
                           text=True).stdout
    assert f"inet {net.gateways[0]}/" in addrs, addrs
    rules = subprocess.run(["nft", "list", "table", "inet", table_name(engine_paths[1])],
                           capture_output=True, text=True).stdout
    assert net.bridge in rules


@pytest.mark.parametrize(
    ("verb", "step", "truth"),
    [
        ("pause", "after runtime.cgroups.Cgroup.freeze", "paused"),  # frozen: it said running
        ("pause", "before runtime.cgroups.Cgroup.freeze", "running"),
        ("unpause", "after runtime.cgroups.Cgroup.thaw", "running"),  # thawed: it said paused
    ],
)
def test_a_kill_of_pause_or_unpause_leaves_the_freezer_state_listed_and_stop_works(
    engine: Engine, engine_paths: tuple[Path, Path], verb: str, step: str, truth: str
) -> None:
    c = engine.containers.create(ContainerSpec(name="t-kp-pz", image=IMAGE, command=("sleep", "100"),
                                               network_mode="none"))
    engine.containers.start(c.id)
    if verb == "unpause":
        engine.containers.pause(c.id)
    _killed_after(engine_paths, step, f"eng.containers.{verb}('t-kp-pz')")
    assert engine.containers.get(c.id).status == truth
    engine.containers.stop(c.id, timeout=0.5)  # a frozen one listed running: 'did not stop after SIGKILL'
    assert engine.containers.get(c.id).status == "exited"


def test_a_container_whose_cgroup_a_killed_rm_removed_starts_again(
    engine: Engine, engine_paths: tuple[Path, Path]
) -> None:
    """What up -d does with the container an rm killed after the cgroup's removal left (and what
    start meets after a reboot, which empties /sys/fs/cgroup): its cgroup is made again."""
    c = engine.containers.create(ContainerSpec(name="t-kp-cgs", image=IMAGE, command=("sleep", "100"),
                                               network_mode="none"))
    engine.containers.start(c.id)
    _killed_after(engine_paths, "after runtime.cgroups.Cgroup.remove",
                  "eng.containers.remove('t-kp-cgs', force=True)")
    assert engine.containers.get(c.id).status in ("exited", "dead")
    engine.containers.start(c.id)  # it failed: 'cannot join the cgroup: No such file or directory'
    assert engine.containers.get(c.id).status == "running"


def test_up_replaces_the_container_an_rm_killed_after_its_bundle_went_left(
    engine: Engine, engine_paths: tuple[Path, Path], tmp_path: Path
) -> None:
    """A recreating up killed in its removal of the old container: up -d again converges."""
    (tmp_path / "compose.yaml").write_text(f"services:\n  s:\n    image: {IMAGE}\n    command: sleep 100\n"
                                           "    network_mode: none\n")

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "composer", "-p", "t-kp-up", *args], cwd=tmp_path,
                              capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})

    try:
        assert cli("up", "-d").returncode == 0
        _killed_after(engine_paths, "after runtime.container_lifecycle.remove_tree",
                      "eng.containers.remove('t-kp-up-s-1', force=True)")
        assert engine.containers.get("t-kp-up-s-1").status in ("exited", "dead")
        r = cli("up", "-d")  # it started it: 'its bundle is missing or damaged'
        assert r.returncode == 0, r.stderr
        assert engine.containers.get("t-kp-up-s-1").status == "running"
    finally:
        cli("down", "-v", "-t", "0")
