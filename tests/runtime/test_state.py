"""runtime.state.Store: threads of one process take turns on the write lock in Python (F12)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from runtime.state import Store


def test_threads_of_one_store_never_meet_sqlite_busy(tmp_path: Path) -> None:
    # busy_timeout 0: without the in-process lock a second BEGIN IMMEDIATE fails at once
    store = Store(tmp_path / "state.db")
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def worker(n: int) -> None:
        store._conn().execute("PRAGMA busy_timeout=0")
        start.wait()
        try:
            for i in range(5):
                with store.transaction() as tx:
                    tx.put("thing", f"{n}-{i}", {"n": n})
                    time.sleep(0.002)  # hold the write lock a little, as a create does
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(store.read().list("thing")) == 40


def test_failed_transaction_rolls_back_and_frees_the_lock(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.db")
    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.put("thing", "a", {})
        raise RuntimeError("boom")
    assert store.read().get("thing", "a") is None
    done = threading.Event()

    def other() -> None:
        with store.transaction() as tx2:
            tx2.put("thing", "b", {})
        done.set()

    threading.Thread(target=other, daemon=True).start()
    assert done.wait(5)  # another thread gets in: the lock was released


def test_a_new_connection_sets_up_under_the_lock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Threads opening a fresh database at once must not race to switch it to WAL and migrate it
    (the loser slept in SQLite's busy handler: 355 ms for bench state_contention, 142 ms now)."""
    import runtime.state as state

    store = Store(tmp_path / "state.db")
    seen: list[bool] = []
    real = state._migrate

    def migrate(conn):  # type: ignore[no-untyped-def]
        seen.append(store._tx_lock._is_owned())  # type: ignore[attr-defined]
        real(conn)

    monkeypatch.setattr(state, "_migrate", migrate)
    threads = [threading.Thread(target=store._conn) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == [True] * 4


_LEAVE_OPEN = """
import os, sys
sys.path.insert(0, {repo!r})
from runtime.state import Store
store = Store(__import__("pathlib").Path({db!r}))
for i in range({commits}):
    with store.transaction() as tx:
        tx.put("thing", f"{{os.getpid()}}-{{i}}", {{"pad": "x" * 3000}})
os._exit(0)  # as the CLI ends: its connection never closed, no checkpoint
"""


def test_a_wal_left_by_processes_that_never_close_stays_short(tmp_path: Path) -> None:
    """CLIs end without closing their connection (composer/cli/main.py), so the WAL outlives each
    and the next process rebuilds its index by reading it whole: commits checkpoint it every
    WAL_PAGES pages, where SQLite's default (1000) lets it grow to 4 MiB."""
    import subprocess
    import sys

    from runtime.state import WAL_PAGES

    db = tmp_path / "state.db"
    repo = str(Path(__file__).resolve().parents[2])
    script = _LEAVE_OPEN.format(repo=repo, db=str(db), commits=60)
    for _ in range(5):  # ~300 pages in all
        subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
        assert (tmp_path / "state.db-wal").exists()  # left as it was: no checkpoint at exit
    frame = 24 + 4096
    assert (tmp_path / "state.db-wal").stat().st_size <= 32 + (WAL_PAGES + 8) * frame
    assert len(Store(db).read().list("thing")) == 300


def test_a_cli_command_leaves_its_wal_for_the_next(engine_paths: tuple[Path, Path]) -> None:
    """A command's end does not checkpoint and delete the WAL (two fdatasyncs and an unlink, and
    the next command's WAL made again, ~2 ms of each command on a slow disk): the next command
    reads what it wrote from the WAL."""
    from tests.conftest import composer_cli

    root, _ = engine_paths
    res = composer_cli("volume", "create", "walkept")
    assert res.returncode == 0, res.stderr
    assert (root / "state.db-wal").stat().st_size > 0
    res = composer_cli("volume", "ls", "-q")
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["walkept"]
    assert composer_cli("volume", "rm", "walkept").returncode == 0
