"""Progress like docker compose: one line per resource with its state and elapsed time.

On a TTY the block of lines is redrawn in place; otherwise each change is one plain line
(` Container demo-web-1  Started`); `json` prints one JSON object per change; `quiet` nothing.
The state is a plain object (sans-IO): `Progress.frame()` is what a redraw writes.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command
if TYPE_CHECKING:
    from typing import Final, Literal, TextIO

    Mode = Literal["tty", "plain", "json", "quiet"]

_DONE_WORDS: Final = frozenset(
    {
        "Created",
        "Started",
        "Stopped",
        "Removed",
        "Running",
        "Healthy",
        "Exited",
        "Pulled",
        "Recreated",
        "Killed",
        "Paused",
        "Unpaused",
        "Restarted",
        "Waiting",
        "Skipped",
    }
)
_GREEN, _RED, _BLUE, _RESET = "\x1b[32m", "\x1b[31m", "\x1b[34m", "\x1b[0m"


def choose_mode(requested: str, stream: TextIO, environ: Mapping[str, str]) -> Mode:
    """--progress auto|tty|plain|json|quiet, with COMPOSE_PROGRESS and the stream's TTY-ness."""
    mode = requested if requested != "auto" else environ.get("COMPOSE_PROGRESS", "auto")
    if mode in ("tty", "plain", "json", "quiet"):
        return mode  # type: ignore[return-value]
    return "tty" if stream.isatty() and environ.get("TERM") != "dumb" else "plain"


def use_color(ansi: str, stream: TextIO, environ: Mapping[str, str]) -> bool:
    """--ansi never|always|auto and NO_COLOR (https://no-color.org)."""
    if ansi == "never" or environ.get("NO_COLOR"):
        return False
    if ansi == "always":
        return True
    return stream.isatty()


class _Line:
    # a plain class: @dataclass would compile its methods at every start-up (FINDINGS F6)
    __slots__ = ("kind", "name", "state", "start", "end", "error")

    def __init__(self, kind: str, name: str, state: str, start: float) -> None:
        self.kind, self.name, self.state, self.start = kind, name, state, start
        self.end: float | None = None
        self.error = False


class Progress:
    """Collects events; renders them as the mode says. Thread-safe enough for one writer at a time."""

    def __init__(
        self,
        mode: Mode = "plain",
        stream: TextIO | None = None,
        color: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.mode, self.stream, self.color, self.clock = mode, stream or sys.stderr, color, clock
        self.lines: dict[tuple[str, str], _Line] = {}
        self._drawn = 0
        self._lock = threading.RLock()  # events come from worker threads; redraws from the scheduler

    def event(self, kind: str, name: str, state: str, *, error: bool = False) -> None:
        """Resource *kind* (Container, Network, Volume, Image) *name* is now in *state*."""
        with self._lock:
            self._event(kind, name, state, error)

    def _event(self, kind: str, name: str, state: str, error: bool) -> None:
        now = self.clock()
        key = (kind, name)
        line = self.lines.get(key)
        if line is None:
            line = self.lines[key] = _Line(kind, name, state, now)
        line.state, line.error = state, error
        line.end = now if (state in _DONE_WORDS or error) else None
        if self.mode == "plain":
            self._write(f" {kind} {name}  {state}\n")
        elif self.mode == "json":
            self._write(json.dumps({"id": f"{kind} {name}", "status": state, "error": error}) + "\n")
        elif self.mode == "tty":
            self.redraw()

    def message(self, text: str) -> None:
        """A line outside the resource block (warnings)."""
        if self.mode == "quiet":
            return
        with self._lock:
            if self.mode == "json":
                self._write(json.dumps({"message": text}) + "\n")
            else:
                self._write(f"{text}\n")
                self._drawn = 0 if self.mode == "tty" else self._drawn

    def frame(self) -> list[str]:
        """The TTY block: one line per resource, state and elapsed time, in first-seen order."""
        now = self.clock()
        width = max((len(f"{ln.kind} {ln.name}") for ln in self.lines.values()), default=0)
        done = sum(1 for ln in self.lines.values() if ln.end is not None)
        out = [f"[+] Running {done}/{len(self.lines)}"]
        for ln in self.lines.values():
            elapsed = (ln.end if ln.end is not None else now) - ln.start
            mark = "✘" if ln.error else ("✔" if ln.end is not None else "⠿")
            text = f" {mark} {f'{ln.kind} {ln.name}':<{width}}  {ln.state}"
            if self.color:
                colour = _RED if ln.error else (_GREEN if ln.end is not None else _BLUE)
                text = f" {colour}{mark}{_RESET} {f'{ln.kind} {ln.name}':<{width}}  {ln.state}"
            out.append(f"{text}  {elapsed:.1f}s")
        return out

    def redraw(self) -> None:
        if self.mode != "tty" or not self.lines:
            return
        with self._lock:
            self._redraw()

    def _redraw(self) -> None:
        lines = self.frame()
        up = f"\x1b[{self._drawn}A" if self._drawn else ""
        self._write(up + "".join(f"\r\x1b[2K{ln}\n" for ln in lines))
        self._drawn = len(lines)

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (BrokenPipeError, ValueError):
            pass


def from_args(
    progress: str, ansi: str, environ: Mapping[str, str] | None = None, stream: TextIO | None = None
) -> Progress:
    env = os.environ if environ is None else environ
    out = stream or sys.stderr
    mode = choose_mode(progress, out, env)
    return Progress(mode, out, color=use_color(ansi, out, env))
