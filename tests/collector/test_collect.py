"""``POST /collect``, ``GET /i`` and ``GET /api/events`` on SQLite and PostgreSQL: storage,
dedupe, one transaction per batch, the network cookie, anonymisation and every bad input."""

from __future__ import annotations

import json
import re
import threading
import uuid
from types import SimpleNamespace
from typing import Any

import pytest

from collector import app as app_module
from collector.events import GIF, Batch
from collector.store import Transaction
from tests.pg import Cluster
from tracker.transport import query_string

UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def event(message_id: str | None = None, **fields: Any) -> dict[str, Any]:
    """An event as the tracker sends it."""
    return {
        "type": "track",
        "messageId": message_id or str(uuid.uuid4()),
        "timestamp": 1764670000000,
        "appId": "shop",
        "event": "Clicked",
        "properties": {"n": 1},
        "context": {"library": {"name": "tracker", "version": "0.1.0"}},
        **fields,
    }


def stored(client: Any, query: str = "") -> list[dict[str, Any]]:
    reply = client.get("/api/events?limit=1000" + query)
    assert reply.status == 200, reply.text
    return list(reply.json())


def row_count(client: Any) -> int:
    with client.app.state.store.transaction() as tx:
        return int(tx.execute("SELECT count(*) FROM events").fetchone()[0])


def cookies(reply: Any) -> list[str]:
    return [v for k, v in reply.extra["headers"] if k == "set-cookie"]


def assert_error(reply: Any, status: int, words: str) -> None:
    assert reply.status == status, (reply.status, reply.text)
    assert reply.headers["content-type"] == "application/json"
    error = reply.json()["error"]
    assert isinstance(error, str)
    assert words.lower() in error.lower(), error


# --- storing ---------------------------------------------------------------------------------


def test_one_event_stored_as_sent_with_what_the_collector_saw(client: Any) -> None:
    sent = event(anonymousId="a-1", userId="u-1")
    sent["context"]["session"] = {"id": "s-1", "index": 2}
    reply = client.post("/collect", sent)
    assert reply.status == 200
    assert reply.json() == {"received": 1, "stored": 1}
    [got] = stored(client)
    nuid = got.pop("network_userid")
    assert UUID4.match(nuid)
    assert got.pop("ip") == "127.0.0.1"
    assert TIME.match(got.pop("received_at"))
    assert isinstance(got.pop("_id"), int)
    assert got == sent
    with client.app.state.store.transaction() as tx:
        row = tx.execute("SELECT anonymous_id, user_id, session_id, type FROM events").fetchone()
    assert tuple(row) == ("a-1", "u-1", "s-1", "track")


def test_list_and_text_plain_beacon_body(client: Any) -> None:
    batch = [event(), event(), event()]
    body = json.dumps(batch).encode()
    reply = client.request("POST", "/collect", {"content-type": "text/plain;charset=UTF-8"}, body)
    assert reply.status == 200
    assert [e["messageId"] for e in stored(client)] == [e["messageId"] for e in batch]


def test_utf8_text_kept(client: Any) -> None:
    sent = event(properties={"name": "café ☕ 𝄞"})
    assert client.post("/collect", sent).status == 200
    assert stored(client)[0]["properties"] == {"name": "café ☕ 𝄞"}


def test_retried_batch_stored_once(client: Any) -> None:
    batch = [event(), event()]
    assert client.post("/collect", batch).json() == {"received": 2, "stored": 2}
    assert client.post("/collect", batch).json() == {"received": 2, "stored": 0}
    partly = [batch[1], event()]
    assert client.post("/collect", partly).json() == {"received": 2, "stored": 1}
    assert row_count(client) == 3


def test_duplicate_inside_one_batch_stored_once(client: Any) -> None:
    one = event()
    reply = client.post("/collect", [one, dict(one, event="Other")])
    assert reply.json() == {"received": 2, "stored": 1}
    [got] = stored(client)
    assert got["event"] == "Clicked"


