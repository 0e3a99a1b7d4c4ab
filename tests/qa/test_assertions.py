"""The assertions on hand-made captures: what each one catches and how it says so (no browser)."""

from __future__ import annotations

import json
from typing import Any, cast

import pytest
from playwright.sync_api import Page

from tracker_qa import (
    Capture,
    CapturedRequest,
    PageState,
    assert_delivered_once,
    assert_no_identifier_leaked,
    assert_nothing_stored,
    assert_server_anonymisation,
    decode_pixel,
)

MID = ["00000000-0000-4000-8000-00000000000%d" % i for i in range(6)]
ANON = "4b1b7c3e-9d2a-4c55-8f00-0123456789ab"


def event(i: int, **extra: Any) -> dict[str, Any]:
    body = {
        "type": "track",
        "event": "e%d" % i,
        "messageId": MID[i],
        "timestamp": 1,
        "appId": "",
        "properties": {},
        "context": {"page": {"url": "https://shop.example/cart"}},
    }
    body.update(extra)
    return body


def capture_of(*requests: tuple[list[dict[str, Any]], dict[str, Any]]) -> Capture:
    capture = Capture(cast(Page, None))
    for events, options in requests:
        transport = options.get("transport", "post")
        capture.requests.append(
            CapturedRequest(
                index=len(capture.requests) + 1,
                method="GET" if transport == "get" else "POST",
                url="https://c.example/collect",
                headers=options.get("headers", {"sp-anonymous": "*"}),
                body=json.dumps(events),
                transport=transport,
                page_url="https://shop.example/cart",
                events=events,
                status=options.get("status", 200),
                on_exit=options.get("on_exit", False),
            )
        )
    return capture


def state_of(mode: Any = True, strategy: str = "none", **fields: Any) -> PageState:
    from tracker_qa.state import tracker_keys

    anonymous = mode is not False
    described = {
        "anonymousTracking": mode,
        "anonymous": anonymous,
        "withSessionTracking": isinstance(mode, dict) and bool(mode.get("withSessionTracking")),
        "withServerAnonymisation": isinstance(mode, dict)
        and bool(mode.get("withServerAnonymisation")),
        "stateStorageStrategy": strategy,
    }
    return PageState(
        page_url="https://shop.example/cart",
        global_name="tracker",
        keys=tracker_keys(),
        mode=described,
        **fields,
    )


def failure(check: Any) -> str:
    with pytest.raises(AssertionError) as caught:
        check()
    return str(caught.value)


def test_fields_the_mode_forbids_are_named() -> None:
    capture = capture_of(
        (
            [
                event(
                    0,
                    userId="u-1",
                    context={
                        "traits": {"email": "j@x.io"},
                        "ip": "10.0.0.1",
                        "session": {"id": MID[5], "index": 1},
                    },
                )
            ],
            {},
        ),
    )
    state = state_of({"withServerAnonymisation": True})
    message = failure(lambda: assert_no_identifier_leaked(capture, state))
    assert "(4 findings)" in message
    assert 'carries userId = "u-1"' in message
    assert 'carries context.traits = {"email": "j@x.io"}' in message
    assert 'carries context.ip = "10.0.0.1", but server anonymisation keeps no IP' in message
    assert "carries a session (context.session = " in message


def test_session_allowed_with_session_tracking_and_known_ids_found_anywhere() -> None:
    session = {"id": MID[5], "index": 2}
    capture = capture_of(
        ([event(0, anonymousId=ANON)], {"headers": {}}),  # before consent was withdrawn
        ([event(1, context={"session": session})], {}),
        ([event(2, properties={"ref": "x" + ANON})], {"headers": {"x-visitor": ANON}}),
    )
    state = state_of({"withSessionTracking": True}, "cookie")
    message = failure(lambda: assert_no_identifier_leaked(capture, state, since=1))
    assert "  request #1 " not in message and "  request #2 " not in message
    assert "properties.ref" in message and "contains the anonymousId sent in request #1" in message
    assert "header x-visitor" in message
    cookies = {"cookie": "ajs_anonymous_id=%s; ab=%s; theme=dark" % (ANON, ANON)}
    message = failure(
        lambda: assert_no_identifier_leaked(
            capture_of(([event(0, anonymousId=ANON)], {}), ([event(1)], {"headers": cookies})),
            state,
            since=1,
        )
    )
    assert "header cookie: ab=" in message
    assert "header cookie: ajs_anonymous_id=" in message and "must omit credentials" in message
    nuid = {"cookie": "trk_nuid=0f1e2d3c; theme=dark"}
    message = failure(
        lambda: assert_no_identifier_leaked(capture_of(([event(1)], {"headers": nuid})), state)
    )
    assert "header cookie: trk_nuid=" in message and "theme" not in message
    assert_no_identifier_leaked(capture_of(([event(1, context={"session": session})], {})), state)


