"""Group commit for the direct database path: the batches of concurrent requests share one
transaction, so single-event requests stop paying one commit each.

One writer per process takes every batch waiting, writes them all in one transaction and
commits; each request is answered only after the transaction holding its events committed.
If that transaction fails, each batch is retried alone, so one bad batch (or a database
hiccup) fails only the requests it belongs to.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from starlette.concurrency import run_in_threadpool

from collector.store import Store, Transaction

__all__ = ["GroupCommit"]

Job = TypeVar("Job")
Result = TypeVar("Result")

MAX_GROUP = 256
"""Batches in one transaction at most (a larger backlog takes several)."""


class GroupCommit(Generic[Job, Result]):
    """``await submit(job)`` runs ``write(tx, jobs)`` for the jobs submitted meanwhile in one
    transaction (``write`` returns one result per job, in order) and returns this job's
    result once that transaction committed."""

    def __init__(
        self, store: Store, write: Callable[[Transaction, list[Job]], list[Result]]
    ) -> None:
        self._store = store
        self._write = write
        self._waiting: list[tuple[Job, asyncio.Future[Result]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def submit(self, job: Job) -> Result:
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._waiting.append((job, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._waiting:
            group = self._waiting[:MAX_GROUP]
            del self._waiting[:MAX_GROUP]
            outcomes = await run_in_threadpool(self._commit, [job for job, _ in group])
            for (_, future), (ok, value) in zip(group, outcomes, strict=True):
                if future.done():
                    continue
                if ok:
                    future.set_result(value)
                else:
                    future.set_exception(value)

    def _commit(self, jobs: list[Job]) -> list[tuple[bool, Any]]:
        """Every job in one transaction; on failure each job alone, failing only its own."""
        try:
            with self._store.transaction() as tx:
                results = self._write(tx, jobs)
            return [(True, result) for result in results]
        except Exception as failure:
            if len(jobs) == 1:
                return [(False, failure)]
        outcomes: list[tuple[bool, Any]] = []
        for job in jobs:
            try:
                with self._store.transaction() as tx:
                    outcomes.append((True, self._write(tx, [job])[0]))
            except Exception as failure:
                outcomes.append((False, failure))
        return outcomes