def test_batch_with_one_invalid_event_stores_nothing(client: Any) -> None:
    bad = event()
    del bad["messageId"]
    reply = client.post("/collect", [event(), event(), bad, event()])
    assert_error(reply, 400, "event 2: messageId is missing")
    assert row_count(client) == 0


def test_large_batch_in_one_transaction(make_client: Any) -> None:
    client = make_client(max_batch_events=450)
    batch = [event() for _ in range(450)]
    assert client.post("/collect", batch).json() == {"received": 450, "stored": 450}
    assert row_count(client) == 450


def test_database_down_is_503_json(client: Any) -> None:
    client.app.state.store.close()
    assert_error(client.post("/collect", event()), 503, "database")
    assert_error(client.get("/i?" + query_string(event())), 503, "database")
    assert_error(client.get("/api/events"), 503, "database")


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_postgresql_outage_is_503_then_recovers(make_client: Any) -> None:
    cluster = Cluster().start()  # its own server: this one is stopped mid-test
    try:
        client = make_client(db=cluster.create_database())
        assert client.post("/collect", event()).status == 200
        cluster.pause()
        retried = [event(), event()]
        assert_error(client.post("/collect", retried), 503, "database")
        assert_error(client.get("/api/events"), 503, "database")
        cluster.resume()
        # Pooled connections broken by the restart are dropped as they fail (each a 503).
        statuses = [client.post("/collect", retried).status for _ in range(10)]
        assert set(statuses) <= {200, 503} and statuses[-1] == 200
        assert len(stored(client)) == 3
    finally:
        cluster.stop()


# --- the network cookie and the recorded IP --------------------------------------------------


def test_network_cookie_set_once_then_reused(client: Any) -> None:
    first = client.post("/collect", event())
    [cookie] = cookies(first)
    value = cookie.split(";")[0].removeprefix("trk_nuid=")
    assert UUID4.match(value)
    attributes = [a.strip() for a in cookie.split(";")[1:]]
    assert attributes == ["Max-Age=31536000", "Path=/", "HttpOnly", "SameSite=Lax"]
    second = client.post("/collect", event(), {"cookie": f"trk_nuid={value}; other=1"})
    assert cookies(second) == []
    assert [e["network_userid"] for e in stored(client)] == [value, value]


def test_unusable_network_cookie_replaced(client: Any) -> None:
    reply = client.post("/collect", event(), {"cookie": "trk_nuid=not-a-uuid"})
    [cookie] = cookies(reply)
    assert UUID4.match(cookie.split(";")[0].removeprefix("trk_nuid="))


def test_cross_site_https_cookie_is_samesite_none_secure(client: Any) -> None:
    headers = {"sec-fetch-site": "cross-site", "origin": "https://shop.example"}
    [cookie] = cookies(client.post("/collect", event(), headers, scheme="https"))
    assert cookie.endswith("; HttpOnly; SameSite=None; Secure")
    [same_site] = cookies(
        client.post("/collect", event(), {"sec-fetch-site": "same-site"}, scheme="https")
    )
    assert same_site.endswith("; SameSite=Lax")
    [plain_http] = cookies(client.post("/collect", event(), headers))
    assert plain_http.endswith("; SameSite=Lax")


def test_sp_anonymous_records_no_ip_and_no_cookie(client: Any) -> None:
    nuid = str(uuid.uuid4())
    sent = event(context={"ip": "203.0.113.9"})
    headers = {"sp-anonymous": "*", "cookie": f"trk_nuid={nuid}"}
    reply = client.post("/collect", sent, headers)
    assert reply.status == 200
    assert cookies(reply) == []
    pixel = client.get("/i?" + query_string(event()), {"sp-anonymous": "*"})
    assert pixel.status == 200
    assert cookies(pixel) == []
    got = stored(client)
    assert [(e["ip"], e["network_userid"]) for e in got] == [(None, None), (None, None)]
    with client.app.state.store.transaction() as tx:
        rows = tx.execute("SELECT ip, network_userid FROM events").fetchall()
    assert [tuple(r) for r in rows] == [(None, None), (None, None)]


