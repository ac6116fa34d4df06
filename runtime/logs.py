"""The container log file: codec (sans-IO) and readers.

One record per line: ``<RFC3339Nano UTC> stdout|stderr F|P <text>`` (the CRI log format that
conmon writes). ``P`` marks a piece of a line that continues in the next record of the same stream:
the monitor writes what it read at once, without waiting for the newline. Standard library only:
the monitor imports this module.
"""

from __future__ import annotations

import os
import time

# typing (and the re it imports) stays out of the monitor, which only writes: annotations only.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator
    from typing import Final, Literal

    from runtime.spec import LogRecord

    Stream = Literal["stdout", "stderr"]

STREAMS: Final[tuple[Stream, Stream]] = ("stdout", "stderr")


def rfc3339_nano(ns: int | None = None) -> str:
    """UTC time with nanoseconds, fixed width so that timestamps compare as strings."""
    ns = time.time_ns() if ns is None else ns
    sec, frac = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)) + f".{frac:09d}Z"


def encode_record(rec: LogRecord) -> bytes:
    return b"%s %s %s %s\n" % (
        rec.time.encode(),
        rec.stream.encode(),
        b"P" if rec.partial else b"F",
        rec.text,
    )


def encode_chunk(stream: Stream, data: bytes, now: str | None = None) -> bytes:
    """Encode what one read returned: each complete line as F, a trailing piece as P."""
    head = b"%s %s " % ((now or rfc3339_nano()).encode(), stream.encode())
    *lines, rest = data.split(b"\n")
    out = [head + b"F " + line + b"\n" for line in lines]
    if rest:
        out.append(head + b"P " + rest + b"\n")
    return b"".join(out)


def decode_line(line: bytes) -> LogRecord | None:
    """Decode one line of a log file (with or without its newline); None if it is not a record."""
    from runtime.spec import LogRecord

    if line.endswith(b"\n"):
        line = line[:-1]
    parts = line.split(b" ", 3)
    if len(parts) < 3 or parts[1] not in (b"stdout", b"stderr") or parts[2] not in (b"F", b"P"):
        return None
    stream: Stream = "stdout" if parts[1] == b"stdout" else "stderr"
    return LogRecord(
        time=parts[0].decode(),
        stream=stream,
        text=parts[3] if len(parts) == 4 else b"",
        partial=parts[2] == b"P",
    )


def join_partials(records: Iterable[LogRecord]) -> Iterator[LogRecord]:
    """Join P records with what follows them on the same stream into whole lines."""
    from runtime.spec import LogRecord

    pending: dict[str, list[LogRecord]] = {}
    for rec in records:
        parts = pending.setdefault(rec.stream, [])
        parts.append(rec)
        if not rec.partial:
            del pending[rec.stream]
            yield LogRecord(time=parts[0].time, stream=rec.stream, text=b"".join(p.text for p in parts))
    for parts in pending.values():
        yield LogRecord(
            time=parts[0].time, stream=parts[0].stream, text=b"".join(p.text for p in parts), partial=True
        )


