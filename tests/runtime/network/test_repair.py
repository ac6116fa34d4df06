"""Repair after a crash, for real: a process that sets up container networks is SIGKILLed at
arbitrary points; the next command (network rm, a set-up that needs the same address) repairs
the records, leases and netns pins it left, so nothing blocks and nothing remains. And teardown
removes the run-dir files that set-up wrote."""

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

from runtime.errors import Conflict
from runtime.network import NetworkManager
from runtime.network.manager import CONTAINER, CTR, IP
from runtime.spec import ContainerSpec, NetworkAttachment, NetworkSpec, PortMapping

from .conftest import free_port

pytestmark = pytest.mark.privileged

A, B = "a" * 64, "b" * 64

CHILD = textwrap.dedent("""
    import secrets, sys, socket
    from pathlib import Path
    from runtime.network import NetworkManager
    from runtime.paths import Paths
    from runtime.state import Store
    from runtime.spec import ContainerSpec, NetworkAttachment, PortMapping

    root, run, net, port, churn = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
    m = NetworkManager(Paths(root=str(root), rundir=str(run)), Store(Path(root) / "state.db"))
    spec = ContainerSpec(name="crash-1", image="i", networks=(NetworkAttachment(network=net),),
                         ports=(PortMapping(container_port=80, host_port=port),))
    m.setup_container("c" * 64, spec)
    print("ready", flush=True)
    while churn == "churn":  # set-ups and teardowns until killed: the kill lands anywhere in them
        cid = secrets.token_hex(32)
        m.setup_container(cid, ContainerSpec(name="churn", image="i",
                                             networks=(NetworkAttachment(network=net),)))
        m.teardown_container(cid)
    sys.stdin.read()
""")