def test_context_ip_replaces_recorded_ip(client: Any) -> None:
    client.post("/collect", [event(context={"ip": "203.0.113.9"}), event()])
    assert [e["ip"] for e in stored(client)] == ["203.0.113.9", "127.0.0.1"]


def test_forwarded_for_only_with_trust_proxy(make_client: Any) -> None:
    headers = {"x-forwarded-for": "198.51.100.1, 192.0.2.7"}
    plain = make_client()
    plain.post("/collect", event(), headers, client=("10.0.0.2", 1234))
    assert stored(plain)[0]["ip"] == "10.0.0.2"
    proxied = make_client(trust_proxy=True)
    proxied.post("/collect", event(), headers, client=("10.0.0.2", 1234))
    proxied.post("/collect", event(), {"x-forwarded-for": "garbage"}, client=("10.0.0.3", 1))
    assert [e["ip"] for e in stored(proxied)][-2:] == ["192.0.2.7", "10.0.0.3"]


def test_gpc_anonymises_only_when_honoured_and_not_consented(make_client: Any) -> None:
    gpc = {"sec-gpc": "1"}
    ignored = make_client()
    assert cookies(ignored.post("/collect", event(), gpc)) != []
    honoured = make_client(gpc_anonymises=True)
    assert cookies(honoured.post("/collect", event(), gpc)) == []
    granted = {**gpc, "cookie": "_trk_consent=granted"}
    assert cookies(honoured.post("/collect", event(), granted)) != []
    got = stored(honoured)[-2:]
    assert got[0]["ip"] is None and got[0]["network_userid"] is None
    assert got[1]["ip"] == "127.0.0.1" and got[1]["network_userid"]


# --- GET /i ------------------------------------------------------------------------------------


def test_pixel_stores_the_event_and_answers_a_gif(client: Any) -> None:
    sent = event(
        userId="42",
        anonymousId="a-1",
        properties={"price": 9.5, "tags": ["x", "y"], "ok": True, "none": None},
    )
    sent["context"]["page"] = {"url": "https://shop.example/?q=1&r=2", "title": "Shop & co"}
    reply = client.get("/i?" + query_string(sent))
    assert reply.status == 200
    assert reply.headers["content-type"] == "image/gif"
    assert reply.headers["cache-control"] == "no-store"
    assert reply.body == GIF
    assert reply.body[:6] == b"GIF89a" and reply.body[6:10] == b"\x01\x00\x01\x00"
    [got] = stored(client)
    for key in ("ip", "network_userid", "received_at", "_id"):
        got.pop(key)
    assert got == sent


def test_pixel_string_fields_stay_strings(client: Any) -> None:
    sent = event(userId="123", anonymousId="null", event="[1]", label="1e999")
    assert client.get("/i?" + query_string(sent)).status == 200
    got = stored(client)[0]
    assert (got["userId"], got["anonymousId"], got["event"]) == ("123", "null", "[1]")
    assert got["label"] == "1e999"  # not a finite number: kept as the string it was


@pytest.mark.parametrize(
    ("query", "status", "words"),
    [
        ("type=track", 400, "messageId is missing"),
        ("messageId=%ff%fe", 400, "not UTF-8"),
        ("messageId=a&messageId=b", 400, "given twice"),
        ("messageId=a&properties=%7B%22a%22%3A", 400, "'properties': invalid JSON"),
        ("messageId=a&properties=" + "%5B" * 40 + "%5D" * 40, 400, "nested deeper"),
        ("messageId=a&context=5", 400, "context must be an object"),
        ("", 400, "messageId is missing"),
    ],
)
def test_pixel_bad_input(client: Any, query: str, status: int, words: str) -> None:
    assert_error(client.get("/i?" + query), status, words)
    assert row_count(client) == 0