def test_allow_and_identifiers_named_by_the_test() -> None:
    product = "11111111-2222-4333-8444-555555555555"
    capture = capture_of(
        ([event(0, properties={"product": product, "who": "user-42", "mail": "jane@x.io"})], {})
    )
    state = state_of()
    message = failure(lambda: assert_no_identifier_leaked(capture, state))
    assert "(2 findings)" in message and "user-42" not in message
    assert "properties.product = " in message and "looks like a visitor identifier" in message
    assert (
        'properties.mail = "jane@x.io" holds jane@x.io, which looks like an email address'
        in message
    )
    message = failure(
        lambda: assert_no_identifier_leaked(
            capture, state, allow=[product, "jane@x.io"], identifiers=["user-42"]
        )
    )
    assert "(1 finding)" in message
    assert 'properties.who = "user-42" contains an identifier the test named' in message
    given = state_of(given=[("the userId passed to identify()", "user-42")])
    message = failure(
        lambda: assert_no_identifier_leaked(capture, given, allow=[product, "jane@x.io"])
    )
    assert "contains the userId passed to identify()" in message


def test_nothing_captured_is_a_failure_not_a_pass() -> None:
    message = failure(lambda: assert_no_identifier_leaked(capture_of(), state_of()))
    assert "no request reached the collector" in message
    assert_no_identifier_leaked(capture_of(), state_of(), require_requests=False)


def test_storage_rules_by_mode_and_strategy() -> None:
    state = state_of(
        True,
        "cookie",
        all_cookies={"ajs_anonymous_id": ANON, "_trk_consent": "ok"},
        all_local_storage={"_trk_queue": "[]"},
    )
    message = failure(lambda: assert_nothing_stored(state))
    assert (
        'cookie ajs_anonymous_id = "%s" (anonymousId): anonymous modes store no user identifier'
        % ANON
        in message
    )
    assert "the consent cookie must hold only 'granted' or 'denied'" in message
    assert "localStorage _trk_queue" in message and "keeps nothing in localStorage" in message
    # identifiers stored before the mode changed stay where they are
    before = state_of(False, "cookieAndLocalStorage", all_cookies={"ajs_anonymous_id": ANON})
    after = state_of(True, "cookieAndLocalStorage", all_cookies={"ajs_anonymous_id": ANON})
    assert_nothing_stored(after, baseline=before)


def test_delivered_once_counts_acknowledged_copies() -> None:
    capture = capture_of(
        ([event(0), event(1)], {"status": 503}),
        ([event(0), event(1)], {}),
        ([event(1)], {}),
        ([event(2)], {"transport": "beacon", "status": None, "on_exit": True}),
        ([event(2)], {}),
    )
    message = failure(lambda: assert_delivered_once(capture, [MID[0], MID[3]]))
    assert (
        "messageId %s acknowledged 2 times: request #2 event 2, request #3 event 1" % MID[1]
        in message
    )
    assert "messageId %s never reached the collector" % MID[3] in message
    assert MID[2] not in message.split("captured:")[0]  # beacon on exit + resend is fine
    buffered = state_of(False, buffered_events=[event(3)])
    message = failure(
        lambda: assert_delivered_once(capture_of(([event(0)], {})), [MID[3]], state=buffered)
    )
    assert "still waits in the page's buffer" in message


def test_server_anonymisation_names_each_request_without_the_header() -> None:
    capture = capture_of(
        ([event(0)], {}),
        ([event(1)], {"headers": {}, "transport": "beacon", "on_exit": True, "status": None}),
        ([event(2)], {"headers": {"sp-anonymous": "1"}}),
    )
    message = failure(lambda: assert_server_anonymisation(capture))
    assert "2 of 3 requests to the collector lack SP-Anonymous: *" in message
    assert (
        "request #2 POST https://c.example/collect (beacon, 1 event, sent on page exit" in message
    )
    assert "sendBeacon cannot send headers" in message
    assert "has SP-Anonymous: 1 instead of *" in message


def test_pixel_query_decoding() -> None:
    url = (
        "https://c.example/i?appId=&context=%7B%22page%22%3A%7B%7D%7D&event=42"
        "&messageId=m&properties=%7B%22a%22%3A%5B1%2C2%5D%7D&timestamp=17&type=track"
    )
    assert decode_pixel(url) == {
        "appId": "",
        "context": {"page": {}},
        "event": "42",
        "messageId": "m",
        "properties": {"a": [1, 2]},
        "timestamp": 17,
        "type": "track",
    }


def test_disguised_identifiers_are_found_and_say_how() -> None:
    """An anonymousId sent base64-encoded, hashed, without its dashes or upper-cased is
    still the visitor's identifier."""
    import base64
    import hashlib

    state = state_of({"withServerAnonymisation": True}, "none", anonymous_id=ANON)
    disguises = {
        "b64": (base64.b64encode(('{"v":"%s"}' % ANON).encode()).decode(), "base64-encoded"),
        "sha": (hashlib.sha256(ANON.encode()).hexdigest(), "sha256 hash"),
        "md5": (hashlib.md5(ANON.encode()).hexdigest().upper(), "md5 hash"),
        "hex": (ANON.replace("-", ""), "without its dashes"),
    }
    for name, (value, how) in disguises.items():
        capture = capture_of(([event(0, properties={name: value})], {}))
        message = failure(lambda c=capture: assert_no_identifier_leaked(c, state))
        assert "properties.%s" % name in message and how in message, (name, message)
    assert_no_identifier_leaked(capture_of(([event(0, properties={"plain": "hello"})], {})), state)
