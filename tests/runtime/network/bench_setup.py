"""Per-container network setup time (target <= 10 ms): `python -m tests.runtime.network.bench_setup`.

Times NetworkManager.setup_container for containers on one bridge network (veth with the peer made
inside a fresh pinned netns, one address, default route, hosts files of all peers), and teardown.
`network_setup()` returns bench.harness Results so bench/cases.py can list it in ALL.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from runtime.network import NetworkManager
from runtime.paths import Paths
from runtime.spec import ContainerSpec, NetworkAttachment, NetworkSpec
from runtime.state import Store


def measure(n: int = 20) -> tuple[list[float], list[float]]:
    with tempfile.TemporaryDirectory() as d:
        paths = Paths(root=str(Path(d) / "root"), rundir=str(Path(d) / "run"))
        store = Store(paths.db)
        m = NetworkManager(paths, store)
        m.create(NetworkSpec(name="bench_default"))
        ids = [f"{i:064x}" for i in range(n + 1)]
        setup, teardown = [], []
        try:
            for i, cid in enumerate(ids):
                spec = ContainerSpec(name=f"bench-web-{i}", image="i", networks=(
                    NetworkAttachment(network="bench_default", aliases=("web",)),))
                t0 = time.perf_counter()
                m.setup_container(cid, spec)
                if i:  # the first one pays for importing pyroute2
                    setup.append((time.perf_counter() - t0) * 1000)
            for cid in ids[1:]:
                t0 = time.perf_counter()
                m.teardown_container(cid)
                teardown.append((time.perf_counter() - t0) * 1000)
        finally:
            for cid in ids:
                m.teardown_container(cid)
            m.remove("bench_default")
            store.close()
    return setup, teardown


def network_setup() -> list[object]:
    from bench.harness import summarize

    setup, teardown = measure()
    return [summarize("network setup per container", "composer", setup, "target <= 10 ms"),
            summarize("network teardown per ctr", "composer", teardown)]


if __name__ == "__main__":
    s, t = measure()
    print(f"setup    median {statistics.median(s):.1f} ms  min {min(s):.1f} ms  (n={len(s)})")
    print(f"teardown median {statistics.median(t):.1f} ms  min {min(t):.1f} ms")
