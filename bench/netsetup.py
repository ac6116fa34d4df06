"""Case 5, in process: the runtime's per-container network set-up and teardown timed around the
calls themselves (`NetworkManager.setup_container` / `teardown_container`), without the CLI's
start-up noise that swamps a 10 ms difference between two 250 ms commands.

Uses the default store, a network of its own (`bench-np-<pid>`) and made-up container ids that
no container row refers to; everything is torn down in a finally.
"""

from __future__ import annotations

import os
import secrets
import statistics
import time
from collections.abc import Callable

from bench.common import IMAGE
from bench.harness import Item, Note, free_port, value

RUNS = 20


def network_setup_inproc() -> list[Item]:
    from runtime.engine import Engine
    from runtime.spec import ContainerSpec, NetworkAttachment, NetworkSpec, PortMapping

    engine = Engine()
    net = f"bench-np-{os.getpid()}"
    engine.networks.create(NetworkSpec(name=net))
    live: list[str] = []
    samples: dict[str, tuple[list[float], list[float]]] = {}
    try:
        specs: dict[str, Callable[[int], ContainerSpec]] = {
            "none": lambda i: ContainerSpec(name=f"bench-np-{i}", image=IMAGE, network_mode="none"),
            "bridge": lambda i: ContainerSpec(
                name=f"bench-np-{i}", image=IMAGE, networks=(NetworkAttachment(network=net),)
            ),
            "bridge + port": lambda i: ContainerSpec(
                name=f"bench-np-{i}",
                image=IMAGE,
                networks=(NetworkAttachment(network=net),),
                ports=(PortMapping(container_port=80, host_port=free_port(), host_ip="127.0.0.1"),),
            ),
        }
        for i in range(RUNS):
            for kind, make in specs.items():  # interleaved: every kind sees the same load
                spec, cid = make(i), secrets.token_hex(32)
                t0 = time.perf_counter()
                live.append(cid)
                engine.networks.setup_container(cid, spec)
                t1 = time.perf_counter()
                engine.networks.teardown_container(cid)
                live.remove(cid)
                t2 = time.perf_counter()
                up, down = samples.setdefault(kind, ([], []))
                up.append((t1 - t0) * 1000)
                down.append((t2 - t1) * 1000)
    finally:
        for cid in live:
            engine.networks.teardown_container(cid)
        engine.networks.remove(net)
        engine.close()
    out: list[Item] = []
    for kind, (up, down) in samples.items():
        target = 10.0 if kind == "bridge" else None
        out.append(value(f"netns: set-up, {kind}", "composer", up, "ms", target=target, note="in process"))
        out.append(value(f"netns: teardown, {kind}", "composer", down, "ms", note="in process"))
    extra = statistics.median(samples["bridge"][0]) - statistics.median(samples["none"][0])
    out.append(
        Note(f"netns: a bridge attachment adds {extra:.1f} ms to a netns with lo only (medians, in process)")
    )
    return out


ALL = [network_setup_inproc]
