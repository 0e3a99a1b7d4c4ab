"""Cookieless visitor counts (collector.stats): daily salts, hashes kept apart from events,
and ``GET /api/stats``."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import uuid
from pathlib import Path
from typing import Any

from starlette.requests import Request

from collector import events, stats
from collector.events import Batch, format_time
from collector.store import Store

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


def batch(
    stored_events: list[dict[str, Any]],
    *,
    ip: str | None = "203.0.113.7",
    user_agent: str = UA,
    received_at: dt.datetime = DAY1,
    from_request: Request | None = None,
) -> Batch:
    """A batch as collector.events hands it to the hook (anonymous when ip is None)."""
    return Batch(
        events=stored_events,
        anonymous=ip is None,
        ip=ip,
        network_userid=None,
        user_agent=user_agent,
        received_at=received_at,
        request=from_request or request(),
    )


def event(kind: str = "track", page: str = "https://shop.example/p", **ids: str) -> dict[str, Any]:
    return {"type": kind, "context": {"page": {"url": page}}, **ids}


def store_batch(store: Store, done: Batch) -> None:
    """Store the batch's events as collector.events does, then run the hook."""
    with store.transaction() as tx:
        for e in done.events:
            tx.execute(
                "INSERT INTO events (message_id, received_at, ip, anonymous_id, user_id, body)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    next(_message_ids),
                    format_time(done.received_at),
                    done.ip,
                    e.get("anonymousId"),
                    e.get("userId"),
                    "{}",
                ),
            )
        stats.StatsHook().stored(tx, done)


def make_store(tmp_path: Path) -> Store:
    return Store(tmp_path / "s.db", [*events.TABLES, *stats.TABLES])


def rows(store: Store, sql: str) -> list[Any]:
    with store.transaction() as tx:
        return [tuple(r) for r in tx.execute(sql).fetchall()]


def test_counts_pageviews_events_and_both_kinds_of_visitors(tmp_path: Path):
    store = make_store(tmp_path)
    store_batch(store, batch([event("page", anonymousId="a1"), event(anonymousId="a1")]))
    store_batch(store, batch([event("page", anonymousId="a2", userId="u2")]))
    store_batch(store, batch([event("page"), event()]))  # cookieless visitor 1
    store_batch(store, batch([event("page")], ip=None, from_request=request("198.51.100.1")))
    store_batch(store, batch([event()], user_agent="Other/1"))  # same IP, other browser
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
    """An event carrying only a user token (search-insights style) is an identified
    visitor: counted once per token, never hashed."""
    store = make_store(tmp_path)
    store_batch(store, batch([event(userToken="anonymous-x"), event(userToken="anonymous-x")]))
    store_batch(store, batch([event(authenticatedUserToken="user-42")]))
    assert rows(store, "SELECT * FROM stats_visitors") == []
    got = stats.day_stats(store, "2026-12-01")
    assert (got["identified_visitors"], got["cookieless_visitors"], got["visitors"]) == (2, 0, 2)
    stored = json.dumps(rows(store, "SELECT * FROM stats_identified"))
    assert "anonymous-x" not in stored and "user-42" not in stored, "hashed, not kept raw"


def test_reading_the_numbers_retires_yesterdays_salt_without_a_new_event(tmp_path: Path):
    store = make_store(tmp_path)
    store_batch(store, batch([event()]))
    assert len(rows(store, "SELECT * FROM stats_salts")) == 1
    got = stats.day_stats(store, "2026-12-01", today="2026-12-02")
    assert got["cookieless_visitors"] == 1
    assert rows(store, "SELECT * FROM stats_salts") == []
    assert rows(store, "SELECT * FROM stats_visitors") == []


def test_sites_are_counted_apart(tmp_path: Path):
    store = make_store(tmp_path)
    store_batch(store, batch([event(page="https://a.example/"), event(page="https://b.example/")]))
    assert stats.day_stats(store, "2026-12-01")["cookieless_visitors"] == 2


