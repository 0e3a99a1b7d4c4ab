"""The JetStream sink: accepted events go to a replicated NATS JetStream log instead of the
database, and ``collector.loader`` stores them from there.

Each event is one message on the stream's subject, ``Nats-Msg-Id`` = its ``messageId``, so
JetStream drops a resend inside its duplicate window, and the loader's unique ``messageId``
stores a later one once. A request is answered 2xx only once JetStream acknowledged every
event of it (its replicas hold them); anything else is :class:`SinkDown`, answered 503, and
the tracker retries.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "JetStreamSink",
    "Record",
    "SinkDown",
    "SinkSettings",
    "add_sink_flags",
    "connect",
    "ensure_stream",
    "record_of",
    "sink_settings",
]


class SinkDown(Exception):
    """JetStream did not acknowledge every event in time."""


@dataclass(frozen=True)
class SinkSettings:
    """Where the log is and how its stream is set up (``--sink`` and the ``--sink-*`` flags)."""

    servers: tuple[str, ...]
    """``nats://host:port`` of one server or of several servers of one cluster."""
    stream: str = "TRACKER_EVENTS"
    subject: str = "tracker.events"
    replicas: int = 1
    """Copies JetStream keeps of each event (3 on a 3-node cluster survives a node lost)."""
    duplicate_window: float = 120.0
    """Seconds in which JetStream drops a message whose ``Nats-Msg-Id`` it has seen."""
    timeout: float = 5.0
    """Seconds to wait for JetStream's acknowledgement of a publish."""


@dataclass(frozen=True)
class Record:
    """One accepted event as the log carries it: the row the loader inserts, and what the
    stored-batch hooks need to know about the request it came in."""

    row: tuple[Any, ...]
    """The ``events`` row, as the direct path would insert it (``messageId`` first)."""
    anonymous: bool
    ip: str | None
    network_userid: str | None
    user_agent: str
    received_at: str
    """When the collector received it (ISO-8601 UTC), not when the loader stored it."""
    origin: str | None
    host: str

    def encode(self) -> bytes:
        return json.dumps(
            {
                "row": list(self.row),
                "anonymous": self.anonymous,
                "ip": self.ip,
                "network_userid": self.network_userid,
                "user_agent": self.user_agent,
                "received_at": self.received_at,
                "origin": self.origin,
                "host": self.host,
            },
            separators=(",", ":"),
        ).encode()

    @classmethod
    def decode(cls, data: bytes) -> Record:
        fields = json.loads(data)
        fields["row"] = tuple(fields["row"])
        return cls(**fields)


def add_sink_flags(parser: argparse.ArgumentParser) -> None:
    """``--sink`` and the stream's set-up flags (the collector's and the loader's)."""
    defaults = SinkSettings(servers=())
    parser.add_argument(
        "--sink",
        action="append",
        default=[],
        metavar="nats://HOST:PORT",
        help="write events to this NATS JetStream server (repeat for each server of a"
        " cluster) instead of the database; tracker-loader stores them",
    )
    parser.add_argument("--sink-stream", default=defaults.stream, help="the stream's name")
    parser.add_argument("--sink-subject", default=defaults.subject, help="the events' subject")
    parser.add_argument(
        "--sink-replicas",
        type=int,
        default=defaults.replicas,
        help="copies of each event in the cluster (3 survives a lost node)",
    )
    parser.add_argument(
        "--sink-duplicate-window",
        type=float,
        default=defaults.duplicate_window,
        metavar="SECONDS",
        help="JetStream drops a resent messageId within this window",
    )


def sink_settings(args: argparse.Namespace) -> SinkSettings | None:
    """The sink the flags name, or None without ``--sink``."""
    if not args.sink:
        return None
    for url in args.sink:
        if not url.startswith(("nats://", "tls://")):
            raise SystemExit(f"--sink {url}: give a nats://host:port URL")
    return SinkSettings(
        servers=tuple(args.sink),
        stream=args.sink_stream,
        subject=args.sink_subject,
        replicas=args.sink_replicas,
        duplicate_window=args.sink_duplicate_window,
    )


def record_of(row: tuple[Any, ...], batch: Any, received_at: str) -> Record:
    """The record of ``row`` received in ``batch`` (a ``collector.events.Batch``) at
    ``received_at`` (as stored)."""
    headers = batch.request.headers
    return Record(
        row=row,
        anonymous=batch.anonymous,
        ip=batch.ip,
        network_userid=batch.network_userid,
        user_agent=batch.user_agent,
        received_at=received_at,
        origin=headers.get("origin"),
        host=headers.get("host", ""),
    )


async def ensure_stream(
    js: Any, settings: SinkSettings, update: bool = True, patience: float = 30.0
) -> None:
    """Create the stream, or (``update``: the collectors, whose flags set it up) bring an
    existing one to the flags' replicas and window; retried for ``patience`` seconds while a
    new cluster elects its JetStream leader."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + patience
    while True:
        try:
            await _ensure_stream(js, settings, update)
            return
        except Exception:
            if loop.time() > deadline:
                raise
            await asyncio.sleep(0.5)


async def _ensure_stream(js: Any, settings: SinkSettings, update: bool) -> None:
    from nats.js.api import StreamConfig
    from nats.js.errors import NotFoundError

    config = StreamConfig(
        name=settings.stream,
        subjects=[settings.subject],
        num_replicas=settings.replicas,
        duplicate_window=settings.duplicate_window,
    )
    try:
        await js.stream_info(settings.stream)
        if not update:
            return
    except NotFoundError:
        try:
            await js.add_stream(config)
            return
        except Exception:  # another collector or loader created it meanwhile
            pass
    await js.update_stream(config)


async def connect(settings: SinkSettings) -> Any:
    """A NATS connection that keeps reconnecting to any server of the cluster."""
    import nats

    return await nats.connect(
        servers=list(settings.servers),
        connect_timeout=2,
        reconnect_time_wait=0.25,
        max_reconnect_attempts=-1,
        allow_reconnect=True,
        name="tracker",
    )


class JetStreamSink:
    """Publishes records and waits for JetStream's acknowledgement of each."""

    def __init__(self, settings: SinkSettings) -> None:
        self.settings = settings
        self._nc: Any = None
        self._js: Any = None

    async def start(self) -> None:
        """Connect and set up the stream (at the collector's start: a wrong URL fails then)."""
        self._nc = await connect(self.settings)
        self._js = self._nc.jetstream(timeout=self.settings.timeout)
        await ensure_stream(self._js, self.settings)

    async def publish(self, records: Sequence[Record]) -> set[str]:
        """Publish every record; returns the ``messageId`` s JetStream had not seen in its
        window. Raises :class:`SinkDown` unless every one was acknowledged."""
        if self._js is None:
            raise SinkDown("the JetStream sink is not connected")
        subject = self.settings.subject

        async def one(record: Record) -> Any:
            return await self._js.publish(
                subject, record.encode(), headers={"Nats-Msg-Id": str(record.row[0])}
            )

        results = await asyncio.gather(*(one(r) for r in records), return_exceptions=True)
        fresh = set()
        for record, result in zip(records, results, strict=True):
            if isinstance(result, BaseException):
                raise SinkDown(f"JetStream did not acknowledge an event: {result!r}")
            if not result.duplicate:
                fresh.add(str(record.row[0]))
        return fresh

    async def close(self) -> None:
        if self._nc is not None:
            try:
                await self._nc.drain()
            except Exception:
                await self._nc.close()
            self._nc = None
            self._js = None
