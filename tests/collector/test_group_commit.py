"""Group commit: concurrent requests' batches share one transaction, each answered after the
commit holding its events, and one failing batch fails only its own request."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from collector.group_commit import GroupCommit
from collector.store import Store, Transaction


class CountingStore(Store):
    """A real store that counts committed transactions and can hold the writer back."""

    def __init__(self, db: str) -> None:
        self.commits = 0
        self.gate = threading.Event()
        self.gate.set()
        super().__init__(db, ["CREATE TABLE IF NOT EXISTS t (k TEXT PRIMARY KEY)"])

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        self.gate.wait(10)
        with super().transaction() as tx:
            yield tx
        self.commits += 1


def _write(tx: Transaction, keys: list[Any]) -> list[str]:
    for key in keys:
        if key == "bad":
            raise ValueError("this batch cannot be stored")
        tx.execute("INSERT INTO t (k) VALUES (?)", (key,))
    return list(keys)


@pytest.fixture
def store(db_url: str) -> Iterator[CountingStore]:
    s = CountingStore(db_url)
    try:
        yield s
    finally:
        s.close()


def _keys(store: Store) -> list[str]:
    with store.transaction() as tx:
        return sorted(row[0] for row in tx.execute("SELECT k FROM t").fetchall())


def test_concurrent_batches_share_transactions_and_each_waits_for_its_commit(
    store: CountingStore,
) -> None:
    group: GroupCommit[str, str] = GroupCommit(store, _write)

    async def run() -> list[str]:
        store.gate.clear()  # the first batch's transaction waits while 49 more queue up
        first = asyncio.ensure_future(group.submit("k0"))
        await asyncio.sleep(0.05)
        rest = [asyncio.ensure_future(group.submit(f"k{n}")) for n in range(1, 50)]
        await asyncio.sleep(0.05)
        assert not first.done(), "answered before its commit"
        store.gate.set()
        return await asyncio.gather(first, *rest)

    results = asyncio.run(run())
    assert results == [f"k{n}" for n in range(50)]
    assert store.commits <= 3, store.commits  # not 50
    assert _keys(store) == sorted(f"k{n}" for n in range(50))


def test_a_failing_batch_fails_only_its_own_request(store: CountingStore) -> None:
    group: GroupCommit[str, str] = GroupCommit(store, _write)

    async def run() -> list[Any]:
        store.gate.clear()
        jobs = [asyncio.ensure_future(group.submit(k)) for k in ("a", "bad", "c")]
        await asyncio.sleep(0.05)
        store.gate.set()
        return await asyncio.gather(*jobs, return_exceptions=True)

    a, bad, c = asyncio.run(run())
    assert a == "a" and c == "c"
    assert isinstance(bad, ValueError)
    assert _keys(store) == ["a", "c"]
