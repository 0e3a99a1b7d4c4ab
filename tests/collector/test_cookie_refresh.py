"""Server-set identity cookies (collector.cookie_refresh): which answers refresh which
cookie, with which attributes, and which never do."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from starlette.requests import Request

from collector import cookie_refresh
from collector.events import Batch as StoredBatch
from collector.settings import Settings

ANON = "6f1c1d4e-1111-4222-8333-444455556666"
TOKEN = "anonymous-7a1c1d4e-1111-4222-8333-444455556666"
NOW = dt.datetime(2026, 12, 2, 12, 0, tzinfo=dt.UTC)


def make_request(
    cookies: str = f"ajs_anonymous_id={ANON}; _ALGOLIA={TOKEN}",
    host: str = "shop.example",
    origin: str | None = "https://shop.example",
    fetch_site: str | None = "same-origin",
) -> Request:
    headers = [(b"host", host.encode())]
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    if fetch_site is not None:
        headers.append((b"sec-fetch-site", fetch_site.encode()))
    if cookies:
        headers.append((b"cookie", cookies.encode()))
    return Request(
        {
            "type": "http",
            "method": "POST",
            "scheme": "http",
            "path": "/collect",
            "query_string": b"",
            "headers": headers,
            "client": ("203.0.113.7", 50000),
            "server": (host, 80),
        }
    )


def Batch(  # noqa: N802 - reads like the dataclass it builds
    events: list[dict[str, Any]] | None = None,
    anonymous: bool = False,
    request: Request | None = None,
) -> StoredBatch:
    """A batch as collector.events hands it to the hook (by default: a same-origin https
    page's request carrying both id cookies, for one event with both ids)."""
    return StoredBatch(
        events=[{"type": "track", "anonymousId": ANON, "userToken": TOKEN}]
        if events is None
        else events,
        anonymous=anonymous,
        ip=None if anonymous else "203.0.113.7",
        network_userid=None,
        user_agent="UA",
        received_at=NOW,
        request=request or make_request(),
    )


def refresh(batch: StoredBatch, **settings: Any) -> dict[str, str]:
    """The Set-Cookie headers of the answer, by cookie name."""
    hook = cookie_refresh.event_hook(Settings(**settings), None)  # type: ignore[arg-type]
    out = {}
    for name, value in hook.headers(batch):
        assert name == "Set-Cookie"
        out[value.split("=", 1)[0]] = value
    return out


def attributes(header: str) -> dict[str, str]:
    parts = [p.strip() for p in header.split(";")]
    return {k.lower(): v for k, _, v in (p.partition("=") for p in parts[1:])}


def test_same_site_request_refreshes_both_ids_with_their_full_lifetime():
    got = refresh(Batch())
    assert set(got) == {"ajs_anonymous_id", "_ALGOLIA"}
    assert got["ajs_anonymous_id"].startswith(f"ajs_anonymous_id={ANON};")
    assert got["_ALGOLIA"].startswith(f"_ALGOLIA={TOKEN};")
    anon = attributes(got["ajs_anonymous_id"])
    assert anon["max-age"] == str(365 * 24 * 3600)
    assert anon["expires"] == "Thu, 02 Dec 2027 12:00:00 GMT"
    assert anon["path"] == "/" and anon["samesite"] == "Lax"
    assert "domain" not in anon, "host-only, like the tracker's own cookie"
    assert "httponly" not in anon, "the tracker must still read it"
    assert "secure" in anon, "the page is https"
    assert attributes(got["_ALGOLIA"])["max-age"] == "15552000"


def test_the_raw_value_is_echoed_as_the_tracker_wrote_it():
    quoted = f"ajs_anonymous_id=%22{ANON}%22"
    got = refresh(Batch(request=make_request(cookies=quoted)))
    assert got["ajs_anonymous_id"].startswith(f"ajs_anonymous_id=%22{ANON}%22;")


def test_never_for_anonymous_requests_or_denied_consent():
    assert refresh(Batch(anonymous=True)) == {}
    denied = f"ajs_anonymous_id={ANON}; _ALGOLIA={TOKEN}; _trk_consent=denied"
    assert refresh(Batch(request=make_request(cookies=denied))) == {}


def test_never_for_a_value_the_request_did_not_carry_or_the_events_do_not_hold():
    assert refresh(Batch(request=make_request(cookies=""))) == {}
    other = "ajs_anonymous_id=00000000-1111-4222-8333-444455556666"
    assert refresh(Batch(request=make_request(cookies=other))) == {}
    only_cookie = Batch(events=[{"type": "track", "anonymousId": "someone-else"}])
    assert refresh(only_cookie) == {}
    assert refresh(Batch(events=[])) == {}


def test_only_anonymous_tokens_and_unambiguous_cookies():
    user_token = Batch(
        events=[{"type": "track", "userToken": "user-42"}],
        request=make_request(cookies="_ALGOLIA=user-42"),
    )
    assert refresh(user_token) == {}
    twice = f"ajs_anonymous_id={ANON}; ajs_anonymous_id={ANON}"
    assert refresh(Batch(request=make_request(cookies=twice))) == {}


def test_cross_site_or_other_host_requests_are_not_refreshed():
    assert refresh(Batch(request=make_request(origin="https://evil.example"))) == {}
    assert refresh(Batch(request=make_request(fetch_site="cross-site"))) == {}
    other_host = make_request(host="collect.shop.example", origin="https://www.shop.example")
    assert refresh(Batch(request=other_host)) == {}
    assert refresh(Batch(request=make_request(origin=None, fetch_site=None))) == {}


def test_same_origin_fetch_without_origin_header_is_refreshed():
    got = refresh(Batch(request=make_request(origin=None, fetch_site="same-origin")))
    assert set(got) == {"ajs_anonymous_id", "_ALGOLIA"}
    assert "secure" not in attributes(got["ajs_anonymous_id"]), "plain http page"


def test_a_configured_cookie_domain_covers_subdomains():
    sub = make_request(
        host="collect.shop.example", origin="https://www.shop.example", fetch_site="same-site"
    )
    got = refresh(Batch(request=sub), cookie_refresh_domain=".shop.example")
    assert attributes(got["ajs_anonymous_id"])["domain"] == "shop.example"
    elsewhere = make_request(host="collect.other.example", origin="https://www.shop.example")
    assert refresh(Batch(request=elsewhere), cookie_refresh_domain="shop.example") == {}


def test_settings_switch_it_off_and_set_the_token_lifetime():
    assert refresh(Batch(), cookie_refresh=False) == {}
    got = refresh(Batch(), token_cookie_max_age=3600)
    assert attributes(got["_ALGOLIA"])["max-age"] == "3600"


def test_unsafe_raw_values_are_never_echoed():
    events = [{"type": "track", "anonymousId": "a b"}]
    assert refresh(Batch(events=events, request=make_request(cookies="ajs_anonymous_id=a b"))) == {}


# --- end to end: the answer of POST /collect and GET /i (SQLite and PostgreSQL) -------------

SAME_ORIGIN = {"origin": "http://testserver", "sec-fetch-site": "same-origin"}


def sent(**ids: str) -> dict[str, Any]:
    return {
        "type": "track",
        "messageId": str(uuid.uuid4()),
        "timestamp": 1764670000000,
        "event": "Clicked",
        "context": {"page": {"url": "http://testserver/"}},
        **ids,
    }


def set_cookies(reply: Any) -> dict[str, str]:
    out = {}
    for key, value in reply.extra["headers"]:
        if key == "set-cookie":
            out[value.split("=", 1)[0]] = value
    return out


def test_collect_answer_refreshes_the_cookies_the_request_carried(client: Any):
    headers = {**SAME_ORIGIN, "cookie": f"ajs_anonymous_id=%22{ANON}%22; _ALGOLIA={TOKEN}"}
    reply = client.post("/collect", [sent(anonymousId=ANON, userToken=TOKEN)], headers)
    assert reply.status in (200, 204), reply.text
    got = set_cookies(reply)
    assert got["ajs_anonymous_id"].startswith(f"ajs_anonymous_id=%22{ANON}%22; Max-Age=31536000;")
    assert got["_ALGOLIA"].startswith(f"_ALGOLIA={TOKEN}; Max-Age=15552000;")
    for name in ("ajs_anonymous_id", "_ALGOLIA"):
        attrs = attributes(got[name])
        assert attrs["path"] == "/" and "domain" not in attrs and "httponly" not in attrs
    assert "trk_nuid" in got, "the collector's own network cookie is still set"


def test_the_pixel_answer_refreshes_too(client: Any):
    from tracker.transport import query_string

    headers = {"referer": "http://testserver/page", "cookie": f"ajs_anonymous_id={ANON}"}
    reply = client.get("/i?" + query_string(sent(anonymousId=ANON)), headers)
    assert reply.status == 200
    assert "ajs_anonymous_id" in set_cookies(reply)


def test_collect_never_refreshes_anonymous_gpc_or_cross_site_requests(make_client: Any):
    client = make_client(gpc_anonymises=True)
    carried = {"cookie": f"ajs_anonymous_id={ANON}; _ALGOLIA={TOKEN}"}
    ours = {"ajs_anonymous_id", "_ALGOLIA"}
    cases = [
        {**SAME_ORIGIN, **carried, "sp-anonymous": "*"},
        {**SAME_ORIGIN, **carried, "sec-gpc": "1"},
        {"origin": "http://shop.example", "sec-fetch-site": "cross-site", **carried},
        {**SAME_ORIGIN},
    ]
    for headers in cases:
        reply = client.post("/collect", [sent(anonymousId=ANON, userToken=TOKEN)], headers)
        assert reply.status in (200, 204), reply.text
        assert not set(set_cookies(reply)) & ours, headers
    granted = {
        **SAME_ORIGIN,
        "sec-gpc": "1",
        "cookie": carried["cookie"] + "; _trk_consent=granted",
    }
    reply = client.post("/collect", [sent(anonymousId=ANON, userToken=TOKEN)], granted)
    assert set(set_cookies(reply)) >= ours, "consent granted overrides the GPC signal"


def test_no_cookie_refresh_setting(make_client: Any):
    client = make_client(cookie_refresh=False)
    headers = {**SAME_ORIGIN, "cookie": f"ajs_anonymous_id={ANON}"}
    reply = client.post("/collect", [sent(anonymousId=ANON)], headers)
    assert "ajs_anonymous_id" not in set_cookies(reply)