# --- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b'{"messageId": "a",', "invalid JSON"),
        (b"[1, 2", "invalid JSON"),
        (b'{"messageId": "a", "n": NaN}', "invalid JSON"),
        (b'{"messageId": "a", "n": -Infinity}', "invalid JSON"),
        (b'{"messageId": "a", "n": 1e999}', "out of range"),
        (b'{"messageId": "a", "n": ' + b"1" * 5000 + b"}", "invalid JSON"),
        (b'{"messageId": "caf\xe9"}', "not UTF-8"),
        (b"", "empty body"),
        (b"   ", "empty body"),
        (b"[]", "no events"),
        (b'"just a string"', "event 0 is not an object"),
        (b'[{"messageId": "a"}, 5]', "event 1 is not an object"),
        (b'{"type": "track"}', "messageId is missing"),
        (b'{"messageId": null}', "messageId is missing"),
        (b'{"messageId": 5}', "messageId must be a non-empty string"),
        (b'{"messageId": ""}', "messageId must be a non-empty string"),
        (b'{"messageId": "' + b"x" * 101 + b'"}', "longer than 100"),
        (b'{"messageId": "a", "anonymousId": 5}', "anonymousId must be a string"),
        (b'{"messageId": "a", "userId": {}}', "userId must be a string"),
        (b'{"messageId": "a", "type": []}', "type must be a string"),
        (b'{"messageId": "a", "context": "x"}', "context must be an object"),
        (b'{"messageId": "a", "context": {"ip": 5}}', "context.ip must be a string"),
        (b'{"messageId": "a", "context": {"ip": "nope"}}', "not an IP address"),
        (b'{"messageId": "a", "context": {"session": 1}}', "session must be an object"),
        (b'{"messageId": "a", "session": {"id": 7}}', "session.id must be a string"),
        (b'{"messageId": "a\\u0000"}', "messageId contains a NUL"),
        (b'{"messageId": "a", "userId": "u\\u0000"}', "userId contains a NUL"),
        (b'{"messageId": "a", "anonymousId": "' + b"x" * 501 + b'"}', "longer than 500"),
        (b'{"messageId": "a", "context": {"session": {"id": "' + b"s" * 501 + b'"}}}', "500"),
        (b'[{"messageId": "a"}, {"messageId": "b", "p": "\\ud800"}]', "event 1: a string"),
        (b'{"messageId": "\\udfff"}', "lone UTF-16 surrogate"),
    ],
)
def test_bad_body_is_400_with_a_clear_error(client: Any, body: bytes, words: str) -> None:
    assert_error(client.post("/collect", body), 400, words)
    assert row_count(client) == 0


def test_ten_megabyte_body_refused_without_reading_it_all(client: Any) -> None:
    megabyte = b" " * 1_000_000
    streamed = client.post("/collect", b"", chunks=[b"[" + megabyte] + [megabyte] * 9)
    assert_error(streamed, 413, "limit")
    assert streamed.extra["chunks_read"] <= 2
    declared = client.post("/collect", b"", {"content-length": "10000000"}, chunks=[megabyte] * 10)
    assert_error(declared, 413, "limit")
    assert declared.extra["chunks_read"] == 0
    assert row_count(client) == 0


def test_body_limit_is_configurable(make_client: Any) -> None:
    client = make_client(max_body_bytes=100)
    assert client.post("/collect", event(properties={})).status == 413
    assert client.post("/collect", {"messageId": "m"}).status == 200


def test_ten_thousand_events_refused(client: Any) -> None:
    batch = [{"messageId": str(i)} for i in range(10_000)]
    assert_error(client.post("/collect", batch), 413, "at most 500")
    assert row_count(client) == 0


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
        b'{"messageId": "a", "p": ' + b"[" * 33 + b"]" * 33 + b"}",
        b"[" * 200_000,
    ],
)
def test_deep_nesting_is_400_not_a_crash(client: Any, body: bytes) -> None:
    assert_error(client.post("/collect", body), 400, "nested deeper than 32")


