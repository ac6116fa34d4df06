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
m = NetworkManager(Paths(root=root, rundir=run), Store(root / "state.db"))
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
        hosts = Path(manager.paths.container_run(cid) / "hosts").read_text()
        assert sum(1 for ln in hosts.splitlines() if " w " in f" {ln} " or ln.split()[1:2] == ["w"]) == 11
