"""SQLite failures leave the Store as one-line StateErrors (an EngineError) naming the database."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from runtime.errors import EngineError
from runtime.state import StateError, Store


def test_a_file_that_is_not_a_database_is_a_state_error(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    db.write_bytes(b"this is not sqlite" * 512)
    with pytest.raises(StateError, match=rf"^state database {db}: the file is not a database$"):
        Store(db).read().list("container")
    assert issubclass(StateError, EngineError)


def test_a_full_database_fails_the_transaction_and_the_store_still_works(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    store = Store(db)
    with store.transaction() as tx:
        tx.put("thing", "a", {"n": 1}, name="a")
    # SQLite's own page cap stands in for a full disk (both are SQLITE_FULL)
    pages = store.read()._c.execute("PRAGMA page_count").fetchone()[0]
    store.read()._c.execute(f"PRAGMA max_page_count={pages}")
    full = rf"^state database {db}: no space left on device$"
    with pytest.raises(StateError, match=full), store.transaction() as tx:
        tx.put("thing", "b", {"blob": "x" * 200_000})
    assert [i for i, _ in store.read().list("thing")] == ["a"]
    with store.transaction() as tx:  # the failed transaction was rolled back, not left open
        tx.delete("thing", "a")
    assert store.read().list("thing") == []
    store.close()


def test_a_name_clash_is_still_sqlite_integrity_error(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.db")
    with store.transaction() as tx:
        tx.put("thing", "a", {}, name="n")
    with pytest.raises(sqlite3.IntegrityError), store.transaction() as tx:
        tx.put("thing", "b", {}, name="n")
    store.close()
