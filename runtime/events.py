"""Reading the engine's event log, the daemonless stand-in for docker's event stream.

Whoever acts writes the event at the moment it happens (runtime.logs.append_event): the verbs of
the CLI (create, kill, stop, pause, unpause, restart, destroy, exec_create and exec_start), each
container's monitor (start, die, oom, health_status) and an exec's helper (exec_die). One JSON
object a line in ``<run dir>/events.jsonl``, renamed to ``events.jsonl.1`` when it grows past a
few MB. This module replays and follows it as docker's ``/events`` endpoint serves its buffer and
then its live events.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from runtime.logs import EVENTS_FILE, LineFramer
from runtime.record import record

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping
    from typing import BinaryIO, Final

_START: Final = b'{"time":'  # how every line begins: where a line after a torn one starts


@record
class Event:
    """One container event, as docker's events.Message: the time (ns), the container's id, the
    action (``die``, ``health_status: healthy``, ...) and its attributes (labels, image, name and
    the action's own: exitCode, execDuration, signal)."""

    time: int
    id: str
    action: str
    attributes: Mapping[str, str]


def parse_event(line: bytes) -> Event | None:
    """One line of the log; None for what is not an event. A writer killed mid-line leaves a torn
    line that the next writer's line continues: that line is found after the tear."""
    for start in (0, line.rfind(_START)):
        if start < 0:
            continue
        try:
            doc = json.loads(line[start:])
        except ValueError:
            continue
        attrs = doc.get("attributes") if isinstance(doc, dict) else None
        if (
            isinstance(attrs, dict)
            and type(doc.get("time")) is int
            and isinstance(doc.get("id"), str)
            and isinstance(doc.get("action"), str)
        ):
            return Event(time=doc["time"], id=doc["id"], action=doc["action"],
                         attributes={str(k): str(v) for k, v in attrs.items()})
    return None


def read_events(
    rundir: str | Path,
    *,
    since: int | None = None,
    until: int | None = None,
    poll: float = 0.1,
    clock: Callable[[], int] = time.time_ns,
) -> Iterator[Event]:
    """The engine's events, as docker's daemon streams them (times in ns since the epoch).

    Without *since* and *until*: only new events, followed for ever. With either: first the
    logged events between them (both included; the rotated file too), then, unless *until* has
    passed, new events as they come until *until*. A missing log is an empty history.
    """
    path = Path(rundir) / EVENTS_FILE
    replay = since is not None or until is not None
    lo = since or 0
    fh = _open(path)
    try:
        if replay:
            rotated = _open(Path(rundir) / (EVENTS_FILE + ".1"))

            if rotated is not None:
                with rotated:
                    if fh is None or os.fstat(rotated.fileno()).st_ino != os.fstat(fh.fileno()).st_ino:
                        for old in _parse_all(rotated.read()):
                            if old.time >= lo and (until is None or old.time <= until):
                                yield old
        elif fh is not None:
            fh.seek(0, os.SEEK_END)  # as docker's: only what happens from now on
        framer = LineFramer()
        while True:
            data = fh.read() if fh is not None else b""
            if data:
                for line in framer.feed(data):
                    ev = parse_event(line)
                    if ev is not None and ev.time >= lo and (until is None or ev.time <= until):
                        yield ev
                continue
            now = clock()
            if until is not None and now >= until:
                return
            newer = _rotated_or_created(path, fh)
            if newer is not None:  # read the old file to its end first: a writer may have been late
                if fh is not None:
                    for line in framer.feed(fh.read()):
                        ev = parse_event(line)
                        if ev is not None and ev.time >= lo:
                            yield ev
                    fh.close()
                fh, framer = newer, LineFramer()
                continue
            time.sleep(poll if until is None else max(0.0, min(poll, (until - now) / 1e9)))
    finally:
        if fh is not None:
            fh.close()


def _open(path: Path) -> BinaryIO | None:
    try:
        return open(path, "rb")  # noqa: SIM115 - held across yields, closed by the caller
    except FileNotFoundError:
        return None


def _rotated_or_created(path: Path, fh: BinaryIO | None) -> BinaryIO | None:
    """The file now at *path* when it is not the one *fh* reads (renamed away, or made)."""
    try:
        ino = os.stat(path).st_ino
    except FileNotFoundError:
        return None
    if fh is not None and ino == os.fstat(fh.fileno()).st_ino:
        return None
    return _open(path)


def _parse_all(data: bytes) -> Iterator[Event]:
    for line in data.split(b"\n"):
        ev = parse_event(line) if line else None
        if ev is not None:
            yield ev