def test_nesting_inside_strings_and_at_the_limit_is_fine(client: Any) -> None:
    deep = {"messageId": "a", "text": "[{" * 500 + '\\"]'}
    nested: Any = 1
    for _ in range(30):
        nested = [nested]
    at_limit = {"messageId": "b", "p": nested}  # list + object + 30 arrays = 32
    assert client.post("/collect", [deep, at_limit]).status == 200
    assert stored(client)[1]["p"] == nested


@pytest.mark.parametrize(
    "content_type", ["", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]
)
def test_wrong_content_type_is_415(client: Any, content_type: str) -> None:
    headers = {"content-type": content_type} if content_type else {}
    reply = client.request("POST", "/collect", headers, json.dumps(event()).encode())
    assert_error(reply, 415, "application/json")
    assert row_count(client) == 0


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("GET", "/collect", "POST"),
        ("PUT", "/collect", "POST"),
        ("POST", "/i", "GET"),
        ("DELETE", "/api/events", "GET"),
    ],
)
def test_wrong_method_is_405_json(client: Any, method: str, path: str, allowed: str) -> None:
    reply = client.request(method, path)
    assert_error(reply, 405, f"use {allowed}")
    assert reply.headers["allow"] == allowed


# --- GET /api/events ---------------------------------------------------------------------------


def test_api_events_paging_oldest_first(client: Any) -> None:
    batch = [event(str(i)) for i in range(7)]
    client.post("/collect", batch)
    first = client.get("/api/events?limit=3").json()
    assert [e["messageId"] for e in first] == ["0", "1", "2"]
    after = first[-1]["_id"]
    rest = client.get(f"/api/events?limit=3&after={after}").json()
    assert [e["messageId"] for e in rest] == ["3", "4", "5"]
    last = client.get(f"/api/events?after={rest[-1]['_id']}").json()
    assert [e["messageId"] for e in last] == ["6"]


def test_api_events_filters(client: Any) -> None:
    client.post(
        "/collect",
        [
            event("1", anonymousId="anon-a"),
            event("2", anonymousId="anon-b", type="page"),
            event("3", anonymousId="anon-a", userId="alice"),
            event("4", anonymousId="anon-c"),
            event("5", userId="bob"),
        ],
    )
    with client.app.state.store.transaction() as tx:
        tx.execute(
            "INSERT INTO identity_links (anonymous_id, user_id, linked_at) VALUES (?, ?, ?)",
            ("anon-c", "alice", "2026-01-01T00:00:00.000Z"),
        )

    def ids(query: str) -> list[str]:
        return [e["messageId"] for e in stored(client, query)]

    assert ids("&anonymous_id=anon-a") == ["1", "3"]
    assert ids("&user_id=alice") == ["3", "4"]
    assert ids("&user_id=bob") == ["5"]
    assert ids("&type=page") == ["2"]
    assert ids("&type=track&anonymous_id=anon-a&user_id=alice") == ["3"]
    assert ids("&user_id=nobody") == []


def test_api_events_nul_in_a_filter_is_400(client: Any) -> None:
    assert_error(client.get("/api/events?user_id=a%00b"), 400, "user_id contains a NUL")


def test_stored_text_round_trips(client: Any) -> None:
    sent = event(properties={"nul": "a\u0000b", "emoji": "😀", "escaped": '"\\/'})
    assert client.post("/collect", sent).status == 200
    assert stored(client)[0]["properties"] == sent["properties"]


def test_api_events_limit_capped_and_checked(make_client: Any) -> None:
    client = make_client(max_api_limit=2)
    client.post("/collect", [event(), event(), event()])
    assert len(client.get("/api/events?limit=50").json()) == 2
    for query in ("limit=x", "limit=0", "after=-1", "after=1.5", "after=" + "9" * 30):
        assert_error(client.get("/api/events?" + query), 400, query.split("=")[0])


