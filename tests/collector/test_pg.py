"""The throwaway PostgreSQL cluster the collector tests run on (tests/pg.py)."""

from __future__ import annotations

from typing import Any

import pytest

from collector.store import Store
from tests.pg import Cluster, server_bin


def test_missing_server_binaries_fail_loudly() -> None:
    with pytest.raises(RuntimeError, match="scripts/setup"):
        server_bin("no-such-postgres-tool")


def test_cluster_is_unix_socket_only_and_schemas_are_isolated(pg_cluster: Cluster) -> None:
    assert server_bin("initdb").name == "initdb"
    first, second = pg_cluster.create_schema(), pg_cluster.create_schema()
    assert "host=/" in first
    tables = ("CREATE TABLE IF NOT EXISTS t (x TEXT)",)
    stores = [Store(url, tables) for url in (first, second)]
    try:
        with stores[0].transaction() as tx:
            tx.execute("INSERT INTO t VALUES ('a')")
            listen = tx.execute("SHOW listen_addresses").fetchone()
        assert listen is not None and listen[0] == ""
        with stores[1].transaction() as tx:
            assert tx.execute("SELECT count(*) FROM t").fetchone() == (0,)
    finally:
        for store in stores:
            store.close()


def test_db_url_covers_both_databases(db_url: str, make_client: Any) -> None:
    store = make_client().app.state.store
    expected = "postgresql" if db_url.startswith("postgresql://") else "sqlite"
    assert store.dialect == expected