def _child(manager: NetworkManager, net: str, port: int, churn: bool) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(manager.paths.root), str(manager.paths.rundir), net, str(port),
         "churn" if churn else "hold"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def _kill(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    for f in (proc.stdin, proc.stdout):
        if f is not None:
            f.close()


def _nothing_left(manager: NetworkManager) -> None:
    tx = manager.store.read()
    assert tx.list(CTR) == [], "container records left"
    assert tx.list(IP) == [], "address leases left"
    pins = Path(manager.paths.netns("x")).parent
    assert not pins.exists() or os.listdir(pins) == [], "netns pins left"
    runs = Path(manager.paths.container_run("x")).parent
    assert not runs.exists() or os.listdir(runs) == [], "run dirs left"


def test_network_rm_repairs_what_a_killed_process_left(manager: NetworkManager) -> None:
    manager.create(NetworkSpec(name="demo_default"))
    port = free_port()
    child = _child(manager, "demo_default", port, churn=False)
    assert child.stdout is not None and child.stdout.readline().strip() == "ready"
    with pytest.raises(Conflict, match="in use by container crash-1"):
        manager.remove("demo_default")  # its owner lives: a set-up in progress, not a leftover
    _kill(child)
    manager.remove("demo_default")
    _nothing_left(manager)


def test_sigkill_at_any_point_of_setup_or_teardown_is_repaired(manager: NetworkManager) -> None:
    manager.create(NetworkSpec(name="demo_default"))
    for delay in (0.0, 0.003, 0.007, 0.012, 0.02, 0.035, 0.06, 0.1):
        child = _child(manager, "demo_default", free_port(), churn=True)
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        time.sleep(delay)
        _kill(child)
        manager.repair()
        _nothing_left(manager)
    manager.remove("demo_default")


def test_a_live_owner_or_a_container_row_keeps_the_record(manager: NetworkManager) -> None:
    manager.create(NetworkSpec(name="demo_default"))
    spec = ContainerSpec(name="demo-web-1", image="i", networks=(NetworkAttachment(network="demo_default"),))
    manager.setup_container(A, spec)  # owned by this (live) process: kept
    assert manager.repair() == []
    manager.setup_container(B, spec)
    with manager.store.transaction() as tx:
        doc = tx.get(CTR, B)
        assert doc is not None
        doc["owner"] = [2**22 + 1, "1"]  # a dead process (beyond pid_max)
        tx.put(CTR, B, doc)
        tx.put(CONTAINER, B, {"name": "demo-web-2"})  # but its container row exists: kept
    assert manager.repair() == []
    with manager.store.transaction() as tx:
        tx.delete(CONTAINER, B)
    assert manager.repair() == [B]
    with pytest.raises(Conflict, match="demo-web-1"):
        manager.remove("demo_default")
    manager.teardown_container(A)
    manager.remove("demo_default")
    _nothing_left(manager)


def test_a_leftover_holding_a_static_address_and_port_is_repaired_at_setup(manager: NetworkManager) -> None:
    manager.create(NetworkSpec(name="demo_default"))
    port = free_port()
    child = _child(manager, "demo_default", port, churn=False)
    assert child.stdout is not None and child.stdout.readline().strip() == "ready"
    _kill(child)
    taken = manager.store.read().get(CTR, "c" * 64)
    assert taken is not None
    ip = taken["attachments"][0]["ipv4"]
    spec = ContainerSpec(name="demo-web-1", image="i",
                         networks=(NetworkAttachment(network="demo_default", ipv4_address=ip),),
                         ports=(PortMapping(container_port=80, host_port=port),))
    net = manager.setup_container(A, spec)
    assert net.addresses == {"demo_default": ip}
    assert [h for _, h in net.ports] == [port]
    manager.teardown_container(A)
    manager.remove("demo_default")
    _nothing_left(manager)


def test_a_teardown_whose_element_never_came_leaves_none(manager: NetworkManager) -> None:
    """A create killed after its record named its published port but before that port's nft
    element was added: the teardown's removal of the element fails, and the table is rendered
    again from state, where the record still is until the teardown ends. That render must not
    put the element back (found by bench/killsweep.py run_d, a kill at ~60-80 ms)."""
    manager.create(NetworkSpec(name="demo_default"))
    spec = ContainerSpec(name="demo-web-1", image="i", networks=(NetworkAttachment(network="demo_default"),),
                         ports=(PortMapping(container_port=80, host_port=free_port(), host_ip="127.0.0.1"),))
    manager.setup_container(A, spec)
    assert _elements(manager, "at4")  # published
    subprocess.run(["nft", "flush", "map", "inet", manager.table, "at4"], check=True)  # never came
    manager.teardown_container(A)
    assert _elements(manager, "at4") == []
    manager.remove("demo_default")
    _nothing_left(manager)


def _elements(manager: NetworkManager, name: str) -> list[str]:
    out = subprocess.run(["nft", "list", "map", "inet", manager.table, name],
                         capture_output=True, text=True, check=True).stdout
    return [line.strip() for line in out.splitlines() if "elements" in line]


def test_teardown_removes_the_files_setup_wrote(manager: NetworkManager) -> None:
    manager.create(NetworkSpec(name="demo_default"))
    spec = ContainerSpec(name="demo-web-1", image="i", networks=(NetworkAttachment(network="demo_default"),))
    for mode_spec in (spec, ContainerSpec(name="demo-h-1", image="i", network_mode="host"),
                      ContainerSpec(name="demo-n-1", image="i", network_mode="none")):
        net = manager.setup_container(A, mode_spec)
        run = Path(net.hosts_path).parent
        assert (run / "hosts").exists() and (run / "resolv.conf").exists()
        manager.teardown_container(A)
        assert not run.exists(), f"{mode_spec.network_mode}: {os.listdir(run)}"
    # the container manager's own files stay, and so does the directory holding them
    net = manager.setup_container(A, spec)
    run = Path(net.hosts_path).parent
    (run / "state.json").write_text("{}")
    manager.teardown_container(A)
    assert sorted(os.listdir(run)) == ["state.json"]
    (run / "state.json").unlink()
    run.rmdir()
    manager.remove("demo_default")


def test_the_cli_repairs_after_a_killed_process(manager: NetworkManager) -> None:
    from tests.conftest import composer_cli

    manager.create(NetworkSpec(name="demo_default"))
    child = _child(manager, "demo_default", free_port(), churn=True)
    assert child.stdout is not None and child.stdout.readline().strip() == "ready"
    time.sleep(0.02)
    _kill(child)
    (info,) = json.loads(composer_cli("network", "inspect", "demo_default").stdout)
    assert info["Containers"] == {}
    r = composer_cli("network", "rm", "demo_default")
    assert r.returncode == 0, r.stderr
    _nothing_left(manager)


def test_a_removal_killed_before_the_bridge_went_is_finished_by_the_next_command(
        manager: NetworkManager) -> None:
    from runtime.network.manager import GONE, NET

    from .conftest import links

    info = manager.create(NetworkSpec(name="demo_default"))
    kept = manager.create(NetworkSpec(name="other_default"))
    with manager.store.transaction() as tx:  # what remove() has done when the kill lands
        tx.delete(NET, info.id)
        tx.put(GONE, info.id, {"bridge": info.bridge})
    assert info.bridge in links()
    assert manager.repair() == []
    assert info.bridge not in links() and kept.bridge in links()
    assert manager.store.read().list(GONE) == []
    table = subprocess.run(["nft", "list", "table", "inet", manager.table], capture_output=True,
                           text=True, check=True).stdout
    assert info.bridge not in table and kept.bridge in table
