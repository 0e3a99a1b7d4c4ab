"""Daily counts, cookieless visitors included: ``GET /api/stats?day=YYYY-MM-DD``.

Events that carry an identifier (anonymousId, userId, user token) are counted by their
distinct anonymousId/userId in the ``events`` table. An event with none is counted by a
hash of a random salt for the day, the site's host, the client IP and the user agent
(Plausible's method): the salt is created on the day's first event, older salts are
deleted then (so no hash can be recomputed or linked across days), and the hashes live
only in ``stats_visitors``, never beside an event and never in an answer; when a day's
salt goes, that day's hashes are folded into a plain count and deleted too.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from typing import Any
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from collector.endpoints import ANY_METHOD, by_method
from collector.events import Batch
from collector.reads import read_guard
from collector.settings import Settings
from collector.store import Store, Transaction

__all__ = ["IDENTIFIERS", "TABLES", "StatsHook", "day_stats", "event_hook", "routes"]

TABLES = (
    "CREATE TABLE IF NOT EXISTS stats_salts (day TEXT PRIMARY KEY, salt TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS stats_visitors (day TEXT NOT NULL, visitor_hash TEXT NOT NULL,"
    " PRIMARY KEY (day, visitor_hash))",
    "CREATE TABLE IF NOT EXISTS stats_identified (day TEXT NOT NULL, visitor_hash TEXT NOT NULL,"
    " PRIMARY KEY (day, visitor_hash))",
    "CREATE TABLE IF NOT EXISTS stats_days (day TEXT PRIMARY KEY,"
    " pageviews BIGINT NOT NULL DEFAULT 0, events BIGINT NOT NULL DEFAULT 0,"
    " cookieless_visitors BIGINT NOT NULL DEFAULT 0)",
)

IDENTIFIERS = ("anonymousId", "userId", "userToken", "authenticatedUserToken")
"""An event carrying any of these is an identified visitor's, never hashed."""

_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _identifier(event: dict[str, Any]) -> str | None:
    """The event's first identifier as ``key:value``, or None for a cookieless event."""
    for key in IDENTIFIERS:
        value = event.get(key)
        if isinstance(value, str) and value:
            return f"{key}:{value}"
    return None


def _site(event: dict[str, Any], request: Request) -> str:
    """The host of the page the event came from (context.page.url), else of the request's
    Origin, else the collector's own host."""
    context = event.get("context")
    page = context.get("page") if isinstance(context, dict) else None
    url = page.get("url") if isinstance(page, dict) else None
    for candidate in (url, request.headers.get("origin")):
        if isinstance(candidate, str):
            host = urlsplit(candidate).hostname
            if host:
                return host
    return request.url.hostname or ""


def _client_ip(batch: Batch, trust_proxy: bool) -> str:
    """The IP the hash uses: the recorded one, else (an anonymised request, whose IP is
    recorded nowhere) the one the request came from, used for the hash only."""
    if batch.ip:
        return batch.ip
    request = batch.request
    if trust_proxy and "x-forwarded-for" in request.headers:
        return request.headers["x-forwarded-for"].rsplit(",", 1)[-1].strip()
    return request.client.host if request.client else ""


def _salt(tx: Transaction, day: str) -> str | None:
    """The day's salt; the first event of a new day creates it and retires older days. None
    when ``day`` is over (a later day has begun): a batch received before midnight that
    commits after the day's salt went must not bring a salt back for a retired day."""
    share = " FOR SHARE" if tx.dialect == "postgresql" else ""  # retiring waits for us
    row = tx.execute(f"SELECT salt FROM stats_salts WHERE day = ?{share}", (day,)).fetchone()
    if row is not None:
        return str(row[0])
    if tx.execute("SELECT day FROM stats_days WHERE day > ? LIMIT 1", (day,)).fetchone():
        return None
    tx.execute(
        "INSERT INTO stats_salts (day, salt) VALUES (?, ?) ON CONFLICT (day) DO NOTHING",
        (day, secrets.token_hex(32)),
    )
    _retire(tx, day)
    row = tx.execute("SELECT salt FROM stats_salts WHERE day = ?", (day,)).fetchone()
    assert row is not None
    return str(row[0])


def _retire(tx: Transaction, day: str) -> None:
    """Delete the salts of days before ``day`` and fold their hashes into counts, so no
    hash can be linked across days; runs on a new day's first event and on every read."""
    tx.execute("DELETE FROM stats_salts WHERE day < ?", (day,))
    tx.execute(
        "UPDATE stats_days SET cookieless_visitors = cookieless_visitors + "
        "(SELECT COUNT(*) FROM stats_visitors v WHERE v.day = stats_days.day) WHERE day < ?",
        (day,),
    )
    tx.execute("DELETE FROM stats_visitors WHERE day < ?", (day,))


