"""Time whole commands the way a user runs them, and print medians side by side.

Wall time is what a user waits; CPU time (user+sys of the command and its children, from wait4)
is printed beside it because the development machines are shared: CPU time stays meaningful when
another job loads both cores, wall time does not.
"""

from __future__ import annotations

import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field


class Skip(Exception):
    """A benchmark cannot run here; the message names what is missing."""


@dataclass(frozen=True, slots=True)
class Run:
    wall_ms: float
    cpu_ms: float


@dataclass(frozen=True, slots=True)
class Result:
    name: str
    tool: str
    runs: int
    median: float
    min: float
    unit: str = "ms"
    cpu_ms: float | None = None  # median CPU time per run, when measured
    target: float | None = None  # the target, same unit as median (lower is better)
    note: str = ""

    @property
    def verdict(self) -> str:
        if self.target is None:
            return ""
        return "ok" if self.median <= self.target else "OVER"


@dataclass(frozen=True, slots=True)
class Note:
    """Free text printed under the table (import-time offenders, derived facts)."""

    text: str


Item = Result | Note


@dataclass(frozen=True, slots=True)
class Failure:
    """What a failing command said, for the report."""

    argv: tuple[str, ...]
    returncode: int
    stderr: str = field(default="")


def run_once(argv: Sequence[str], *, check: bool = True, **kw: object) -> Run:
    """Run *argv* to completion; its wall time and its CPU time (it and its reaped children)."""
    # stderr to a file, not a pipe: a detached monitor may inherit it and keep a pipe open.
    with tempfile.TemporaryFile() as errf:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=errf, **kw)  # type: ignore[call-overload]
        _, status, usage = os.wait4(proc.pid, 0)
        wall = (time.perf_counter() - t0) * 1000
        proc.returncode = os.waitstatus_to_exitcode(status)
        if check and proc.returncode != 0:
            errf.seek(0)
            raise subprocess.CalledProcessError(proc.returncode, list(argv), stderr=errf.read())
    return Run(wall, (usage.ru_utime + usage.ru_stime) * 1000)


def time_command(
    argv: Sequence[str],
    *,
    runs: int,
    setup: Callable[[], None] | None = None,
    teardown: Callable[[], None] | None = None,
    **kw: object,
) -> list[Run]:
    """Run *argv* *runs* times (setup/teardown around each, untimed). A failing run raises
    CalledProcessError; teardown still runs for that run."""
    out = []
    for _ in range(runs):
        if setup:
            setup()
        try:
            out.append(run_once(argv, **kw))  # type: ignore[arg-type]
        finally:
            if teardown:
                teardown()
    return out


def summarize(
    name: str, tool: str, runs: Sequence[Run], *, target: float | None = None, note: str = ""
) -> Result:
    walls = [r.wall_ms for r in runs]
    return Result(
        name,
        tool,
        len(runs),
        statistics.median(walls),
        min(walls),
        "ms",
        statistics.median(r.cpu_ms for r in runs),
        target,
        note,
    )


def value(
    name: str, tool: str, samples: Sequence[float], unit: str, *, target: float | None = None, note: str = ""
) -> Result:
    """A measured quantity that is not a command's run time (memory, a latency seen from outside)."""
    return Result(
        name, tool, len(samples), statistics.median(samples), min(samples), unit, None, target, note
    )


def ratio(what: str, ours: Result, theirs: Result) -> str:
    return f"{what}: {ours.tool} / {theirs.tool} = {ours.median / theirs.median:.2f}x (median wall time)"


def have(tool: str) -> bool:
    return shutil.which(tool) is not None


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (another process may hold the usual ones)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _num(x: float) -> str:
    return f"{x:.1f}" if abs(x) < 10000 else f"{x:.0f}"


def render(items: Sequence[Item]) -> str:
    """The table of results (with target and verdict where the issue sets one), then the notes."""
    results = [i for i in items if isinstance(i, Result)]
    notes = [i for i in items if isinstance(i, Note)]
    head = (
        f"{'benchmark':<34} {'tool':<15} {'runs':>4} {'median':>9} {'min':>9} {'unit':<4} "
        f"{'cpu ms':>7} {'target':>8}  verdict  note"
    )
    lines = [head, "-" * len(head)]
    for r in results:
        cpu = _num(r.cpu_ms) if r.cpu_ms is not None else "-"
        target = _num(r.target) if r.target is not None else "-"
        lines.append(
            f"{r.name:<34} {r.tool:<15} {r.runs:>4} {_num(r.median):>9} {_num(r.min):>9} "
            f"{r.unit:<4} {cpu:>7} {target:>8}  {r.verdict:<7}  {r.note}".rstrip()
        )
    if notes:
        lines.append("")
        lines.extend(n.text for n in notes)
    return "\n".join(lines)
