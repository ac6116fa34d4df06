"""A container's network namespace pinned ahead of its set-up (NetworkManager.pin_ahead, started by
the create as soon as its row exists): the set-up takes that pin; a create that fails first, or a
set-up that fails, leaves no pin and no helper thread; another command's repair leaves a pin made
ahead alone while its container row exists; a create killed at any of the new steps leaves what
the container's removal takes away. Real namespaces, bridges and containers."""

from __future__ import annotations

import _thread
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from runtime.engine import Engine
from runtime.errors import InvalidSpec, NetworkError
from runtime.network import NetworkManager, netns
from runtime.network.manager import CONTAINER
from runtime.spec import ContainerSpec, NetworkAttachment, NetworkSpec
from tests.killpoint import DIE_AT

pytestmark = pytest.mark.privileged
IMAGE = "localhost/busybox:latest"
REPO = Path(__file__).resolve().parents[3]
C = "c" * 64


def _pins(rundir: str) -> list[str]:
    pins = os.path.join(rundir, "netns")
    return sorted(os.listdir(pins)) if os.path.exists(pins) else []


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _net(name: str) -> tuple[NetworkAttachment, ...]:
    return (NetworkAttachment(network=name),)


def test_the_set_up_takes_the_pin_made_ahead(manager: NetworkManager) -> None:
    manager.create(NetworkSpec(name="demo_default"))
    spec = ContainerSpec(name="demo-1", image="i", networks=_net("demo_default"))
    ahead = manager.pin_ahead(C, spec)
    assert ahead is not None
    net = manager.setup_container(C, spec, ahead=ahead)
    assert net.netns_path == str(ahead.pin) and netns.is_pinned(ahead.pin)
    addrs = subprocess.run(["nsenter", f"--net={ahead.pin}", "ip", "-o", "-4", "addr", "show", "eth0"],
                           capture_output=True, text=True, check=True).stdout
    assert f"inet {net.addresses['demo_default']}/" in addrs
    routes = subprocess.run(["nsenter", f"--net={ahead.pin}", "ip", "route"], capture_output=True,
                            text=True, check=True).stdout
    assert "default via" in routes
    ahead.discard()  # the undo of a later step of the create: the pin is the set-up's now
    assert netns.is_pinned(ahead.pin)
    manager.teardown_container(C)
    assert _pins(manager.paths.rundir) == []


def test_no_pin_ahead_where_the_container_has_no_namespace_of_its_own(manager: NetworkManager) -> None:
    assert manager.pin_ahead(C, ContainerSpec(name="h", image="i", network_mode="host")) is None
    assert manager.pin_ahead(C, ContainerSpec(name="j", image="i", network_mode="container:x")) is None
    ahead = manager.pin_ahead(C, ContainerSpec(name="n", image="i", network_mode="none"))
    assert ahead is not None
    ahead.discard()
    assert _pins(manager.paths.rundir) == []


def test_a_set_up_that_fails_removes_the_pin_made_ahead(manager: NetworkManager) -> None:
    manager.store.read()  # the state's connection, before the fds are counted
    threads, fds = _thread._count(), _fds()
    spec = ContainerSpec(name="demo-1", image="i", networks=_net("nosuch"))
    ahead = manager.pin_ahead(C, spec)
    with pytest.raises(NetworkError, match="network nosuch not found"):
        manager.setup_container(C, spec, ahead=ahead)
    assert _pins(manager.paths.rundir) == []
    assert (_thread._count(), _fds()) == (threads, fds)  # no thread, no handle on the namespace


def test_repair_leaves_a_pin_made_ahead_while_its_container_row_exists(manager: NetworkManager) -> None:
    with manager.store.transaction() as tx:
        tx.put(CONTAINER, C, {"name": "demo-1"})  # the create's row, written before pin_ahead
    ahead = manager.pin_ahead(C, ContainerSpec(name="demo-1", image="i", network_mode="none"))
    assert ahead is not None
    ahead.take().close()  # pinned, no set-up record yet: a create in progress
    assert manager.repair() == []
    assert netns.is_pinned(ahead.pin)
    with manager.store.transaction() as tx:
        tx.delete(CONTAINER, C)  # no row, no record: a leftover
    manager.repair()
    assert _pins(manager.paths.rundir) == []


def test_a_create_that_fails_before_its_network_set_up_leaves_no_pin(engine: Engine) -> None:
    engine.containers.create(ContainerSpec(name="t-pa-warm", image=IMAGE, command=("true",)))
    engine.containers.remove("t-pa-warm")  # what a create opens once per process, before counting
    threads, fds = _thread._count(), _fds()
    with pytest.raises(InvalidSpec, match="unable to find user nosuchuser"):
        engine.containers.create(ContainerSpec(name="t-pa-user", image=IMAGE, user="nosuchuser"))
    assert _pins(engine.paths.rundir) == []
    assert (_thread._count(), _fds()) == (threads, fds)
    assert engine.containers.list(all=True) == []


KILLED = DIE_AT + textwrap.dedent("""
    from pathlib import Path
    from runtime.engine import Engine
    from runtime.paths import Paths
    from runtime.spec import ContainerSpec, NetworkAttachment

    die_at(sys.argv[3])
    eng = Engine(Paths(root=sys.argv[1], rundir=sys.argv[2]))
    eng.containers.create(ContainerSpec(name="t-pa-kill", image="localhost/busybox:latest",
                                        command=("sleep", "100"),
                                        networks=(NetworkAttachment(network="t-pa-net"),)))
""")


@pytest.mark.parametrize("step", [
    "after runtime.network.manager.NetworkManager.pin_ahead",  # its thread started, pinning
    "after runtime.network.netns._pin_here",                    # pinned, no set-up record yet
    "after runtime.network.netns.Pinning.take",                 # taken, not plugged
])
def test_a_create_killed_at_its_pin_ahead_leaves_what_its_removal_takes(
    engine: Engine, engine_paths: tuple[Path, Path], step: str
) -> None:
    from runtime.network.links import link_exists
    from runtime.network.manager import host_veth

    engine.networks.create(NetworkSpec(name="t-pa-net", dns_enabled=False))
    root, run = engine_paths
    proc = subprocess.run([sys.executable, "-c", KILLED, str(root), str(run), step], cwd=REPO,
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    (left,) = engine.containers.list(all=True)  # the create's row: a created container
    assert engine.networks.repair() == []  # another command meanwhile: the pin stays the row's
    if step.endswith("_pin_here"):
        assert netns.is_pinned(engine.paths.netns(left.id))
    engine.containers.remove(left.id, force=True)
    assert _pins(run) == []
    assert not link_exists(host_veth(left.id, "t-pa-net"))
    again = engine.containers.create(ContainerSpec(name="t-pa-kill", image=IMAGE, command=("true",),
                                                   networks=_net("t-pa-net")))
    engine.containers.remove(again.id, force=True)
