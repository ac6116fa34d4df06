"""Real terminals for tests: a pty pair of a given window size, and reading its leader side."""

from __future__ import annotations

import fcntl
import os
import select
import struct
import termios
import time


def open_terminal(rows: int = 0, columns: int = 0) -> tuple[int, int]:
    """(leader, follower) of a new pty, the window *rows* x *columns* when given."""
    leader, follower = os.openpty()
    if rows and columns:
        set_size(leader, rows, columns)
    return leader, follower


def set_size(fd: int, rows: int, columns: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))


def read_until(fd: int, text: bytes, timeout: float = 15) -> bytes:
    """What the terminal showed up to and with *text* (the assertion says what it showed else)."""
    seen = b""
    deadline = time.monotonic() + timeout
    while text not in seen:
        left = deadline - time.monotonic()
        assert left > 0, seen
        if select.select([fd], [], [], left)[0]:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: every follower is closed
                chunk = b""
            assert chunk, seen
            seen += chunk
    return seen
