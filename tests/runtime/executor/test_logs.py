"""The log-file codec and readers (pure, on temporary files)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from runtime.logs import (
    LineFramer,
    LogWriter,
    decode_line,
    encode_chunk,
    follow_log,
    join_partials,
    read_log,
    rfc3339_nano,
)
from runtime.spec import LogRecord

T = "2026-01-02T03:04:05.000000001Z"


def test_timestamps_are_fixed_width_rfc3339_nano() -> None:
    assert rfc3339_nano(1_767_323_045_000_000_001) == T
    assert len(rfc3339_nano()) == len(T)


def test_a_chunk_becomes_full_lines_and_a_trailing_partial() -> None:
    out = encode_chunk("stderr", b"a\nb c\npart", now=T)
    assert out == f"{T} stderr F a\n{T} stderr F b c\n{T} stderr P part\n".encode()
    assert encode_chunk("stdout", b"x\n", now=T) == f"{T} stdout F x\n".encode()


def test_decode_roundtrip_and_garbage() -> None:
    assert decode_line(f"{T} stdout P  sp ace\n".encode()) == LogRecord(
        time=T, stream="stdout", text=b" sp ace", partial=True
    )
    assert decode_line(f"{T} stdout F".encode()) == LogRecord(time=T, stream="stdout", text=b"")
    assert decode_line(b"not a record") is None


def test_partials_join_per_stream() -> None:
    recs = [
        LogRecord(time=T, stream="stdout", text=b"ab", partial=True),
        LogRecord(time=T, stream="stderr", text=b"err"),
        LogRecord(time=T, stream="stdout", text=b"cd"),
    ]
    assert [(r.stream, r.text) for r in join_partials(recs)] == [("stderr", b"err"), ("stdout", b"abcd")]


def test_line_framer_keeps_the_rest() -> None:
    f = LineFramer()
    assert f.feed(b"a\nb") == [b"a"] and f.feed(b"c\n") == [b"bc"]


def test_writer_rotates_and_reader_reads_oldest_first(tmp_path: Path) -> None:
    path = tmp_path / "ctr.log"
    w = LogWriter(path, max_size=200, max_files=3)
    for i in range(20):
        w.write("stdout", f"line {i:02d}\n".encode())
    w.close()
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["ctr.log", "ctr.log.1", "ctr.log.2"]
    texts = [r.text for r in read_log(path)]
    assert texts == sorted(texts) and texts[-1] == b"line 19" and len(texts) < 20  # the oldest went
    assert [r.text for r in read_log(path, tail=2)] == [b"line 18", b"line 19"]


def test_since_and_until_filter(tmp_path: Path) -> None:
    path = tmp_path / "ctr.log"
    path.write_bytes(
        b"2026-01-01T00:00:00.000000000Z stdout F old\n2026-01-01T00:00:10.000000000Z stdout F new\n"
    )
    base = 1767225600.0  # 2026-01-01T00:00:00Z
    assert [r.text for r in read_log(path, since=base + 5)] == [b"new"]
    assert [r.text for r in read_log(path, until=base + 5)] == [b"old"]


def test_follow_yields_new_records_and_stops_when_not_running(tmp_path: Path) -> None:
    path = tmp_path / "ctr.log"
    w = LogWriter(path)
    w.write("stdout", b"first\n")
    running = threading.Event()
    running.set()

    def writer() -> None:
        time.sleep(0.1)
        w.write("stdout", b"second\n")
        time.sleep(0.1)
        running.clear()

    threading.Thread(target=writer).start()
    got = [r.text for r in follow_log(path, running.is_set, poll=0.02)]
    assert got == [b"first", b"second"]


def test_follow_survives_rotation_and_honours_tail(tmp_path: Path) -> None:
    path = tmp_path / "ctr.log"
    w = LogWriter(path, max_size=120, max_files=2)
    for i in range(3):
        w.write("stdout", f"old {i}\n".encode())
    running = threading.Event()
    running.set()

    def writer() -> None:
        time.sleep(0.1)
        for i in range(6):
            w.write("stdout", f"new {i}\n".encode())
            time.sleep(0.03)
        running.clear()

    threading.Thread(target=writer).start()
    got = [r.text for r in follow_log(path, running.is_set, tail=1, poll=0.01)]
    assert got == [b"old 2"] + [f"new {i}".encode() for i in range(6)]
