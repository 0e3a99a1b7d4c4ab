"""The store: tables created idempotently, data kept across reopening, atomic transactions."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from collector.store import ID_COLUMN, Store

TABLES = (
    f"CREATE TABLE IF NOT EXISTS things ({ID_COLUMN}, name TEXT NOT NULL UNIQUE)",
    "CREATE INDEX IF NOT EXISTS things_name ON things (name)",
)


def test_creates_tables_and_parent_dirs(tmp_path: Path) -> None:
    store = Store(tmp_path / "a" / "b" / "t.db", TABLES)
    try:
        with store.transaction() as tx:
            tx.execute("INSERT INTO things (name) VALUES (?)", ("x",))
            row = tx.execute("SELECT id, name FROM things").fetchone()
        assert row is not None and row["name"] == "x" and row[0] == 1
    finally:
        store.close()


def test_reopen_keeps_data(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    store = Store(path, TABLES)
    with store.transaction() as tx:
        tx.execute("INSERT INTO things (name) VALUES ('m1')")
    store.close()
    store = Store(path, TABLES)
    try:
        with store.transaction() as tx:
            assert tx.execute("SELECT count(*) FROM things").fetchone()[0] == 1  # type: ignore[index]
    finally:
        store.close()


def test_transaction_rolls_back_on_error(tmp_path: Path) -> None:
    store = Store(tmp_path / "t.db", TABLES)
    try:
        with pytest.raises(sqlite3.IntegrityError), store.transaction() as tx:
            tx.execute("INSERT INTO things (name) VALUES ('m')")
            tx.execute("INSERT INTO things (name) VALUES ('m')")
        with store.transaction() as tx:
            assert tx.execute("SELECT count(*) FROM things").fetchone()[0] == 0  # type: ignore[index]
    finally:
        store.close()


def test_ping(tmp_path: Path) -> None:
    store = Store(tmp_path / "t.db")
    assert store.ping()
    store.close()
    assert not store.ping()
