"""Events in: ``POST /collect`` and ``GET /i`` store them, ``GET /api/events`` reads them back.

A request's events are stored in one transaction, deduplicated on ``messageId`` (a retried
batch is stored once), with the visitor's IP and ``trk_nuid`` network cookie unless the
request is anonymous (``SP-Anonymous``, or ``Sec-GPC: 1`` under ``--honor-gpc``). Other
features build on each stored batch through an :class:`EventHook`.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from collector.endpoints import ANY_METHOD, Problem, by_method
from collector.group_commit import GroupCommit
from collector.payload import (
    encode_event,
    event_from_query,
    events_from_body,
    read_body,
    session_of,
)
from collector.reads import read_guard
from collector.settings import Settings
from collector.sink import JetStreamSink, SinkDown, record_of
from collector.store import ID_COLUMN, Store, Transaction

__all__ = [
    "GIF",
    "NUID_COOKIE",
    "TABLES",
    "Batch",
    "EventHook",
    "format_time",
    "insert_rows",
    "routes",
]

log = logging.getLogger("collector.events")

TABLES = (
    f"CREATE TABLE IF NOT EXISTS events ({ID_COLUMN}, message_id TEXT NOT NULL UNIQUE,"
    " received_at TEXT NOT NULL, ip TEXT, network_userid TEXT, anonymous_id TEXT,"
    " user_id TEXT, session_id TEXT, type TEXT, body TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS events_anonymous_id ON events (anonymous_id)",
    "CREATE INDEX IF NOT EXISTS events_user_id ON events (user_id)",
    "CREATE TABLE IF NOT EXISTS identity_links (anonymous_id TEXT PRIMARY KEY,"
    " user_id TEXT NOT NULL, linked_at TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS identity_links_user_id ON identity_links (user_id)",
)
"""``events`` (one row per ``messageId``; ``body`` is the event as sent, JSON) and
``identity_links`` (anonymous ids moved to a user by the anonymous-session transfer)."""

NUID_COOKIE = "trk_nuid"
NUID_MAX_AGE = 365 * 24 * 3600
CONSENT_COOKIE = "_trk_consent"

GIF = bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b"
)
"""A transparent 1×1 GIF, the answer to ``GET /i``."""

_COLUMNS = (
    "message_id, received_at, ip, network_userid, anonymous_id, user_id, session_id, type, body"
)
_ROWS_PER_INSERT = 100
_MAX_BIGINT = 2**63 - 1


@dataclass(frozen=True)
class Batch:
    """The events one request stored, with what the collector knows about the request."""

    events: list[dict[str, Any]]
    """The events newly stored by this request (duplicates of stored ones left out)."""
    anonymous: bool
    """``SP-Anonymous`` was present (or ``Sec-GPC: 1`` under ``--honor-gpc``)."""
    ip: str | None
    """The request's IP as recorded (None when anonymous)."""
    network_userid: str | None
    """The ``trk_nuid`` cookie's value as recorded (None when anonymous)."""
    user_agent: str
    received_at: datetime
    """When the request was received (UTC)."""
    request: Request


class EventHook(Protocol):
    """What another feature does with each stored batch (``event_hook(settings, store)``)."""

    def stored(self, tx: Transaction, batch: Batch) -> None:
        """Called inside the batch's transaction, after the new events are inserted."""
        ...

    def headers(self, batch: Batch) -> list[tuple[str, str]]:
        """Extra response headers (``Set-Cookie`` for example), once the batch is committed."""
        ...


