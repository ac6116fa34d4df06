"""A process's command line as /proc shows it, rewritten in place: a monitor forked by the
zygote, or started warm before its container existed, shows the command line of a monitor spawned
for its container (``python -I -S .../monitor.py CDIR RDIR``), so that it is found by it."""

from __future__ import annotations

import os

_slot: tuple[int, int, int] | None = None  # prepare(): /proc/self/mem's fd, arg_start, arg_end


def prepare() -> None:
    """Find the argument strings and open /proc/self/mem ahead, for a set_cmdline that is on a
    command's path (a warm monitor's, right after its request: ~0.1 ms of reads and parsing
    less then). The fd is closed by that set_cmdline, before anything is forked."""
    global _slot
    try:
        start, end = _arg_area()
        _slot = (os.open("/proc/self/mem", os.O_RDWR | os.O_CLOEXEC), start, end)
    except (OSError, ValueError, IndexError):
        _slot = None


def _arg_area() -> tuple[int, int]:
    with open("/proc/self/stat", "rb") as f:
        stat = f.read()
    fields = stat[stat.rindex(b")") + 2 :].split()
    return int(fields[45]), int(fields[46])  # fields 48 and 49: arg_start, arg_end


def set_cmdline(argv: list[str]) -> None:
    """Make /proc/self/cmdline read *argv*, so that a forked monitor is found by its command line
    exactly like a directly spawned one: written over the process's own argument strings (through
    /proc/self/mem: PR_SET_MM is not available everywhere), which the launcher padded with empty
    arguments for room. Trailing NULs remain; a command line that does not fit is left alone."""
    global _slot
    raw = b"\0".join(os.fsencode(a) for a in argv) + b"\0"
    slot, _slot = _slot, None
    try:
        if slot is None:
            start, end = _arg_area()
            fd = os.open("/proc/self/mem", os.O_RDWR | os.O_CLOEXEC)
        else:
            fd, start, end = slot
        try:
            if len(raw) <= end - start:
                os.pwrite(fd, raw + bytes(end - start - len(raw)), start)
        finally:
            os.close(fd)
    except (OSError, ValueError, IndexError):
        pass  # the launcher's command line stays
