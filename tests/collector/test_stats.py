"""Cookieless visitor counts (collector.stats): daily salts, hashes kept apart from events,
and ``GET /api/stats``."""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.requests import Request

from collector import stats
from collector.store import Store

EVENTS_TABLE = (
    "CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, message_id TEXT UNIQUE,"
    " received_at TEXT, ip TEXT, network_userid TEXT, anonymous_id TEXT, user_id TEXT,"
    " session_id TEXT, body TEXT)"
)
DAY1 = dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC)
DAY2 = dt.datetime(2026, 12, 2, 9, 0, tzinfo=dt.UTC)
UA = "Mozilla/5.0 (test)"
_message_ids = (f"m-{n}" for n in itertools.count())


def request(ip: str = "203.0.113.7", origin: str = "https://shop.example") -> Request:
    return Request(
        {
            "type": "http",
            "method": "POST",
            "scheme": "https",
            "path": "/collect",
            "query_string": b"",
            "headers": [(b"host", b"shop.example"), (b"origin", origin.encode())],
            "client": (ip, 50000),
            "server": ("shop.example", 443),
        }
    )


@dataclass(frozen=True)
class Batch:
    """The contract's ``collector.events.Batch``, built by hand."""

    events: list[dict[str, Any]]
    anonymous: bool = False
    ip: str | None = "203.0.113.7"
    network_userid: str | None = None
    user_agent: str = UA
    received_at: dt.datetime = DAY1
    request: Request = field(default_factory=request)


def event(kind: str = "track", page: str = "https://shop.example/p", **ids: str) -> dict[str, Any]:
    return {"type": kind, "context": {"page": {"url": page}}, **ids}


def store_batch(store: Store, batch: Batch) -> None:
    """Store the batch's events as collector.events would, then run the hook."""
    with store.transaction() as tx:
        for e in batch.events:
            tx.execute(
                "INSERT INTO events (message_id, received_at, ip, anonymous_id, user_id, body)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    next(_message_ids),
                    batch.received_at.isoformat(),
                    batch.ip,
                    e.get("anonymousId"),
                    e.get("userId"),
                    "{}",
                ),
            )
        stats.StatsHook().stored(tx, batch)


def make_store(tmp_path: Path) -> Store:
    return Store(tmp_path / "s.db", [EVENTS_TABLE, *stats.TABLES])


def rows(store: Store, sql: str) -> list[Any]:
    with store.transaction() as tx:
        return [tuple(r) for r in tx.execute(sql).fetchall()]


def test_counts_pageviews_events_and_both_kinds_of_visitors(tmp_path: Path):
    store = make_store(tmp_path)
    store_batch(store, Batch([event("page", anonymousId="a1"), event(anonymousId="a1")]))
    store_batch(store, Batch([event("page", anonymousId="a2", userId="u2")]))
    store_batch(store, Batch([event("page"), event()]))  # cookieless visitor 1
    store_batch(store, Batch([event("page")], ip=None, request=request("198.51.100.1")))
    store_batch(store, Batch([event()], user_agent="Other/1"))  # same IP, other browser
    got = stats.day_stats(store, "2026-12-01")
    assert got == {
        "day": "2026-12-01",
        "pageviews": 4,
        "events": 7,
        "visitors": 5,
        "identified_visitors": 2,
        "cookieless_visitors": 3,
    }
    assert stats.day_stats(store, "2026-11-30")["visitors"] == 0


def test_a_user_token_makes_an_event_identified_not_hashed(tmp_path: Path):
    store = make_store(tmp_path)
    store_batch(store, Batch([event(userToken="anonymous-x")]))
    assert rows(store, "SELECT * FROM stats_visitors") == []


def test_sites_are_counted_apart(tmp_path: Path):
    store = make_store(tmp_path)
    store_batch(store, Batch([event(page="https://a.example/"), event(page="https://b.example/")]))
    assert stats.day_stats(store, "2026-12-01")["cookieless_visitors"] == 2


def test_hashes_never_sit_beside_events_and_hold_no_ip(tmp_path: Path):
    store = make_store(tmp_path)
    store_batch(store, Batch([event()], ip=None, request=request("198.51.100.1")))
    digest = rows(store, "SELECT visitor_hash FROM stats_visitors")[0][0]
    assert len(digest) == 64
    for row in rows(store, "SELECT * FROM events"):
        assert digest not in row and "198.51.100.1" not in row
    raw = (tmp_path / "s.db").read_bytes()
    assert b"198.51.100.1" not in raw


def test_a_new_day_gets_a_new_salt_and_the_old_one_and_its_hashes_go(tmp_path: Path):
    store = make_store(tmp_path)
    store_batch(store, Batch([event()]))
    store_batch(store, Batch([event()], user_agent="Other/1"))
    first = rows(store, "SELECT visitor_hash FROM stats_visitors")
    salt1 = rows(store, "SELECT day, salt FROM stats_salts")
    assert [d for d, _ in salt1] == ["2026-12-01"]
    store_batch(store, Batch([event()], received_at=DAY2))
    salts = rows(store, "SELECT day, salt FROM stats_salts")
    assert [d for d, _ in salts] == ["2026-12-02"]
    assert salts[0][1] != salt1[0][1]
    second = rows(store, "SELECT day, visitor_hash FROM stats_visitors")
    assert [d for d, _ in second] == ["2026-12-02"]
    assert second[0][1] not in {h for (h,) in first}, "the same visitor is unlinkable next day"
    assert stats.day_stats(store, "2026-12-01")["cookieless_visitors"] == 2
    assert stats.day_stats(store, "2026-12-02")["cookieless_visitors"] == 1


def test_the_api_answers_the_numbers_and_refuses_bad_days(client: Any):
    reply = client.get("/api/stats?day=2026-12-01")
    assert reply.status == 200
    assert reply.json() == {
        "day": "2026-12-01",
        "pageviews": 0,
        "events": 0,
        "visitors": 0,
        "identified_visitors": 0,
        "cookieless_visitors": 0,
    }
    for bad in ("2026-13-01", "yesterday", "2026-1-1", "2026-12-01'--", "%00"):
        reply = client.get("/api/stats?day=" + bad)
        assert reply.status == 400, bad
        assert "error" in reply.json()
    assert client.get("/api/stats").json()["day"] == dt.datetime.now(dt.UTC).date().isoformat()
