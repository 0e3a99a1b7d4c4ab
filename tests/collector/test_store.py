"""The SQLite store: schema creation, idempotent reopening, transactions."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from collector.store import SCHEMA, Store


def test_creates_schema_and_parent_dirs(tmp_path: Path) -> None:
    store = Store(tmp_path / "a" / "b" / "t.db")
    try:
        assert store.version == len(SCHEMA)
        with store.transaction() as conn:
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        assert {"events", "anonymous_sessions"} <= tables
    finally:
        store.close()


def test_reopen_keeps_data(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    store = Store(path)
    with store.transaction() as conn:
        conn.execute(
            "INSERT INTO events (message_id, received_at, body) VALUES ('m1', 'now', '{}')"
        )
    store.close()
    store = Store(path)
    try:
        assert store.version == len(SCHEMA)
        with store.transaction() as conn:
            assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == 1
    finally:
        store.close()


def test_transaction_rolls_back_on_error(tmp_path: Path) -> None:
    store = Store(tmp_path / "t.db")
    try:
        with pytest.raises(sqlite3.IntegrityError), store.transaction() as conn:
            conn.execute("INSERT INTO events (message_id, received_at, body) VALUES ('m', 'n', '')")
            conn.execute("INSERT INTO events (message_id, received_at, body) VALUES ('m', 'n', '')")
        with store.transaction() as conn:
            assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == 0
    finally:
        store.close()


def test_ping(tmp_path: Path) -> None:
    store = Store(tmp_path / "t.db")
    assert store.ping()
    store.close()
    assert not store.ping()
