"""Open the kernel's cgroup attach lock ahead of a container's cgroup join.

Moving a process into a cgroup (a write to any hierarchy's cgroup.procs) takes the writer side of
the kernel's one cgroup threadgroup lock. When nobody took it for a while, that write first waits
for an RCU grace period (8-22 ms on these VMs, bench/FINDINGS.md F21, F24); for a grace period
or two after a write, the next ones take ~0.1 ms. Every container start has such a write on its
critical path: its monitor moves the new init into the container's cgroup, and the init waits for
it before its cgroup namespace and its exec, both cores idle meanwhile.

``open_ahead`` pays that wait early, in a thread of the command, while it still creates the
container: a write of the command's own pid into the cgroup it is in, which moves nothing (the
kernel finds the task in place) but leaves the lock ready for the init's move shortly after. The
thread writes again once per grace period, while the container is not handed over yet (``done``)
and at most a few times, so that a slow create does not let the window close (day 11's F23 kept
it open every 4 ms from the monitor and made every fork on the host slower; one write a grace
period is what container starts already do). Best effort: any failure leaves the join as it was.

Standard library only: `container run` calls it before its heavy imports.
"""

from __future__ import annotations

import _thread
import contextlib
import os
import time

ROOTS = ("/sys/fs/cgroup/pids", "/sys/fs/cgroup/unified", "/sys/fs/cgroup")
OFF_ENV = "COMPOSER_ATTACH_LOCK_AHEAD"  # =0: no writes ahead (to measure what they save)
MAX_WRITES = 4  # a window of ~4 grace periods at most: longer creates pay the wait as before

_started: list[bool] = []  # once per process
_handed_over = False
writes = 0  # made so far by this process (tests read it)


def open_ahead() -> None:
    """Start the thread (once per process); returns at once."""
    global _handed_over
    if _started or os.environ.get(OFF_ENV) in ("0", "false", "no"):
        return
    _started.append(True)
    _handed_over = False
    with contextlib.suppress(RuntimeError):  # no thread to be had: the join waits, as before
        _thread.start_new_thread(_keep_open, (own_procs_file(),))


def done() -> None:
    """The init's move is under way: no more writes are needed."""
    global _handed_over
    _handed_over = True



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


def _keep_open(procs: str | None) -> None:
    if procs is None:
        return
    global writes
    pid, grace = str(os.getpid()), 0.008
    for _ in range(MAX_WRITES):
        began = time.monotonic()
        try:
            with open(procs, "w") as f:
                f.write(pid)
        except OSError:
            return
        writes += 1
        waited = time.monotonic() - began
        if waited > 0.002:  # it waited a whole grace period: that is how long one is here
            grace = waited
        time.sleep(grace * 0.8)  # the window closes about a grace period after the write
        if _handed_over:
            return