# --- hooks and several collectors ------------------------------------------------------------


class RecordingHook:
    """Writes each batch's new message ids in the same transaction and adds a header."""

    def __init__(self, fail: bool = False) -> None:
        self.batches: list[Batch] = []
        self.fail = fail

    def stored(self, tx: Transaction, batch: Batch) -> None:
        self.batches.append(batch)
        for e in batch.events:
            tx.execute("INSERT INTO hook_seen (message_id) VALUES (?)", (e["messageId"],))
        if self.fail:
            raise RuntimeError("hook failed")

    def headers(self, batch: Batch) -> list[tuple[str, str]]:
        return [("set-cookie", "hooked=1; Path=/"), ("x-hook-count", str(len(batch.events)))]


@pytest.mark.parametrize("fail", [False, True])
def test_event_hook_runs_in_the_batch_transaction(
    make_client: Any, monkeypatch: pytest.MonkeyPatch, fail: bool
) -> None:
    hook = RecordingHook(fail)
    feature = SimpleNamespace(
        TABLES=("CREATE TABLE IF NOT EXISTS hook_seen (message_id TEXT)",),
        routes=lambda settings, store: [],
        event_hook=lambda settings, store: hook,
    )
    monkeypatch.setattr(app_module, "FEATURES", (*app_module.FEATURES, feature))
    client = make_client()
    one, two = event(), event()
    client.post("/collect", [one])
    reply = client.post("/collect", [one, two], {"user-agent": "UA/1", "sp-anonymous": "*"})
    with client.app.state.store.transaction() as tx:
        seen = [r[0] for r in tx.execute("SELECT message_id FROM hook_seen").fetchall()]
    if fail:
        assert_error(reply, 503, "database")
        assert seen == [] and row_count(client) == 0
        return
    assert reply.status == 200
    assert reply.headers["x-hook-count"] == "1"
    assert cookies(reply) == ["hooked=1; Path=/"]
    assert seen == [one["messageId"], two["messageId"]]
    batch = hook.batches[-1]
    assert [e["messageId"] for e in batch.events] == [two["messageId"]]
    assert (batch.anonymous, batch.ip, batch.network_userid) == (True, None, None)
    assert batch.user_agent == "UA/1"
    assert batch.received_at.tzinfo is not None
    first = hook.batches[0]
    assert (first.anonymous, first.ip) == (False, "127.0.0.1")
    assert first.network_userid and UUID4.match(first.network_userid)


def test_two_collectors_on_one_database_store_each_event_once(make_client: Any) -> None:
    left, right = make_client(), make_client()
    batches = [[event() for _ in range(20)] for _ in range(10)]
    replies: list[Any] = []
    start = threading.Barrier(2)

    def send(client: Any) -> None:
        start.wait()
        for batch in batches:
            replies.append(client.post("/collect", batch))

    threads = [threading.Thread(target=send, args=(c,)) for c in (left, right)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [r.status for r in replies] == [200] * 20
    assert sum(r.json()["stored"] for r in replies) == 200
    assert row_count(left) == row_count(right) == 200
    ids = [e["messageId"] for e in stored(right)]
    assert sorted(ids) == sorted(e["messageId"] for b in batches for e in b)


def test_batch_and_depth_limits_are_configurable(make_client: Any) -> None:
    client = make_client(max_batch_events=3, max_json_depth=4)
    assert_error(client.post("/collect", [event() for _ in range(4)]), 413, "at most 3")
    assert client.post("/collect", [event() for _ in range(3)]).status == 200
    shallow = {"messageId": "s", "p": {"q": [1]}}  # list, event, p, q: 4 levels
    assert client.post("/collect", [shallow]).status == 200
    deep = {"messageId": "d", "p": {"q": [[1]]}}
    assert_error(client.post("/collect", [deep]), 400, "deeper than 4")
