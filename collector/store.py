"""The collector's SQLite store: one connection, a versioned schema, serialised writes.

Endpoint modules (events, anonymous sessions) add their own queries on top of
:meth:`Store.transaction`; this module owns only the connection and the schema.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["SCHEMA", "Store"]

SCHEMA: tuple[str, ...] = (
    # Version 1: events as sent, deduplicated by messageId; anonymous sessions (spec sections 5-6).
    """
    CREATE TABLE events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        message_id TEXT NOT NULL UNIQUE,
        received_at TEXT NOT NULL,
        ip TEXT,
        network_userid TEXT,
        anonymous_id TEXT,
        user_id TEXT,
        session_id TEXT,
        body TEXT NOT NULL
    );
    CREATE INDEX events_anonymous_id ON events (anonymous_id);
    CREATE INDEX events_session_id ON events (session_id);
    CREATE TABLE anonymous_sessions (
        session_id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        metadata TEXT NOT NULL DEFAULT '{}',
        created_at TEXT NOT NULL,
        transferred_to TEXT
    );
    CREATE INDEX anonymous_sessions_user_id ON anonymous_sessions (user_id);
    """,
)
"""Migrations in order; ``SCHEMA[n]`` takes the database from version n to n + 1."""


class Store:
    """A SQLite database opened once per app; safe to use from the event loop and worker threads."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(
            str(path), check_same_thread=False, isolation_level=None, timeout=10.0
        )
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        self._migrate()

    @property
    def version(self) -> int:
        """The schema version the database is at (``PRAGMA user_version``)."""
        with self._lock:
            return int(self._conn.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        """Apply the migrations the database has not seen yet, each in its own transaction."""
        current = self.version
        for number, script in enumerate(SCHEMA[current:], start=current + 1):
            with self.transaction() as conn:
                for statement in script.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {number}")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Hold the connection for one atomic unit of work: committed, or rolled back on error."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def ping(self) -> bool:
        """True when the database answers a trivial query (used by ``/healthz``)."""
        try:
            with self._lock:
                self._conn.execute("SELECT 1").fetchone()
        except sqlite3.Error:
            return False
        return True

    def close(self) -> None:
        """Close the connection; the store is unusable afterwards."""
        with self._lock:
            self._conn.close()