def visitor_hash(salt: str, site: str, ip: str, user_agent: str) -> str:
    """sha256 over the day's salt, site host, IP and user agent (NUL-separated)."""
    return hashlib.sha256("\0".join((salt, site, ip, user_agent)).encode()).hexdigest()


class StatsHook:
    """Counts each newly stored batch into its day (the day the collector received it)."""

    def __init__(self, trust_proxy: bool = False) -> None:
        self.trust_proxy = trust_proxy

    def stored(self, tx: Transaction, batch: Batch) -> None:
        if not batch.events:
            return
        day = batch.received_at.astimezone(dt.UTC).date().isoformat()
        identifiers = [_identifier(e) for e in batch.events]
        cookieless = [e for e, i in zip(batch.events, identifiers, strict=True) if i is None]
        # The salt first: retiring a day takes the salts before the day rows, and so do we,
        # so the two never wait on each other in a circle (PostgreSQL).
        salt = _salt(tx, day) if cookieless else None
        pageviews = sum(1 for e in batch.events if e.get("type") == "page")
        tx.execute(
            "INSERT INTO stats_days (day, pageviews, events) VALUES (?, ?, ?) "
            "ON CONFLICT (day) DO UPDATE SET pageviews = stats_days.pageviews + "
            "excluded.pageviews, events = stats_days.events + excluded.events",
            (day, pageviews, len(batch.events)),
        )
        for visitor in sorted({i for i in identifiers if i is not None}):
            tx.execute(
                "INSERT INTO stats_identified (day, visitor_hash) VALUES (?, ?) "
                "ON CONFLICT (day, visitor_hash) DO NOTHING",
                (day, hashlib.sha256(visitor.encode()).hexdigest()),
            )
        if not cookieless:
            return
        if salt is None:
            # The day is over and its hashes are folded: count this batch's visitors (one per
            # site: IP and user agent are the request's) straight into the day's number.
            sites = {_site(e, batch.request) for e in cookieless}
            tx.execute(
                "UPDATE stats_days SET cookieless_visitors = cookieless_visitors + ? WHERE day = ?",
                (len(sites), day),
            )
            return
        ip = _client_ip(batch, self.trust_proxy)
        hashes = {
            visitor_hash(salt, _site(e, batch.request), ip, batch.user_agent) for e in cookieless
        }
        for digest in sorted(hashes):
            tx.execute(
                "INSERT INTO stats_visitors (day, visitor_hash) VALUES (?, ?) "
                "ON CONFLICT (day, visitor_hash) DO NOTHING",
                (day, digest),
            )

    def headers(self, batch: Batch) -> list[tuple[str, str]]:
        return []


def event_hook(settings: Settings, store: Store) -> StatsHook:
    """The hook ``collector.events`` calls for every stored batch."""
    return StatsHook(settings.trust_proxy)


def day_stats(store: Store, day: str, today: str | None = None) -> dict[str, Any]:
    """The numbers of one UTC day; reading them also retires the salts of days before
    ``today`` (default: the current UTC day) if no event has done so yet."""
    today = today or dt.datetime.now(dt.UTC).date().isoformat()
    with store.transaction() as tx:
        _retire(tx, today)
        # Marks the days before today as over, for a batch that commits late (see _salt).
        tx.execute("INSERT INTO stats_days (day) VALUES (?) ON CONFLICT (day) DO NOTHING", (today,))
        row = tx.execute(
            "SELECT pageviews, events, cookieless_visitors FROM stats_days WHERE day = ?", (day,)
        ).fetchone()
        hashed = tx.execute("SELECT COUNT(*) FROM stats_visitors WHERE day = ?", (day,)).fetchone()
        identified = tx.execute(
            "SELECT COUNT(*) FROM stats_identified WHERE day = ?", (day,)
        ).fetchone()
    pageviews, events, folded = (int(v) for v in row) if row is not None else (0, 0, 0)
    cookieless = folded + int(hashed[0] if hashed else 0)
    known = int(identified[0] if identified else 0)
    return {
        "day": day,
        "pageviews": pageviews,
        "events": events,
        "visitors": known + cookieless,
        "identified_visitors": known,
        "cookieless_visitors": cookieless,
    }


def routes(settings: Settings, store: Store) -> list[BaseRoute]:
    """``GET /api/stats?day=YYYY-MM-DD`` (default: today, UTC)."""
    guard = read_guard(settings, store)

    async def stats(request: Request) -> JSONResponse:
        guard(request)
        day = request.query_params.get("day") or dt.datetime.now(dt.UTC).date().isoformat()
        try:
            if not _DAY.match(day):
                raise ValueError(day)
            dt.date.fromisoformat(day)
        except ValueError:
            return JSONResponse({"error": "day must be a date like 2026-01-31"}, status_code=400)
        return JSONResponse(await run_in_threadpool(day_stats, store, day))

    return [Route("/api/stats", by_method(GET=stats, HEAD=stats), methods=ANY_METHOD)]