class LineFramer:
    """Split a byte stream into complete lines. No I/O; feed it whatever the file gave you."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        self._buf += data
        *lines, rest = self._buf.split(b"\n")
        self._buf = bytearray(rest)
        return [bytes(line) for line in lines]


# ---- the writer side (used by the monitor) ----------------------------------------------------


class LogWriter:
    """Append records to ``path``; rotate to ``path.1`` ... when it grows past ``max_size``."""

    def __init__(self, path: str | os.PathLike[str], max_size: int | None = None,
                 max_files: int = 1) -> None:
        self.path, self.max_size, self.max_files = str(path), max_size, max(1, max_files)
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        self._size = os.fstat(self._fd).st_size

    def write(self, stream: Stream, data: bytes) -> None:
        out = encode_chunk(stream, data)
        if not self.max_size or self._size + len(out) <= self.max_size:
            self._append(out)
            return
        batch = b""  # a big chunk is split at record boundaries so that no file outgrows max_size
        for rec in (line + b"\n" for line in out.split(b"\n")[:-1]):  # text never holds a newline
            if self._size + len(batch) + len(rec) > self.max_size and (self._size or batch):
                self._append(batch)
                batch = b""
                self._rotate()
            batch += rec
        self._append(batch)

    def _append(self, out: bytes) -> None:
        if out:
            os.write(self._fd, out)
            self._size += len(out)

    def _rotate(self) -> None:
        os.close(self._fd)
        if self.max_files <= 1:
            os.truncate(self.path, 0)
        else:
            for i in range(self.max_files - 1, 0, -1):
                src = self.path if i == 1 else f"{self.path}.{i - 1}"
                if os.path.exists(src):
                    os.replace(src, f"{self.path}.{i}")
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        self._size = 0

    def close(self) -> None:
        os.close(self._fd)


# ---- the engine's event log (written by the CLI's verbs and by the monitors) ----------------------

EVENTS_FILE: Final = "events.jsonl"  # in the run dir; rotated once to events.jsonl.1
EVENTS_MAX_SIZE: Final = 4 << 20
# a line of at most PIPE_BUF bytes: O_APPEND writes of several processes never interleave, and a
# reader never sees half of a line that was written whole
EVENT_LINE_MAX: Final = 4096
_EVENT_FLAGS: Final = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC


def append_event(path: str, cid: str, action: str, attrs: str, extra: str = "") -> None:
    """Append one container event to the engine's event log *path*, as docker's daemon publishes
    it: ``{"time":<ns>,"id":..,"action":..,"attributes":{..}}``. *attrs* is the container's
    attributes as JSON members without braces (its labels, image and name, made at create),
    *extra* the action's own (exitCode, signal), put first: docker's labels win over them. One
    write of one line, no fsync: an event costs an open, a write and a close (no module is
    imported, the monitor calls it). A log past EVENTS_MAX_SIZE is renamed to ``.1`` first
    (readers follow the rename). Errors are swallowed: an event is never worth a failed verb."""
    members = f"{extra},{attrs}" if extra and attrs else extra or attrs
    head = f'{{"time":{time.time_ns()},"id":"{cid}","action":"{action}","attributes":{{'
    data = f"{head}{members}}}}}\n".encode()
    if len(data) > EVENT_LINE_MAX:  # attrs are bounded at create (container_records.event_attrs)
        data = f"{head}{extra}}}}}\n".encode()
    try:
        fd = os.open(path, _EVENT_FLAGS, 0o600)
    except OSError:
        return
    try:
        if os.fstat(fd).st_size >= EVENTS_MAX_SIZE:
            fd = _rotate_events(path, fd)
        os.write(fd, data)
    except OSError:
        pass
    finally:
        os.close(fd)


def _rotate_events(path: str, fd: int) -> int:
    """Rename the full log *fd* is open on to ``.1`` and return a new file's fd (*fd* closed);
    *fd* itself when that fails. Another writer may have rotated it meanwhile: then the file at
    *path* is not ours and stays. The writers that found it full take turns, holding a lock on
    it from the look to the rename: a writer that looked before another renamed would rename the
    new file too, over the full one."""
    import fcntl  # here: once per EVENTS_MAX_SIZE of events

    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # released when fd is closed
        if os.stat(path).st_ino == os.fstat(fd).st_ino:
            os.replace(path, path + ".1")
        new = os.open(path, _EVENT_FLAGS, 0o600)
    except OSError:
        return fd
    os.close(fd)
    return new


# ---- readers ------------------------------------------------------------------------------------


def log_files(path: str) -> list[str]:
    """The current log file and its rotated predecessors (``path.1``, ...), oldest first."""
    parent, name = os.path.split(path)
    try:
        names = os.listdir(parent or ".")
    except FileNotFoundError:
        names = []
    numbers = sorted((int(n[len(name) + 1:]) for n in names
                      if n.startswith(f"{name}.") and n[len(name) + 1:].isdecimal()), reverse=True)
    return [*(f"{path}.{k}" for k in numbers), path]


def _in_window(rec: LogRecord, since: str | None, until: str | None) -> bool:
    return (since is None or rec.time >= since) and (until is None or rec.time < until)


def read_log(
    path: str, *, tail: int | None = None, since: float | None = None, until: float | None = None
) -> list[LogRecord]:
    """Records of a container's log (all rotated files), filtered; *tail* keeps the last N."""
    lo = None if since is None else rfc3339_nano(int(since * 1e9))
    hi = None if until is None else rfc3339_nano(int(until * 1e9))
    from collections import deque

    keep: deque[LogRecord] = deque(maxlen=tail if tail is not None and tail >= 0 else None)
    for f in log_files(path):
        try:
            with open(f, "rb") as fh:
                for line in fh:
                    rec = decode_line(line)
                    if rec is not None and _in_window(rec, lo, hi):
                        keep.append(rec)
        except FileNotFoundError:
            continue
    return list(keep)


def follow_log(
    path: str,

    running: Callable[[], bool],
    *,
    tail: int | None = None,
    since: float | None = None,
    until: float | None = None,
    poll: float = 0.1,
) -> Iterator[LogRecord]:
    """The records so far, then new ones as they are written, until the container stops running.

    The current file is opened first and read to its end once, so nothing written meanwhile is
    lost; a rotation (a new inode) or a truncation (max_files 1) restarts from the new file's start.
    """
    from collections import deque

    lo = None if since is None else rfc3339_nano(int(since * 1e9))
    hi = None if until is None else rfc3339_nano(int(until * 1e9))
    try:
        fh = open(path, "rb")  # noqa: SIM115 - held across yields, closed in finally
    except FileNotFoundError:
        yield from read_log(path, tail=tail, since=since, until=until)
        return
    try:
        framer = LineFramer()
        backlog: deque[LogRecord] = deque(maxlen=tail if tail is not None and tail >= 0 else None)
        for older in log_files(path)[:-1]:
            backlog.extend(read_log(older, since=since, until=until))
        for line in framer.feed(fh.read()):
            rec = decode_line(line)
            if rec is not None and _in_window(rec, lo, hi):
                backlog.append(rec)
        yield from backlog
        ino = os.fstat(fh.fileno()).st_ino
        while True:
            data = fh.read()
            if data:
                for line in framer.feed(data):
                    rec = decode_line(line)
                    if rec is None or (lo is not None and rec.time < lo):
                        continue
                    if hi is not None and rec.time >= hi:
                        return
                    yield rec
                continue
            try:
                st = os.stat(path)
            except FileNotFoundError:
                st = None
            if st is not None and (st.st_ino != ino or st.st_size < fh.tell()):
                fh.close()  # rotated or truncated: read the new file from its start
                fh = open(path, "rb")  # noqa: SIM115
                ino = os.fstat(fh.fileno()).st_ino
                framer = LineFramer()
                continue
            if not running():
                for line in framer.feed(fh.read()):
                    rec = decode_line(line)
                    if rec is not None:
                        yield rec
                return
            time.sleep(poll)
    finally:
        fh.close()
