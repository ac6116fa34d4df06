"""The runtime's state: one SQLite database, WAL mode, short transactions.

Every kind of object (image, container, network, volume, pod, ip, tag, ...) is a row of one table,
keyed by (kind, id) and unique by (kind, name) when it has a name; its data is a JSON document.
Read-modify-write goes through ``with store.transaction() as tx`` (BEGIN IMMEDIATE): a deferred
BEGIN that later upgrades fails at once under contention. Never start a process or do netlink
work inside a transaction. Standard library only.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1

_MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE objects (
        kind TEXT NOT NULL,
        id   TEXT NOT NULL,
        name TEXT,
        data TEXT NOT NULL,
        PRIMARY KEY (kind, id)
    );
    CREATE UNIQUE INDEX objects_name ON objects(kind, name) WHERE name IS NOT NULL;
    """,
}

Doc = dict[str, Any]


class Tx:
    """Operations inside one transaction. Obtained from Store.transaction() or Store.read()."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._c = conn

    def get(self, kind: str, id: str) -> Doc | None:
        row = self._c.execute("SELECT data FROM objects WHERE kind=? AND id=?", (kind, id)).fetchone()
        return None if row is None else json.loads(row[0])

    def by_name(self, kind: str, name: str) -> tuple[str, Doc] | None:
        row = self._c.execute("SELECT id, data FROM objects WHERE kind=? AND name=?", (kind, name)).fetchone()
        return None if row is None else (row[0], json.loads(row[1]))

    def list(self, kind: str, id_prefix: str = "") -> list[tuple[str, Doc]]:
        rows = self._c.execute(
            "SELECT id, data FROM objects WHERE kind=? AND id >= ? AND id < ? ORDER BY id",
            (kind, id_prefix, id_prefix + "\U0010ffff"),
        ).fetchall()
        return [(r[0], json.loads(r[1])) for r in rows]

    def put(self, kind: str, id: str, data: Doc, name: str | None = None) -> None:
        """Insert or replace. Raises sqlite3.IntegrityError if *name* is taken by another id."""
        self._c.execute(
            "INSERT INTO objects(kind, id, name, data) VALUES (?,?,?,?) "
            "ON CONFLICT(kind, id) DO UPDATE SET name=excluded.name, data=excluded.data",
            (kind, id, name, json.dumps(data, separators=(",", ":"), sort_keys=True)),
        )

    def delete(self, kind: str, id: str) -> bool:
        return self._c.execute("DELETE FROM objects WHERE kind=? AND id=?", (kind, id)).rowcount > 0


class Store:
    """A handle on the state database; one connection per thread, opened lazily."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        # Threads of one process queue here instead of in SQLite's busy handler, which sleeps in
        # steps of up to 100 ms instead of waking when the lock is freed (bench/FINDINGS.md F12).
        # Reentrant: a transaction opened inside another on the same thread still fails in SQLite.
        self._tx_lock = threading.RLock()

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
            with self._tx_lock:  # a new database: switching to WAL and migrating take the write lock
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute("PRAGMA busy_timeout=30000")
                _migrate(conn)
            self._local.conn = conn
        return conn

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """A read-modify-write transaction (BEGIN IMMEDIATE); commits on success, rolls back on error."""
        conn = self._conn()
        with self._tx_lock:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield Tx(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def read(self) -> Tx:
        """Reads outside a transaction (each statement sees a committed snapshot)."""
        return Tx(self._conn())

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


def _migrate(conn: sqlite3.Connection) -> None:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version >= SCHEMA_VERSION:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]  # another process may have won
        for v in range(version + 1, SCHEMA_VERSION + 1):
            for stmt in filter(str.strip, _MIGRATIONS[v].split(";")):
                conn.execute(stmt)
            conn.execute(f"PRAGMA user_version={v}")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
