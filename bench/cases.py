"""The benchmarks, in the order `make bench` runs them. Each returns Results and Notes, or raises
Skip naming what is missing. The number is the case's item in the issue."""

from __future__ import annotations

from collections.abc import Callable

from bench import compose, containers, netsetup, startup, state
from bench.harness import Item, Skip

Case = Callable[[], list[Item]]

ALL: list[Case] = [
    startup.cli_startup,  # 1
    startup.import_costs,  # 1: why start-up costs what it does
    startup.config_200,  # 2
    containers.start_latency,  # 3
    containers.monitor_startup,  # 3: why a start costs what it does
    containers.monitor_memory,  # 4
    containers.monitor_fork_server,  # 4: what a fork server would give
    containers.network_setup,  # 5
    netsetup.network_setup_inproc,  # 5: the same without the CLI around it
    containers.http_first_byte,  # 5
    state.state_contention,  # 6: why parallel creates wait
    compose.compose_lifecycle,  # 6
]

__all__ = ["ALL", "Case", "Skip"]
