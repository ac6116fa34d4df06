"""The runtime's state: one SQLite database, WAL mode, short transactions.

Every kind of object (image, container, network, volume, pod, ip, tag, ...) is a row of one table,
keyed by (kind, id) and unique by (kind, name) when it has a name; its data is a JSON document.
Read-modify-write goes through ``with store.transaction() as tx`` (BEGIN IMMEDIATE): a deferred
BEGIN that later upgrades fails at once under contention. Never start a process or do netlink
work inside a transaction. Standard library only, plus runtime.errors: every SQLite failure but a
name clash (sqlite3.IntegrityError, which callers turn into their own Conflict) leaves as a
StateError naming the database and the cause.
"""

from __future__ import annotations

import _sqlite3 as sqlite3  # sqlite3 itself (dbapi2) adds datetime adapters and imports datetime: ~2 ms
import _thread  # threading's local and RLock, without importing threading (~1 ms of every `ps`, F14)
import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from runtime.errors import EngineError
from runtime.json_accel import dumps, loads

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command
if TYPE_CHECKING:
    from typing import Any, NoReturn

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

Doc = dict[str, "Any"]  # a string: typing is not imported at run time

# SQLite's primary result codes whose own text says less than errno's
_CAUSES = {13: "no space left on device", 10: "i/o error", 8: "read-only file system",
           14: "cannot open the database file", 11: "the database file is corrupt",
           26: "the file is not a database"}


class StateError(EngineError):
    """The state database failed (disk full, i/o error, corrupt file, locked for too long)."""


def state_error(path: str, exc: sqlite3.Error) -> StateError:
    """*exc* as a one-line StateError naming the database, e.g. ``state database
    /var/lib/composer/state.db: no space left on device``."""
    code = getattr(exc, "sqlite_errorcode", None)
    cause = _CAUSES.get(code & 0xFF) if isinstance(code, int) else None
    if cause is None:
        cause = (str(exc).splitlines() or [type(exc).__name__])[0].lower().rstrip(".")
    return StateError(f"state database {path}: {cause}")


class Tx:
    """Operations inside one transaction. Obtained from Store.transaction() or Store.read()."""

    def __init__(self, conn: sqlite3.Connection, path: str | None = None) -> None:
        self._c = conn
        self._path = path

    def _fail(self, exc: sqlite3.Error) -> NoReturn:
        raise state_error(self._path or "(unknown)", exc) from exc

    def get(self, kind: str, id: str) -> Doc | None:
        try:
            row = self._c.execute("SELECT data FROM objects WHERE kind=? AND id=?", (kind, id)).fetchone()
        except sqlite3.Error as exc:
            self._fail(exc)
        return None if row is None else loads(row[0])

    def by_name(self, kind: str, name: str) -> tuple[str, Doc] | None:
        try:
            row = self._c.execute(
                "SELECT id, data FROM objects WHERE kind=? AND name=?", (kind, name)).fetchone()
        except sqlite3.Error as exc:
            self._fail(exc)
        return None if row is None else (row[0], loads(row[1]))

    def list(self, kind: str, id_prefix: str = "") -> list[tuple[str, Doc]]:
        try:
            rows = self._c.execute(
                "SELECT id, data FROM objects WHERE kind=? AND id >= ? AND id < ? ORDER BY id",
                (kind, id_prefix, id_prefix + "\U0010ffff"),
            ).fetchall()
        except sqlite3.Error as exc:
            self._fail(exc)
        return [(r[0], loads(r[1])) for r in rows]

    def any(self, kind: str) -> bool:
        """Whether any object of *kind* exists (decodes nothing: `list` would decode every row)."""
        try:
            row = self._c.execute("SELECT 1 FROM objects WHERE kind=? LIMIT 1", (kind,)).fetchone()
        except sqlite3.Error as exc:
            self._fail(exc)
        return row is not None

    def put(self, kind: str, id: str, data: Doc, name: str | None = None) -> None:
        """Insert or replace. Raises sqlite3.IntegrityError if *name* is taken by another id."""
        try:
            self._c.execute(
                "INSERT INTO objects(kind, id, name, data) VALUES (?,?,?,?) "
                "ON CONFLICT(kind, id) DO UPDATE SET name=excluded.name, data=excluded.data",
                (kind, id, name, dumps(data, separators=(",", ":"), sort_keys=True)),
            )
        except sqlite3.IntegrityError:
            raise
        except sqlite3.Error as exc:
            self._fail(exc)

    def delete(self, kind: str, id: str) -> bool:
        try:
            return self._c.execute("DELETE FROM objects WHERE kind=? AND id=?", (kind, id)).rowcount > 0
        except sqlite3.Error as exc:
            self._fail(exc)


WAL_PAGES = 128  # the WAL's length at which a commit checkpoints it (SQLite's default: 1000)


class Store:
    """A handle on the state database; one connection per thread, opened lazily."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._local = _thread._local()
        # Threads of one process queue here instead of in SQLite's busy handler, which sleeps in
        # steps of up to 100 ms instead of waking when the lock is freed (bench/FINDINGS.md F12).
        # Reentrant: a transaction opened inside another on the same thread still fails in SQLite.
        self._tx_lock = _thread.RLock()

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            try:
                os.makedirs(os.path.dirname(self.path), exist_ok=True)
            except OSError as exc:
                raise StateError(f"state database {self.path}: cannot make its directory: "
                                 f"{exc.strerror.lower() if exc.strerror else exc}") from exc
            try:
                conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
                with self._tx_lock:  # a new database: switching to WAL and migrating take the write lock
                    conn.execute("PRAGMA journal_mode=WAL")
                    conn.execute("PRAGMA synchronous=NORMAL")
                    conn.execute("PRAGMA busy_timeout=30000")
                    # a CLI leaves its connection open at exit (no checkpoint there: composer/cli/
                    # main.py), so the next process to open rebuilds the WAL's index by reading it
                    # whole: checkpointed by a commit every 128 pages (512 KiB, ~6 `run --rm`), it
                    # stays short to read
                    conn.execute(f"PRAGMA wal_autocheckpoint={WAL_PAGES}")
                    _migrate(conn)
            except sqlite3.Error as exc:
                if conn is not None:
                    conn.close()
                raise state_error(self.path, exc) from exc
            self._local.conn = conn
        return conn

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """A read-modify-write transaction (BEGIN IMMEDIATE); commits on success, rolls back on error."""
        conn = self._conn()
        with self._tx_lock:
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise state_error(self.path, exc) from exc
            try:
                yield Tx(conn, self.path)
            except BaseException:
                with suppress(sqlite3.Error):  # a failed statement may have ended it already
                    conn.execute("ROLLBACK")
                raise
            try:
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                # a COMMIT that fails (disk full) can leave the transaction open on this connection
                with suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                raise state_error(self.path, exc) from exc

    def put_new(self, kind: str, id: str, data: Doc, name: str, taken: str) -> None:
        """Insert an object whose *name* must be free among its kind; raises Conflict(*taken*)
        when it is not (the unique index decides a race with another process)."""
        from runtime.errors import Conflict

        try:
            with self.transaction() as tx:
                if tx.by_name(kind, name) is not None:
                    raise Conflict(taken)
                tx.put(kind, id, data, name=name)
        except sqlite3.IntegrityError:
            raise Conflict(taken) from None

    def read(self) -> Tx:
        """Reads outside a transaction (each statement sees a committed snapshot)."""
        return Tx(self._conn(), self.path)

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
