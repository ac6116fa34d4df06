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
