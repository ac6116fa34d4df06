"""Time whole commands the way a user runs them, and print medians side by side."""

from __future__ import annotations

import shutil
import statistics
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Result:
    name: str
    tool: str
    runs: int
    median_ms: float
    min_ms: float
    note: str = ""


def time_command(argv: Sequence[str], *, runs: int, setup: Callable[[], None] | None = None,
                 teardown: Callable[[], None] | None = None, **kw: object) -> list[float]:
    """Run *argv* *runs* times; return wall times in ms. A failing run raises CalledProcessError."""
    times = []
    for _ in range(runs):
        if setup:
            setup()
        t0 = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kw)  # type: ignore[call-overload]
        times.append((time.perf_counter() - t0) * 1000)
        if teardown:
            teardown()
    return times


def summarize(name: str, tool: str, times: Sequence[float], note: str = "") -> Result:
    return Result(name, tool, len(times), statistics.median(times), min(times), note)


def have(tool: str) -> bool:
    return shutil.which(tool) is not None


def render(results: Sequence[Result]) -> str:
    lines = [f"{'benchmark':<28} {'tool':<16} {'runs':>4} {'median ms':>10} {'min ms':>9}  note"]
    for r in results:
        lines.append(f"{r.name:<28} {r.tool:<16} {r.runs:>4} {r.median_ms:>10.1f} {r.min_ms:>9.1f}  {r.note}")
    return "\n".join(lines)
