"""A process's command line as /proc shows it, rewritten in place: a monitor forked by the
zygote, or started warm before its container existed, shows the command line of a monitor spawned
for its container (``python -I -S .../monitor.py CDIR RDIR``), so that it is found by it."""

from __future__ import annotations

import os


def set_cmdline(argv: list[str]) -> None:
    """Make /proc/self/cmdline read *argv*, so that a forked monitor is found by its command line
    exactly like a directly spawned one: written over the process's own argument strings (through
    /proc/self/mem: PR_SET_MM is not available everywhere), which the launcher padded with empty
    arguments for room. Trailing NULs remain; a command line that does not fit is left alone."""
    raw = b"\0".join(os.fsencode(a) for a in argv) + b"\0"
    try:
        with open("/proc/self/stat", "rb") as f:
            stat = f.read()
        fields = stat[stat.rindex(b")") + 2 :].split()
        start, end = int(fields[45]), int(fields[46])  # fields 48 and 49: arg_start, arg_end
        if len(raw) > end - start:
            return
        fd = os.open("/proc/self/mem", os.O_RDWR | os.O_CLOEXEC)
        try:
            os.pwrite(fd, raw + bytes(end - start - len(raw)), start)
        finally:
            os.close(fd)
    except (OSError, ValueError, IndexError):
        pass  # the launcher's command line stays
