"""Telling a live process from a recycled pid: its start time from /proc (standard library only,
no typing: the fork server and the CLI import it)."""

from __future__ import annotations


def starttime(pid: int) -> int | None:
    """The start time of *pid* in clock ticks since boot (field 22 of /proc/PID/stat), None when it
    is gone or a zombie. A recorded (pid, start time) pair names one process even after pid reuse."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read()
    except OSError:
        return None
    fields = raw[raw.rindex(b")") + 2 :].split()
    if len(fields) < 20 or fields[0] in (b"Z", b"X"):
        return None
    return int(fields[19])