def test_hashes_never_sit_beside_events_and_hold_no_ip(tmp_path: Path):
    store = make_store(tmp_path)
    store_batch(store, batch([event()], ip=None, from_request=request("198.51.100.1")))
    digest = rows(store, "SELECT visitor_hash FROM stats_visitors")[0][0]
    assert len(digest) == 64
    for row in rows(store, "SELECT * FROM events"):
        assert digest not in row and "198.51.100.1" not in row
    raw = (tmp_path / "s.db").read_bytes()
    assert b"198.51.100.1" not in raw


def test_a_new_day_gets_a_new_salt_and_the_old_one_and_its_hashes_go(tmp_path: Path):
    store = make_store(tmp_path)
    store_batch(store, batch([event()]))
    store_batch(store, batch([event()], user_agent="Other/1"))
    first = rows(store, "SELECT visitor_hash FROM stats_visitors")
    salt1 = rows(store, "SELECT day, salt FROM stats_salts")
    assert [d for d, _ in salt1] == ["2026-12-01"]
    store_batch(store, batch([event()], received_at=DAY2))
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
    reply = client.request("POST", "/api/stats", {}, b"")
    assert reply.status == 405 and reply.headers["allow"] == "GET, HEAD"
    assert "not allowed" in reply.json()["error"]


# --- end to end: POST /collect, then GET /api/stats (SQLite and PostgreSQL) -----------------


def sent(kind: str = "track", **ids: str) -> dict[str, Any]:
    """An event as the tracker sends it."""
    return {
        "type": kind,
        "messageId": str(uuid.uuid4()),
        "timestamp": 1764670000000,
        "appId": "shop",
        **({"event": "Clicked"} if kind == "track" else {"name": "Home"}),
        "properties": {},
        "context": {"page": {"url": "http://testserver/"}, "userAgent": "UA"},
        **ids,
    }


def post(client: Any, batch_events: list[dict[str, Any]], ip: str, ua: str, **headers: str) -> None:
    reply = client.post(
        "/collect",
        batch_events,
        {"user-agent": ua, **headers},
        client=(ip, 50000),
    )
    assert reply.status in (200, 204), reply.text


def test_collect_then_stats_counts_cookieless_and_identified_visitors(client: Any):
    anon = str(uuid.uuid4())
    post(client, [sent("page", anonymousId=anon), sent(anonymousId=anon)], "198.51.100.1", "A")
    post(client, [sent("page", anonymousId=str(uuid.uuid4()), userId="u1")], "198.51.100.1", "A")
    declined = {"sp-anonymous": "*"}
    post(client, [sent("page"), sent()], "198.51.100.2", "B", **declined)
    post(client, [sent("page")], "198.51.100.2", "B", **declined)  # the same visitor again
    post(client, [sent("page")], "198.51.100.3", "B", **declined)
    post(client, [sent()], "198.51.100.3", "C")  # anonymousTracking without server anonymisation
    today = dt.datetime.now(dt.UTC).date().isoformat()
    got = client.get("/api/stats?day=" + today).json()
    assert got == {
        "day": today,
        "pageviews": 5,
        "events": 8,
        "visitors": 5,
        "identified_visitors": 2,
        "cookieless_visitors": 3,
    }

    # Nothing the hash was made of, nor the hash, is stored beside the events or answered.
    with client.app.state.store.transaction() as tx:
        hashes = [r[0] for r in tx.execute("SELECT visitor_hash FROM stats_visitors").fetchall()]
        rows = [tuple(r) for r in tx.execute("SELECT * FROM events").fetchall()]
    assert len(hashes) == 3
    everything = json.dumps(rows, default=str) + client.get("/api/events?limit=100").text
    for digest in hashes:
        assert digest not in everything
    assert "198.51.100.2" not in everything
    assert all(
        r["ip"] is None
        for r in client.get("/api/events?limit=100").json()
        if r.get("anonymousId") is None and r["network_userid"] is None
    )


def test_a_retried_batch_is_not_counted_twice(client: Any):
    batch_events = [sent("page")]
    post(client, batch_events, "198.51.100.9", "A", **{"sp-anonymous": "*"})
    post(client, batch_events, "198.51.100.9", "A", **{"sp-anonymous": "*"})
    today = dt.datetime.now(dt.UTC).date().isoformat()
    got = client.get("/api/stats?day=" + today).json()
    assert (got["pageviews"], got["events"], got["cookieless_visitors"]) == (1, 1, 1)
