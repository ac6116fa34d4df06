"""Open the kernel's cgroup attach lock ahead of a container's cgroup join.

Moving a process into a cgroup (a write to any hierarchy's cgroup.procs) takes the kernel's cgroup
mutex, then the writer side of its one cgroup threadgroup lock. When nobody took that lock for a
while, the write first waits for an RCU grace period (8-22 ms on these VMs), holding the mutex;
for one to two grace periods after a write, the next ones take ~0.1 ms (bench/FINDINGS.md F21,
F24). Every container start has such a write on its critical path: its monitor moves the new init
into the container's cgroup, and the init waits for it before its cgroup namespace and its exec,
both cores idle meanwhile.

So the command pays that wait ahead, in a thread, while it still sets the container up: a write of
its own pid into the cgroup it is in, which moves nothing (the kernel finds the task in place) but
leaves the lock open for the init's move soon after. Two writes at most, at two moments:
``open_ahead`` as the command starts, long before its own cgroup mkdirs (which would wait for the
mutex), and ``again`` right after them, ~10 ms before the init's move: inside the first write's
window it is quick and keeps the window open; past it, it waits in place of the init. No more:
writes made on a timer miss the window as grace periods vary, and then hold the mutex just when
the init's move comes (day 12), and day 11's writes every 4 ms made every fork slower (F23).
Best effort: any failure leaves the join as it was.

Standard library only: `container run` calls it before its heavy imports.
"""

from __future__ import annotations

import _thread
import os

ROOTS = ("/sys/fs/cgroup/pids", "/sys/fs/cgroup/unified", "/sys/fs/cgroup")
OFF_ENV = "COMPOSER_ATTACH_LOCK_AHEAD"  # =0: no writes ahead (to measure what they save)

_calls: list[str] = []  # "ahead", "again": made by this process, once each
_busy: list[bool] = []  # a write is under way
writes = 0  # done so far by this process (tests read it)


def open_ahead() -> None:
    """As the command starts (once per process); returns at once."""
    if not _calls and os.environ.get(OFF_ENV) not in ("0", "false", "no"):
        _write_in_thread("ahead")


def again() -> None:
    """Right after the container's cgroup is made, in a process that opened it ahead; no second
    write while the first one waits (its end opens the window)."""
    if _calls == ["ahead"] and not _busy:
        _write_in_thread("again")


def pending() -> bool:
    """Whether a write made here still waits: it holds the kernel's cgroup mutex meanwhile, and
    any cgroup mkdir on the host waits for it."""
    return bool(_busy)


def _write_in_thread(call: str) -> None:
    _calls.append(call)
    _busy.append(True)
    try:  # not contextlib.suppress: its import (~1.2 ms) would delay the monitor's spawn after it
        _thread.start_new_thread(_write, (own_procs_file(),))
        return
    except RuntimeError:  # no thread to be had: the join waits, as before
        _busy.clear()


def own_procs_file() -> str | None:
    """A cgroup.procs file of a cgroup this process is in (pids v1, else cgroup2), or None."""
    try:
        with open("/proc/self/cgroup") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = (line.split(":", 2) + ["", ""])[:3]
        names = controllers.split(",")
        roots = ROOTS[:1] if "pids" in names else ROOTS[1:] if controllers == "" else ()
        for root in roots:
            candidate = f"{root}{path.rstrip('/')}/cgroup.procs"
            if os.path.exists(candidate):
                return candidate
    return None


def _write(procs: str | None) -> None:
    global writes
    try:
        if procs is not None:
            with open(procs, "w") as f:
                f.write(str(os.getpid()))
            writes += 1
    except OSError:
        pass
    finally:
        _busy.clear()
