"""Case 5, in process: the runtime's per-container network set-up and teardown timed around the
calls themselves (`NetworkManager.setup_container` / `teardown_container`), without the CLI's
start-up noise that swamps a 10 ms difference between two 250 ms commands; and podman's
per-container network cost beside it (`podman run --rm` on a bridge network minus `--network
none`, a private podman as bench/compose.py makes it) when podman can make a bridge network here.

Uses the default store, a network of its own (`bench-np-<pid>`) and made-up container ids that
no container row refers to; everything is torn down in a finally, and the case fails if a netns
pin or a run dir of its ids is left behind.
"""

from __future__ import annotations

import os
import secrets
import statistics
import subprocess
import time
from collections.abc import Callable

from bench.common import IMAGE
from bench.harness import Item, Note, Result, Run, Skip, free_port, have, run_once

RUNS = 20
PODMAN_RUNS = 7


def _result(name: str, walls: list[float], cpus: list[float], target: float | None = None,
            note: str = "in process") -> Result:
    return Result(name, "composer", len(walls), statistics.median(walls), min(walls), "ms",
                  statistics.median(cpus), target, note)


def network_setup_inproc() -> list[Item]:
    from runtime.engine import Engine
    from runtime.spec import ContainerSpec, NetworkAttachment, NetworkSpec, PortMapping

    engine = Engine()
    net = f"bench-np-{os.getpid()}"
    engine.networks.create(NetworkSpec(name=net))
    live: list[str] = []
    made: list[str] = []
    # kind -> (set-up wall, set-up cpu, teardown wall, teardown cpu), ms
    samples: dict[str, tuple[list[float], list[float], list[float], list[float]]] = {}
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
                live.append(cid)
                made.append(cid)
                t0, c0 = time.perf_counter(), time.process_time()
                engine.networks.setup_container(cid, spec)
                t1, c1 = time.perf_counter(), time.process_time()
                engine.networks.teardown_container(cid)
                t2, c2 = time.perf_counter(), time.process_time()
                live.remove(cid)
                s = samples.setdefault(kind, ([], [], [], []))
                s[0].append((t1 - t0) * 1000)
                s[1].append((c1 - c0) * 1000)
                s[2].append((t2 - t1) * 1000)
                s[3].append((c2 - c1) * 1000)
    finally:
        for cid in live:
            engine.networks.teardown_container(cid)
        engine.networks.remove(net)
        left = [c for c in made
                if os.path.exists(engine.paths.container_run(c)) or os.path.exists(engine.paths.netns(c))]
        engine.close()
    if left:
        raise RuntimeError(f"network_setup_inproc: {len(left)} run dirs or netns pins left behind")
    out: list[Item] = []
    for kind, (up, up_cpu, down, down_cpu) in samples.items():
        target = 10.0 if kind != "none" else None
        out.append(_result(f"netns: set-up, {kind}", up, up_cpu, target))
        out.append(_result(f"netns: teardown, {kind}", down, down_cpu))
    both = [a + b for a, b in zip(samples["bridge"][0], samples["bridge"][2], strict=True)]
    none = [a + b for a, b in zip(samples["none"][0], samples["none"][2], strict=True)]
    diff = statistics.median(both) - statistics.median(none)
    out.append(_result("netns: bridge set-up + teardown - none", [diff], [0.0],
                       note="in process; compare podman's row"))
    extra = statistics.median(samples["bridge"][0]) - statistics.median(samples["none"][0])
    out.append(
        Note(f"netns: a bridge attachment adds {extra:.1f} ms to a netns with lo only (medians, in process)")
    )
    out.extend(_podman())
    return out


def _podman() -> list[Item]:
    """podman's network cost per container: `run --rm` on a bridge network minus `--network none`
    (netavark's set-up and teardown, and its firewall rules), interleaved, wall and CPU."""
    if not have("podman"):
        return [Note("netns: podman skipped: podman is not installed")]
    from bench.compose import private_podman

    net = f"bench-np-podman-{os.getpid()}"
    try:
        with private_podman() as env:
            made = subprocess.run(["podman", "network", "create", net], env=env, capture_output=True,
                                  text=True, timeout=60)
            if made.returncode != 0:
                raise Skip(f"podman cannot create a bridge network here: {made.stderr.strip()[-160:]}")
            by: dict[str, list[Run]] = {"none": [], net: []}
            try:
                for _ in range(PODMAN_RUNS):
                    for mode in by:
                        argv = ["podman", "run", "--rm", "--network", mode, IMAGE, "true"]
                        try:
                            by[mode].append(run_once(argv, env=env))
                        except subprocess.CalledProcessError as exc:
                            err = (exc.stderr or b"").decode(errors="replace").strip().splitlines()
                            raise Skip(f"podman run --network {mode} failed here: "
                                       f"{err[-1] if err else exc.returncode}") from None
            finally:
                subprocess.run(["podman", "network", "rm", "-f", net], env=env, capture_output=True,
                               timeout=60)
    except Skip as why:
        return [Note(f"netns: podman skipped: {why}")]
    med = {m: statistics.median(r.wall_ms for r in runs) for m, runs in by.items()}
    cpu = {m: statistics.median(r.cpu_ms for r in runs) for m, runs in by.items()}
    return [
        Result("netns: bridge set-up + teardown - none", "podman", PODMAN_RUNS, med[net] - med["none"],
               min(r.wall_ms for r in by[net]) - min(r.wall_ms for r in by["none"]), "ms",
               cpu[net] - cpu["none"], None, "run --rm bridge minus none (netavark)"),
        Note(f"netns: podman run --rm true: {med['none']:.0f} ms with --network none, "
             f"{med[net]:.0f} ms on a bridge network (medians of {PODMAN_RUNS})"),
    ]


ALL = [network_setup_inproc]
