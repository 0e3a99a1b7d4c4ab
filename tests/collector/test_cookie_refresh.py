"""Server-set identity cookies (collector.cookie_refresh): which answers refresh which
cookie, with which attributes, and which never do."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request

from collector import cookie_refresh
from collector.settings import Settings

ANON = "6f1c1d4e-1111-4222-8333-444455556666"
TOKEN = "anonymous-7a1c1d4e-1111-4222-8333-444455556666"
NOW = dt.datetime(2026, 12, 2, 12, 0, tzinfo=dt.UTC)


def request(
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


@dataclass(frozen=True)
class Batch:
    """The contract's ``collector.events.Batch``, built by hand."""

    events: list[dict[str, Any]] = field(
        default_factory=lambda: [{"type": "track", "anonymousId": ANON, "userToken": TOKEN}]
    )
    anonymous: bool = False
    ip: str | None = "203.0.113.7"
    network_userid: str | None = None
    user_agent: str = "UA"
    received_at: dt.datetime = NOW
    request: Request = field(default_factory=request)


def refresh(batch: Batch, **settings: Any) -> dict[str, str]:
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
    got = refresh(Batch(request=request(cookies=quoted)))
    assert got["ajs_anonymous_id"].startswith(f"ajs_anonymous_id=%22{ANON}%22;")


def test_never_for_anonymous_requests_or_denied_consent():
    assert refresh(Batch(anonymous=True)) == {}
    denied = f"ajs_anonymous_id={ANON}; _ALGOLIA={TOKEN}; _trk_consent=denied"
    assert refresh(Batch(request=request(cookies=denied))) == {}


def test_never_for_a_value_the_request_did_not_carry_or_the_events_do_not_hold():
    assert refresh(Batch(request=request(cookies=""))) == {}
    other = "ajs_anonymous_id=00000000-1111-4222-8333-444455556666"
    assert refresh(Batch(request=request(cookies=other))) == {}
    only_cookie = Batch(events=[{"type": "track", "anonymousId": "someone-else"}])
    assert refresh(only_cookie) == {}
    assert refresh(Batch(events=[])) == {}


def test_only_anonymous_tokens_and_unambiguous_cookies():
    user_token = Batch(
        events=[{"type": "track", "userToken": "user-42"}],
        request=request(cookies="_ALGOLIA=user-42"),
    )
    assert refresh(user_token) == {}
    twice = f"ajs_anonymous_id={ANON}; ajs_anonymous_id={ANON}"
    assert refresh(Batch(request=request(cookies=twice))) == {}


def test_cross_site_or_other_host_requests_are_not_refreshed():
    assert refresh(Batch(request=request(origin="https://evil.example"))) == {}
    assert refresh(Batch(request=request(fetch_site="cross-site"))) == {}
    other_host = request(host="collect.shop.example", origin="https://www.shop.example")
    assert refresh(Batch(request=other_host)) == {}
    assert refresh(Batch(request=request(origin=None, fetch_site=None))) == {}


def test_same_origin_fetch_without_origin_header_is_refreshed():
    got = refresh(Batch(request=request(origin=None, fetch_site="same-origin")))
    assert set(got) == {"ajs_anonymous_id", "_ALGOLIA"}
    assert "secure" not in attributes(got["ajs_anonymous_id"]), "plain http page"


def test_a_configured_cookie_domain_covers_subdomains():
    sub = request(
        host="collect.shop.example", origin="https://www.shop.example", fetch_site="same-site"
    )
    got = refresh(Batch(request=sub), cookie_refresh_domain=".shop.example")
    assert attributes(got["ajs_anonymous_id"])["domain"] == "shop.example"
    elsewhere = request(host="collect.other.example", origin="https://www.shop.example")
    assert refresh(Batch(request=elsewhere), cookie_refresh_domain="shop.example") == {}


def test_settings_switch_it_off_and_set_the_token_lifetime():
    assert refresh(Batch(), cookie_refresh=False) == {}
    got = refresh(Batch(), token_cookie_max_age=3600)
    assert attributes(got["_ALGOLIA"])["max-age"] == "3600"


def test_unsafe_raw_values_are_never_echoed():
    events = [{"type": "track", "anonymousId": "a b"}]
    assert refresh(Batch(events=events, request=request(cookies="ajs_anonymous_id=a b"))) == {}
