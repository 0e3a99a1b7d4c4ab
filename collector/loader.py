"""``tracker-loader`` (``python -m collector.loader``): stores the events the collectors put
on the JetStream log into SQLite or PostgreSQL.

Every loader binds the same durable pull consumer, so several instances share the work.
A fetched batch is inserted in one transaction with the collector's unique ``messageId``
(a redelivery, within or beyond JetStream's duplicate window, is stored once), the
features' ``stored`` hooks run in that transaction (daily stats), and the messages are
acknowledged only after the commit: a loader killed mid-batch loses nothing, since
JetStream redelivers what it did not acknowledge.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from starlette.requests import Request

from collector.app import FEATURES
from collector.events import Batch, EventHook, insert_rows
from collector.settings import Settings
from collector.sink import (
    Record,
    SinkSettings,
    add_sink_flags,
    connect,
    ensure_stream,
    sink_settings,
)
from collector.store import Store, Transaction

__all__ = ["DURABLE", "load", "main", "parse_args", "store_records"]

log = logging.getLogger("collector.loader")

DURABLE = "tracker-loader"
"""The consumer every loader shares (JetStream hands each message to one of them)."""


def _request(record: Record) -> Request:
    """A stand-in for the request the events came in, with the headers the hooks read."""
    headers = [(b"host", record.host.encode("latin-1"))]
    if record.origin is not None:
        headers.append((b"origin", record.origin.encode("latin-1")))
    scope = {
        "type": "http",
        "method": "POST",
        "scheme": "http",
        "path": "/collect",
        "query_string": b"",
        "headers": headers,
        "client": None,
        "server": None,
    }
    return Request(scope)


def _batch_key(record: Record) -> tuple[Any, ...]:
    return (
        record.anonymous,
        record.ip,
        record.network_userid,
        record.user_agent,
        record.received_at,
        record.origin,
        record.host,
    )


def store_records(tx: Transaction, records: Sequence[Record], hooks: Sequence[EventHook]) -> int:
    """Insert ``records`` (a stored ``messageId`` is skipped) and run the hooks on what was
    new, grouped by the request it came in; returns how many were new."""
    fresh = insert_rows(tx, [r.row for r in records])
    groups: dict[tuple[Any, ...], list[Record]] = {}
    for record in records:
        if record.row[0] in fresh:
            fresh.discard(record.row[0])
            groups.setdefault(_batch_key(record), []).append(record)
    stored = 0
    for group in groups.values():
        first = group[0]
        batch = Batch(
            events=[json.loads(r.row[8]) for r in group],
            anonymous=first.anonymous,
            ip=first.ip,
            network_userid=first.network_userid,
            user_agent=first.user_agent,
            received_at=datetime.fromisoformat(first.received_at.replace("Z", "+00:00")),
            request=_request(first),
        )
        for hook in hooks:
            hook.stored(tx, batch)
        stored += len(group)
    return stored


async def load(
    sink: SinkSettings,
    settings: Settings,
    batch_size: int = 500,
    stop: asyncio.Event | None = None,
) -> None:
    """Consume the stream into the database until ``stop`` is set."""
    store = Store(settings.db, [t for f in FEATURES for t in getattr(f, "TABLES", ())])
    hooks = [f.event_hook(settings, store) for f in FEATURES if hasattr(f, "event_hook")]
    nc = await connect(sink)
    stop = stop or asyncio.Event()
    try:
        js = nc.jetstream(timeout=sink.timeout)
        consumer = await _subscribe(js, sink, stop)
        failures = 0
        while not stop.is_set():
            try:
                messages = await consumer.fetch(batch_size, timeout=1)
                failures = 0
            except TimeoutError:
                continue
            except Exception as exc:  # a node lost: the client reconnects to another
                failures += 1
                log.warning("fetching from JetStream failed: %r; retrying", exc)
                await asyncio.sleep(0.5)
                if failures % 10 == 0:
                    consumer = await _subscribe(js, sink, stop)
                continue
            records, taken = [], []
            for message in messages:
                try:
                    records.append(Record.decode(message.data))
                    taken.append(message)
                except Exception:
                    log.error("dropping a message that is not an event record")
                    await message.term()
            if records:
                await _commit(store, records, hooks)
            try:
                for message in taken:
                    await message.ack()
                await nc.flush()
            except Exception as exc:  # unacknowledged ones come again: stored once anyway
                log.warning("acknowledging failed: %r", exc)
    finally:
        await nc.close()
        store.close()


async def _subscribe(js: Any, sink: SinkSettings, stop: asyncio.Event) -> Any:
    """Bind the shared durable consumer, retrying while the cluster cannot answer (a node
    lost, a leader being elected)."""
    from nats.js.api import AckPolicy, ConsumerConfig

    config = ConsumerConfig(
        durable_name=DURABLE, ack_policy=AckPolicy.EXPLICIT, ack_wait=30, max_ack_pending=20000
    )
    while True:
        try:
            await ensure_stream(js, sink, update=False)
            return await js.pull_subscribe(
                sink.subject, durable=DURABLE, stream=sink.stream, config=config
            )
        except Exception as exc:
            if stop.is_set():
                raise
            log.warning("binding the JetStream consumer failed: %r; retrying", exc)
            await asyncio.sleep(0.5)


async def _commit(store: Store, records: list[Record], hooks: Sequence[EventHook]) -> None:
    """Store a batch, retrying while the database is down (nothing is acknowledged before)."""

    def run() -> int:
        with store.transaction() as tx:
            return store_records(tx, records, hooks)

    while True:
        try:
            await asyncio.to_thread(run)
            return
        except Exception:
            log.exception("storing %d events failed; retrying", len(records))
            await asyncio.sleep(1)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="tracker-loader",
        description="Store the events on the collectors' JetStream log in the database.",
    )
    add_sink_flags(parser)
    parser.add_argument("--db", default="tracker.db", help="a SQLite path or a postgresql:// URL")
    parser.add_argument("--batch", type=int, default=500, help="events per transaction at most")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Run one loader until SIGINT or SIGTERM."""
    args = parse_args(argv)
    sink = sink_settings(args)
    if sink is None:
        raise SystemExit("tracker-loader: give --sink nats://host:port (repeatable)")
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    settings = Settings(db=args.db)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        print(f"tracker-loader: {', '.join(sink.servers)} -> {args.db}", file=sys.stderr)
        await load(sink, settings, args.batch, stop)

    asyncio.run(run())


if __name__ == "__main__":
    main()
