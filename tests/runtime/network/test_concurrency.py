"""Several processes set up containers on one network at once: every one gets its own address
(leases are chosen and recorded under BEGIN IMMEDIATE) and every hosts file ends up complete."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from runtime.network import NetworkManager
from runtime.spec import NetworkSpec

pytestmark = pytest.mark.privileged

CHILD = """
import sys
from pathlib import Path
from runtime.network import NetworkManager
from runtime.paths import Paths
from runtime.spec import ContainerSpec, NetworkAttachment
from runtime.state import Store
root, run, n = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
m = NetworkManager(Paths(root=str(root), rundir=str(run)), Store(root / "state.db"))
for i in range(3):
    cid = f"{n:02d}{i:02d}".ljust(64, "0")
    net = m.setup_container(cid, ContainerSpec(name=f"demo-w{n}-{i}", image="i",
                            networks=(NetworkAttachment(network="demo_default", aliases=("w",)),)))
    print(net.addresses["demo_default"])
"""


def test_parallel_processes_never_share_an_address(
        manager: NetworkManager, engine_paths: tuple[Path, Path]) -> None:
    root, run = engine_paths
    manager.create(NetworkSpec(name="demo_default"))
    procs = [subprocess.Popen([sys.executable, "-c", CHILD, str(root), str(run), str(n)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for n in range(4)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [e for _, e in outs]
    addrs = [a for o, _ in outs for a in o.split()]
    assert len(addrs) == 12 and len(set(addrs)) == 12
    members = manager.get("demo_default").containers
    assert sorted(members.values()) == sorted(addrs)
    for cid in members:
        hosts = Path(manager.paths.container_run(cid), "hosts").read_text()
        # the 11 peers, and its own line: a container resolves its alias to itself too
        assert sum(1 for ln in hosts.splitlines() if " w " in f" {ln} " or ln.split()[1:2] == ["w"]) == 12


def test_parallel_threads_in_one_process(manager: NetworkManager) -> None:
    """As `up` does it: trio worker threads calling setup_container at once."""
    from concurrent.futures import ThreadPoolExecutor

    from runtime.spec import ContainerSpec, NetworkAttachment

    manager.create(NetworkSpec(name="demo_default"))

    def one(i: int) -> str:
        att = NetworkAttachment(network="demo_default", aliases=("t",))
        spec = ContainerSpec(name=f"demo-t-{i}", image="i", networks=(att,))
        net = manager.setup_container(f"{i:064x}", spec)
        return net.addresses["demo_default"]

    with ThreadPoolExecutor(8) as pool:
        addrs = list(pool.map(one, range(16)))
    assert len(set(addrs)) == 16
    for i in range(16):
        hosts = Path(manager.paths.container_run(f"{i:064x}"), "hosts").read_text().splitlines()
        assert sum(1 for ln in hosts if ln.split()[1:2] == ["t"]) == 15
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: manager.teardown_container(f"{i:064x}"), range(16)))
    assert manager.get("demo_default").containers == {}