def format_time(moment: datetime) -> str:
    """``received_at`` as stored: ISO-8601 UTC to the millisecond, so text order is time order."""
    moment = moment.astimezone(UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


@dataclass(frozen=True)
class _Visitor:
    """Who sent a request, as far as the collector may record it."""

    anonymous: bool
    ip: str | None
    network_userid: str | None
    new_cookie: bool
    """The network cookie must be set (it was absent or unusable)."""


def _is_uuid(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False


def _client_ip(request: Request, settings: Settings) -> str | None:
    if settings.trust_proxy:
        forwarded = request.headers.get("x-forwarded-for", "")
        # The last hop is the address our own proxy saw; earlier ones the client can forge.
        last = forwarded.rsplit(",", 1)[-1].strip()
        try:
            return str(ipaddress.ip_address(last))
        except ValueError:
            pass
    return request.client.host if request.client else None


def _visitor(request: Request, settings: Settings) -> _Visitor:
    anonymous = "sp-anonymous" in request.headers
    if (
        settings.gpc_anonymises
        and request.headers.get("sec-gpc", "").strip() == "1"
        and request.cookies.get(CONSENT_COOKIE) != "granted"
    ):
        anonymous = True
    if anonymous:
        return _Visitor(True, None, None, False)
    nuid = request.cookies.get(NUID_COOKIE, "")
    new_cookie = not _is_uuid(nuid)
    if new_cookie:
        nuid = str(uuid.uuid4())
    return _Visitor(False, _client_ip(request, settings), nuid, new_cookie)


def _secure(request: Request, settings: Settings) -> bool:
    if settings.trust_proxy and "x-forwarded-proto" in request.headers:
        return request.headers["x-forwarded-proto"].rsplit(",", 1)[-1].strip() == "https"
    return request.url.scheme == "https"


def _cross_site(request: Request) -> bool:
    """Whether the page that sent this request is on another site than the collector."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site == "cross-site"
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return False
    return origin.partition("://")[2] != request.headers.get("host", "")


def _nuid_cookie(value: str, request: Request, settings: Settings) -> str:
    """The ``Set-Cookie`` value for the network cookie: ``SameSite=None; Secure`` only when a
    cross-site page sends events over https (the only way such a cookie comes back), else Lax."""
    cookie = f"{NUID_COOKIE}={value}; Max-Age={NUID_MAX_AGE}; Path=/; HttpOnly"
    if _secure(request, settings) and _cross_site(request):
        return cookie + "; SameSite=None; Secure"
    return cookie + "; SameSite=Lax"


def _column(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _without_ip(event: dict[str, Any]) -> dict[str, Any]:
    """The event as stored for an anonymous request: no ``context.ip``, no top-level ``ip``."""
    kept = {key: value for key, value in event.items() if key != "ip"}
    context = event.get("context")
    if isinstance(context, dict) and "ip" in context:
        kept["context"] = {key: value for key, value in context.items() if key != "ip"}
    return kept


def _row(event: dict[str, Any], visitor: _Visitor, received: str, where: str) -> tuple[Any, ...]:
    body = encode_event(_without_ip(event) if visitor.anonymous else event, where)
    ip = visitor.ip
    context = event.get("context")
    if not visitor.anonymous and isinstance(context, dict) and isinstance(context.get("ip"), str):
        ip = context["ip"]
    session = session_of(event)
    return (
        event["messageId"],
        received,
        ip,
        visitor.network_userid,
        _column(event.get("anonymousId")),
        _column(event.get("userId")),
        _column(session.get("id")) if isinstance(session, dict) else None,
        _column(event.get("type")),
        body,
    )


def _event_rows(
    events: Sequence[dict[str, Any]], visitor: _Visitor, received: str
) -> list[tuple[Any, ...]]:
    """The rows to insert (first of each ``messageId``), or :class:`Problem` for an event
    that cannot be stored."""
    seen: set[str] = set()
    rows = []
    for index, event in enumerate(events):
        if event["messageId"] not in seen:
            seen.add(event["messageId"])
            rows.append(_row(event, visitor, received, f"event {index}"))
    return rows


def insert_rows(tx: Transaction, rows: Sequence[tuple[Any, ...]]) -> set[str]:
    """Insert ``rows``, skipping stored ``messageId`` s; returns the ids newly stored."""
    fresh: set[str] = set()
    for start in range(0, len(rows), _ROWS_PER_INSERT):
        chunk = rows[start : start + _ROWS_PER_INSERT]
        marks = ", ".join(["(" + ", ".join("?" * len(chunk[0])) + ")"] * len(chunk))
        cursor = tx.execute(
            f"INSERT INTO events ({_COLUMNS}) VALUES {marks}"
            " ON CONFLICT (message_id) DO NOTHING RETURNING message_id",
            [value for row in chunk for value in row],
        )
        fresh.update(row[0] for row in cursor.fetchall())
    return fresh


def _newly_stored(events: list[dict[str, Any]], fresh: set[str]) -> list[dict[str, Any]]:
    """The events whose ``messageId`` is in ``fresh``, each id claimed once (taken from it)."""
    new_events = []
    for event in events:
        if event["messageId"] in fresh:
            fresh.discard(event["messageId"])
            new_events.append(event)
    return new_events


_Job = tuple[list[tuple[Any, ...]], list[dict[str, Any]], Batch]
"""One request's rows to insert, its events and what is known of the request."""


class _Collect:
    """Stores a request's events (or hands them to the JetStream sink) and answers it;
    shared by ``/collect`` and ``/i``."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        hooks: Sequence[EventHook],
        sink: JetStreamSink | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.hooks = list(hooks)
        self.sink = sink
        self.group: GroupCommit[_Job, Batch] = GroupCommit(store, self._write)

    async def _publish(self, events: list[dict[str, Any]], visitor: _Visitor, base: Batch) -> Batch:
        """The JetStream path: every event acknowledged by the log (the loader stores it
        and runs the hooks' ``stored``), or 503."""
        assert self.sink is not None
        received = format_time(base.received_at)
        rows = _event_rows(events, visitor, received)
        try:
            fresh = await self.sink.publish([record_of(row, base, received) for row in rows])
        except SinkDown as down:
            log.warning("%s", down)
            raise Problem(503, _LOG_DOWN) from None
        return replace(base, events=_newly_stored(events, fresh))

    def _write(self, tx: Transaction, jobs: list[_Job]) -> list[Batch]:
        """Insert the rows of several requests (in a transaction they share: see
        ``collector.group_commit``) and run the hooks for each. Each request's rows keep their
        order; the requests go in the order of their first ``messageId``, so a resent batch
        sits in the same place in every collector's group and concurrent transactions never
        wait on each other in a cycle."""
        rows: dict[str, tuple[Any, ...]] = {}
        for job in sorted(jobs, key=lambda job: job[0][0][0] if job[0] else ""):
            for row in job[0]:
                rows.setdefault(row[0], row)
        fresh = insert_rows(tx, list(rows.values()))
        done = []
        for _, events, base in jobs:
            batch = replace(base, events=_newly_stored(events, fresh))
            for hook in self.hooks:
                hook.stored(tx, batch)
            done.append(batch)
        return done

    async def handle(
        self, request: Request, events: list[dict[str, Any]], reply: Callable[[Batch], Response]
    ) -> Response:
        """Store ``events`` for ``request``; ``reply`` makes the 2xx answer once committed."""
        visitor = _visitor(request, self.settings)
        base = Batch(
            events=[],
            anonymous=visitor.anonymous,
            ip=visitor.ip,
            network_userid=visitor.network_userid,
            user_agent=request.headers.get("user-agent", ""),
            received_at=datetime.now(UTC),
            request=request,
        )
        if self.sink is not None:
            done = await self._publish(events, visitor, base)
            return self._reply(request, visitor, done, reply)
        rows = _event_rows(events, visitor, format_time(base.received_at))
        try:
            done = await self.group.submit((rows, events, base))
        except Exception:
            log.exception("storing %d events failed", len(events))
            raise Problem(503, _DATABASE_DOWN) from None
        return self._reply(request, visitor, done, reply)

    def _reply(
        self,
        request: Request,
        visitor: _Visitor,
        done: Batch,
        reply: Callable[[Batch], Response],
    ) -> Response:
        response = reply(done)
        if visitor.new_cookie and visitor.network_userid:
            response.headers.append(
                "set-cookie", _nuid_cookie(visitor.network_userid, request, self.settings)
            )
        for hook in self.hooks:
            for name, value in hook.headers(done):
                response.headers.append(name, value)
        return response


_JSON_TYPES = ("application/json", "text/plain")
_DATABASE_DOWN = "the database is unavailable; retry later"
_LOG_DOWN = "the event log (JetStream) did not acknowledge the events; retry later"


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").partition(";")[0].strip().lower()


def routes(
    settings: Settings,
    store: Store,
    hooks: Sequence[EventHook] = (),
    sink: JetStreamSink | None = None,
) -> list[BaseRoute]:
    """``/collect``, ``/i`` and ``/api/events``, bound to ``store`` (or, for writes, the
    JetStream ``sink``) and the features' hooks."""
    collect = _Collect(settings, store, hooks, sink)
    guard = read_guard(settings, store)

    async def post_collect(request: Request) -> Response:
        media_type = _media_type(request)
        if media_type not in _JSON_TYPES:
            shown = media_type or "none"
            raise Problem(415, f"Content-Type {shown}: send application/json or text/plain")
        body = await read_body(
            request.stream(), request.headers.get("content-length"), settings.max_body_bytes
        )
        events = events_from_body(body, settings.max_json_depth, settings.max_batch_events)

        def reply(batch: Batch) -> Response:
            stored = len(batch.events)
            return JSONResponse({"received": len(events), "stored": stored})

        return await collect.handle(request, events, reply)

    async def get_pixel(request: Request) -> Response:
        event = event_from_query(
            request.scope.get("query_string", b""),
            settings.max_json_depth,
            settings.max_body_bytes,
        )

        def reply(batch: Batch) -> Response:
            headers = {"cache-control": "no-store"}
            return Response(GIF, media_type="image/gif", headers=headers)

        return await collect.handle(request, [event], reply)

    async def api_events(request: Request) -> Response:
        guard(request)
        query = _EventQuery.parse(request, settings.max_api_limit)
        try:
            found = await run_in_threadpool(query.run, store)
        except Exception:
            log.exception("reading events failed")
            raise Problem(503, _DATABASE_DOWN) from None
        return JSONResponse(found, headers={"cache-control": "no-store"})

    return [
        Route("/collect", by_method(POST=post_collect), methods=ANY_METHOD),
        Route("/i", by_method(GET=get_pixel), methods=ANY_METHOD),
        Route("/api/events", by_method(GET=api_events), methods=ANY_METHOD),
    ]


@dataclass(frozen=True)
class _EventQuery:
    """``GET /api/events``: filters and paging from the query string."""

    limit: int
    after: int
    anonymous_id: str | None
    user_id: str | None
    type: str | None

    @classmethod
    def parse(cls, request: Request, max_limit: int) -> _EventQuery:
        params = request.query_params

        def number(name: str, default: int, least: int) -> int:
            raw = params.get(name)
            if raw is None or raw == "":
                return default
            try:
                value = int(raw)
            except ValueError:
                raise Problem(400, f"{name} must be an integer") from None
            if not least <= value <= _MAX_BIGINT:
                raise Problem(400, f"{name} must be between {least} and {_MAX_BIGINT}")
            return value

        def text(name: str) -> str | None:
            value = params.get(name) or None
            if value is not None and "\x00" in value:
                raise Problem(400, f"{name} contains a NUL character")
            return value

        return cls(
            limit=min(number("limit", min(100, max_limit), 1), max_limit),
            after=number("after", 0, 0),
            anonymous_id=text("anonymous_id"),
            user_id=text("user_id"),
            type=text("type"),
        )

    def run(self, store: Store) -> list[dict[str, Any]]:
        """The matching events, oldest first, each as sent plus what the collector recorded."""
        where = ["id > ?"]
        params: list[Any] = [self.after]
        if self.anonymous_id is not None:
            where.append("anonymous_id = ?")
            params.append(self.anonymous_id)
        if self.user_id is not None:
            where.append(
                "(user_id = ? OR anonymous_id IN"
                " (SELECT anonymous_id FROM identity_links WHERE user_id = ?))"
            )
            params += [self.user_id, self.user_id]
        if self.type is not None:
            where.append("type = ?")
            params.append(self.type)
        params.append(self.limit)
        sql = (
            "SELECT id, received_at, ip, network_userid, body FROM events"
            f" WHERE {' AND '.join(where)} ORDER BY id LIMIT ?"
        )
        with store.transaction() as tx:
            rows = tx.execute(sql, params).fetchall()
        found = []
        for row in rows:
            event = json.loads(row["body"])
            event.update(
                ip=row["ip"],
                network_userid=row["network_userid"],
                received_at=row["received_at"],
                _id=row["id"],
            )
            found.append(event)
        return found
