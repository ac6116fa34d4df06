"""The engine's event log: one line per event appended whole, rotated once past its size, read back
by a replay that skips torn lines and a follower that follows the rotation."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest

from runtime import logs
from runtime.container_records import EVENT_ATTRS_MAX, event_attrs
from runtime.events import parse_event, read_events

CID = "ab" * 32
ATTRS = event_attrs({"name": "p-web-1", "image": "busybox", "labels": {"com.docker.compose.project": "p"}})


def _append(run: Path, action: str, extra: str = "") -> None:
    logs.append_event(str(run / logs.EVENTS_FILE), CID, action, ATTRS, extra)


def test_a_line_is_json_with_the_actions_attributes_first_and_the_labels_winning(tmp_path: Path) -> None:
    _append(tmp_path, "die", '"exitCode":"3","name":"not this"')
    raw = (tmp_path / "events.jsonl").read_bytes()
    assert raw.endswith(b"\n") and raw.count(b"\n") == 1
    doc = json.loads(raw)
    assert list(doc) == ["time", "id", "action", "attributes"] and doc["action"] == "die"
    assert doc["attributes"] == {"exitCode": "3", "name": "p-web-1", "image": "busybox",
                                 "com.docker.compose.project": "p"}  # docker: name overrides
    assert abs(doc["time"] - time.time_ns()) < 10**10
    assert os.stat(tmp_path / "events.jsonl").st_mode & 0o777 == 0o600


def test_attributes_too_long_for_one_line_lose_their_longest_labels() -> None:
    doc = {"name": "n", "image": "i", "labels": {"com.docker.compose.project": "p", "big": "x" * 5000,
                                                 "other": "y" * 100}}
    text = event_attrs(doc)
    assert len(text) <= EVENT_ATTRS_MAX
    assert json.loads("{" + text + "}") == {"com.docker.compose.project": "p", "other": "y" * 100,
                                            "image": "i", "name": "n"}


def test_a_torn_line_is_skipped_and_the_line_after_it_kept() -> None:
    good = b'{"time":5,"id":"x","action":"start","attributes":{"a":"b"}}'
    assert parse_event(b'{"time":4,"id":"x","act' + good).action == "start"  # type: ignore[union-attr]
    assert parse_event(b'{"time":4,"id":"x","act') is None
    assert parse_event(b"[1]") is None and parse_event(b'{"time":"1"}') is None


def _replay(run: Path, since: int = 0) -> list[str]:
    return [e.action for e in read_events(run, since=since, until=time.time_ns())]


def test_replay_reads_the_rotated_file_then_the_current_one(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    assert _replay(tmp_path) == []  # no log: no history
    monkeypatch.setattr(logs, "EVENTS_MAX_SIZE", 300)
    for action in ("create", "start", "pause", "unpause", "kill", "die"):
        _append(tmp_path, action)
    assert (tmp_path / "events.jsonl.1").exists()
    assert (tmp_path / "events.jsonl").stat().st_size < 300 * 2
    got = _replay(tmp_path)
    assert got == ["create", "start", "pause", "unpause", "kill", "die"][-len(got):] and len(got) >= 2
    later = time.time_ns()
    _append(tmp_path, "stop")
    assert _replay(tmp_path, since=later) == ["stop"]


def test_the_follower_starts_at_the_end_and_follows_a_rotation(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    _append(tmp_path, "create")  # before the follower: not shown
    got: list[str] = []
    reader = read_events(tmp_path, poll=0.01)
    done = threading.Event()

    def follow() -> None:
        for ev in reader:
            got.append(ev.action)
            if ev.action == "destroy":
                break
        done.set()

    monkeypatch.setattr(logs, "EVENTS_MAX_SIZE", 400)  # two or three lines a file
    threading.Thread(target=follow, daemon=True).start()
    time.sleep(0.2)  # the generator opens the log on its first step, in the thread
    for action in ("start", "pause", "unpause", "kill", "die", "stop", "destroy"):
        _append(tmp_path, action)
        time.sleep(0.03)
    assert done.wait(10), got
    assert got == ["start", "pause", "unpause", "kill", "die", "stop", "destroy"]


def test_writers_that_find_the_log_full_at_once_rotate_it_once(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The monitors and the verbs append at once: the writers that found the log full take turns,
    and only the first renames it. A writer that looked before another renamed renamed the new
    file too, over the full one: the rotated file then held a line or two, and the full log
    was gone (the replay lost it)."""
    monkeypatch.setattr(logs, "EVENTS_MAX_SIZE", 3000)  # a rotation every dozen lines
    rotated = tmp_path / "events.jsonl.1"
    small: list[int] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            try:
                size = rotated.stat().st_size
            except FileNotFoundError:
                continue
            if size < 3000:
                small.append(size)

    def write() -> None:
        for _ in range(400):
            _append(tmp_path, "die")

    watcher = threading.Thread(target=watch)
    watcher.start()
    writers = [threading.Thread(target=write) for _ in range(8)]
    for t in writers:
        t.start()
    for t in writers:
        t.join()
    stop.set()
    watcher.join()
    assert small == []
    assert rotated.stat().st_size >= 3000
