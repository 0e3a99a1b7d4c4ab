"""The collector's database: SQLite (embedded default) or PostgreSQL, behind one small API.

Endpoint modules own their tables (a ``TABLES`` tuple of ``CREATE ... IF NOT EXISTS``
statements given to :meth:`Store.ensure`) and their queries, written once in portable
SQL with ``?`` placeholders; :meth:`Store.transaction` hands out a connection for one
atomic unit of work. The app holds no other state, so several collectors may share one
PostgreSQL database.
"""

from __future__ import annotations

import os
import queue
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

__all__ = ["ID_COLUMN", "Cursor", "Row", "Store", "Transaction", "is_postgres_url"]

ID_COLUMN = "{id}"
"""Written in a ``CREATE TABLE`` for an auto-numbered primary key column named ``id``."""

_ID_TYPES = {"sqlite": "id INTEGER PRIMARY KEY", "postgresql": "id BIGSERIAL PRIMARY KEY"}
_POOL_SIZE = 8


def is_postgres_url(db: Path | str) -> bool:
    """Whether ``--db`` names a PostgreSQL server rather than a SQLite file."""
    return str(db).startswith(("postgresql://", "postgres://"))


class Row(tuple[Any, ...]):
    """A result row readable by position (``row[0]``) and by column name (``row["ip"]``)."""

    _names: dict[str, int]

    def __new__(cls, names: dict[str, int], values: Iterable[Any]) -> Row:
        row = super().__new__(cls, values)
        row._names = names
        return row

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return tuple.__getitem__(self, self._names[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        """The column names, in order."""
        return list(self._names)


class Cursor(Protocol):
    """What ``Transaction.execute`` returns."""

    rowcount: int

    def fetchone(self) -> Row | None: ...

    def fetchall(self) -> list[Row]: ...


class Transaction:
    """One connection held for one transaction; ``execute`` takes ``?`` placeholders."""

    def __init__(self, conn: Any, dialect: str) -> None:
        self._conn = conn
        self.dialect = dialect

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        """Run one statement with its parameters."""
        if self.dialect == "postgresql":
            sql = sql.replace("%", "%%").replace("?", "%s")
        cursor: Cursor = self._conn.execute(sql, tuple(params))
        return cursor


def _sqlite_row(cursor: sqlite3.Cursor, values: tuple[Any, ...]) -> Row:
    names = {d[0]: i for i, d in enumerate(cursor.description)}
    return Row(names, values)


def _postgres_row(cursor: Any) -> Any:
    names = {d.name: i for i, d in enumerate(cursor.description or ())}
    return lambda values: Row(names, values)


def _create_private(path: str) -> None:
    """Create the SQLite file readable by its owner only (0600), if it does not exist yet:
    SQLite then gives its WAL and shared-memory files the database file's mode."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass


class Store:
    """The database the app opens once; safe to use from the event loop and worker threads.

    SQLite: one connection, writes serialised (WAL, so readers do not wait on the disk).
    PostgreSQL: a small pool of connections, so requests run their transactions in parallel.
    """

    def __init__(self, db: Path | str, tables: Sequence[str] = ()) -> None:
        self.db = str(db)
        self.dialect = "postgresql" if is_postgres_url(db) else "sqlite"
        self._closed = False
        if self.dialect == "postgresql":
            self._pool: queue.LifoQueue[Any] = queue.LifoQueue()
            self._opened = 0
            self._pool_lock = threading.Lock()
            self._pool.put(self._connect_postgres())
        else:
            if self.db != ":memory:":
                Path(self.db).parent.mkdir(parents=True, exist_ok=True)
                _create_private(self.db)
            self._lock = threading.Lock()
            self._conn = sqlite3.connect(
                self.db, check_same_thread=False, isolation_level=None, timeout=10.0
            )
            self._conn.row_factory = _sqlite_row
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
        self.ensure(tables)

    @property
    def path(self) -> Path:
        """The SQLite file (meaningless for PostgreSQL, where it is the URL)."""
        return Path(self.db)

    def ensure(self, statements: Iterable[str]) -> None:
        """Create the tables and indexes a feature needs, if they are not there yet."""
        statements = [s.replace(ID_COLUMN, _ID_TYPES[self.dialect]) for s in statements]
        if not statements:
            return
        if self.dialect == "postgresql":
            # Serialise concurrent collectors creating the same tables at start-up.
            with self.transaction() as tx:
                tx.execute("SELECT pg_advisory_xact_lock(7316)")
                for statement in statements:
                    tx.execute(statement)
            return
        with self.transaction() as tx:
            for statement in statements:
                tx.execute(statement)

    def _connect_postgres(self, counted: bool = False) -> Any:
        """A new connection; ``counted``: already reserved in ``_opened`` under the lock."""
        import psycopg

        conn = psycopg.connect(self.db, autocommit=False, row_factory=_postgres_row)
        if not counted:
            with self._pool_lock:
                self._opened += 1
        return conn

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """Hold a connection for one atomic unit of work: committed, or rolled back on error."""
        if self._closed:
            raise RuntimeError("the store is closed")
        if self.dialect == "postgresql":
            with self._postgres_connection() as conn:
                try:
                    yield Transaction(conn, self.dialect)
                except BaseException:
                    conn.rollback()
                    raise
                conn.commit()
            return
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield Transaction(self._conn, self.dialect)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    @contextmanager
    def _postgres_connection(self) -> Iterator[Any]:
        """Borrow a pooled connection (opening one while fewer than the pool size exist)."""
        try:
            conn = self._pool.get_nowait()
        except queue.Empty:
            with self._pool_lock:
                grow = self._opened < _POOL_SIZE
                if grow:
                    self._opened += 1  # reserved now: never more than the pool size
            if not grow:
                conn = self._pool.get(timeout=30)
            else:
                try:
                    conn = self._connect_postgres(counted=True)
                except BaseException:
                    with self._pool_lock:
                        self._opened -= 1
                    raise
        broken = False
        try:
            yield conn
        except BaseException:
            broken = conn.closed or conn.broken
            raise
        finally:
            if broken:
                conn.close()
                with self._pool_lock:
                    self._opened -= 1
            else:
                self._pool.put(conn)

    def ping(self) -> bool:
        """True when the database answers a trivial query (used by ``/healthz``)."""
        try:
            with self.transaction() as tx:
                tx.execute("SELECT 1").fetchone()
        except Exception:
            return False
        return True

    def close(self) -> None:
        """Close every connection; the store is unusable afterwards."""
        if self._closed:
            return
        self._closed = True
        if self.dialect == "postgresql":
            while True:
                try:
                    self._pool.get_nowait().close()
                except queue.Empty:
                    break
            return
        with self._lock:
            self._conn.close()
