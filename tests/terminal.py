"""The CLI on a real pseudo-terminal, as a user's shell runs it: a session of its own with the pty
as its controlling terminal, so that a typed Ctrl-C (b"\\x03") reaches it as SIGINT from the
terminal's line discipline, not from a kill() of the test's."""

from __future__ import annotations

import fcntl
import os
import select
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Mapping
from pathlib import Path


def _take_terminal() -> None:
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)  # after setsid (start_new_session): stdin's pty is ours


class Terminal:
    """`composer *args` with stdin, stdout and stderr on one pty; the test reads the screen and
    types. Close it (or use it as a context manager) to kill what still runs."""

    def __init__(self, *args: str, cwd: str | Path, env: Mapping[str, str] | None = None,
                 size: tuple[int, int] | None = None) -> None:
        self.master, slave = os.openpty()
        if size is not None:
            self.resize(*size)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "composer", *args], cwd=cwd, stdin=slave, stdout=slave,
            stderr=slave, env={**os.environ, **(env or {})}, start_new_session=True,
            preexec_fn=_take_terminal,
        )
        os.close(slave)
        self.screen = b""

    def __enter__(self) -> Terminal:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @property
    def text(self) -> str:
        """What the terminal showed, its "\\r\\n" line ends read as "\\n"."""
        return self.screen.decode(errors="replace").replace("\r\n", "\n")

    def _read(self, timeout: float) -> bool:
        """Read what is there within *timeout*; False once every writer closed the pty."""
        if not select.select([self.master], [], [], timeout)[0]:
            return True
        try:
            chunk = os.read(self.master, 65536)
        except OSError:  # EIO: the last slave end closed
            return False
        self.screen += chunk
        return bool(chunk)

    def expect(self, text: str, timeout: float = 60) -> str:
        """Wait until *text* is on the screen; returns the screen."""
        deadline = time.monotonic() + timeout
        while text not in self.text:
            assert time.monotonic() < deadline, f"{text!r} not seen in {self.text!r}"
            if not self._read(0.2):
                assert text in self.text, f"{text!r} not seen before the end: {self.text!r}"
        return self.text

    def resize(self, rows: int, columns: int) -> None:
        """The window's new size: the kernel sends SIGWINCH to the CLI, as a terminal emulator's."""
        fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))

    def mode(self) -> list[object]:
        """The terminal's termios settings (raw or not: what the CLI leaves it in)."""
        return termios.tcgetattr(self.master)

    def type(self, keys: bytes) -> None:
        os.write(self.master, keys)

    def wait(self, timeout: float = 60) -> int:
        """Wait for the CLI to end, reading the screen meanwhile; its exit code."""
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None:
            assert time.monotonic() < deadline, f"still running: {self.text!r}"
            self._read(0.2)
        while self._read(0.2):  # what it wrote last (its children may hold the pty open: bounded)
            if time.monotonic() > deadline:
                break
        return self.proc.returncode

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        os.close(self.master)
