"""No bridge outlives its network when commands race: a bridge is made only by one that saw its
network's row holding the bridges lock, and a removal deletes it after taking that lock
(NetworkManager._bridge_gone). Before, a `network rm` (or `down`'s removal, a prune) that
deleted the row while a create or a set-up that had read it was still making the bridge found no
bridge to delete, and the bridge was made anyway, for a network no state knew: an orphan `cm<id>`
link on the host (the CI leak check found one after two full runs)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from runtime.network import NetworkManager, links
from runtime.spec import ContainerSpec, NetworkAttachment, NetworkSpec

from .conftest import links as host_links

pytestmark = pytest.mark.privileged
REPO = Path(__file__).resolve().parents[3]

CHILD = """
import sys, time
from pathlib import Path
from runtime.errors import EngineError
from runtime.network import NetworkManager
from runtime.paths import Paths
from runtime.spec import NetworkSpec
from runtime.state import Store
root, run, verb, secs = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], float(sys.argv[4])
m = NetworkManager(Paths(root=str(root), rundir=str(run)), Store(root / "state.db"))
done, end = 0, time.monotonic() + secs
while time.monotonic() < end:
    try:
        m.create(NetworkSpec(name="race_default")) if verb == "create" else m.remove("race_default")
        done += 1
    except EngineError:
        pass
print(done)
"""


def _tagged(manager: NetworkManager) -> list[str]:
    """The host links this engine made (their alias names its nft table: links.owner_alias)."""
    return [name for name in os.listdir("/sys/class/net") if links.owner_of(name) == manager.table]


def _none_left(manager: NetworkManager) -> list[str]:
    for _ in range(100):  # a veth goes with its namespace, which the kernel destroys asynchronously
        left = _tagged(manager)
        if not left:
            break
        time.sleep(0.02)
    return left


def test_network_rm_beside_network_create_leaves_no_bridge(manager: NetworkManager) -> None:
    """Processes create and remove one network as fast as they can for a few seconds (without
    the lock, 30-100 orphan bridges in 5 s here; the kernel's bridge creation waits on the RTNL
    lock behind the deletions, which gives a removal 10-50 ms to slip in)."""
    root, run = manager.paths.root, manager.paths.rundir
    procs = [subprocess.Popen([sys.executable, "-c", CHILD, str(root), str(run), verb, "3"],
                              cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for verb in ("create", "create", "remove", "remove", "remove")]
    outs = [p.communicate(timeout=60) for p in procs]
    assert all(p.returncode == 0 for p in procs), [e for _, e in outs]
    created, removed = sum(int(outs[i][0]) for i in (0, 1)), sum(int(outs[i][0]) for i in (2, 3, 4))
    assert created > 20 and removed > 20, (created, removed)  # they did race
    if manager.list():
        manager.remove("race_default")
    assert _none_left(manager) == []


def test_a_set_up_that_read_the_network_before_its_removal_makes_no_bridge(
        manager: NetworkManager, monkeypatch: pytest.MonkeyPatch) -> None:
    """A start (ensure_attached) read its network's record, then another command removed the
    container and the network (`rm -f`, `network rm`): the bridge it finds missing is not made."""
    a = "a" * 64
    info = manager.create(NetworkSpec(name="rd_default"))
    manager.setup_container(a, ContainerSpec(name="rd-a-1", image="i",
                                             networks=(NetworkAttachment(network="rd_default"),)))
    assert manager.drop_bridge("rd_default", {a})  # a `down` went ahead of the removal
    real = manager._net_doc

    def read_then_removed(name: str) -> dict[str, object]:
        doc = real(name)
        manager.teardown_container(a)  # the other command, between the read and the look
        manager.remove("rd_default")
        return doc

    monkeypatch.setattr(manager, "_net_doc", read_then_removed)
    manager.ensure_attached(a)
    assert info.bridge not in host_links()
    assert _none_left(manager) == []

