"""The plugin's fixtures on real pages: capture on every transport, the state reader (also under
a renamed global), the fault switches, and the assertions passing where the tracker is right."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from browser.support import UUID4_RE, build_page
from playwright.sync_api import Page

from tracker_qa import (
    Capture,
    Faults,
    PageState,
    assert_delivered_once,
    assert_no_identifier_leaked,
    assert_nothing_stored,
    assert_server_anonymisation,
    read_state,
)


def serve(page: Page, base_url: str, html: str, name: str = "page") -> str:
    page.route(
        f"**/t/{name}.html",
        lambda route: route.fulfill(body=html, content_type="text/html; charset=utf-8"),
    )
    return f"{base_url}/t/{name}.html"


def test_capture_decodes_post_and_pixel_requests(
    page: Page, base_url: str, runtime: str, tracker_capture: Capture
) -> None:
    html = build_page(runtime, ["tracker('init', {collectorUrl: '/collect', appId: 'shop'});"])
    page.goto(serve(page, base_url, html))
    tracker_capture.wait_ready()
    first = page.evaluate("tracker.track('Added to cart', {sku: 'A-1', qty: 2})")
    tracker_capture.flush()
    page.evaluate("tracker.init({eventMethod: 'get'})")
    second = page.evaluate("tracker.page('Shop', 'Cart', {items: [1, 2]})")
    tracker_capture.flush()

    post, pixel = tracker_capture.requests
    assert (post.method, post.transport, post.url) == ("POST", "post", f"{base_url}/collect")
    assert post.content_type == "application/json"
    assert [e.message_id for e in tracker_capture.events] == [first, second]
    added, cart = tracker_capture.events
    assert added.event["event"] == "Added to cart" and added.properties == {"sku": "A-1", "qty": 2}
    assert added.event["appId"] == "shop" and isinstance(added.event["timestamp"], int)
    assert (pixel.method, pixel.transport) == ("GET", "get")
    assert pixel.url.startswith(f"{base_url}/i?")
    assert cart.type == "page" and cart.name == "Cart"
    assert cart.properties == {"items": [1, 2], "category": "Shop"}
    assert UUID4_RE.match(cart.event["anonymousId"])
    assert cart.event["context"]["page"]["url"] == page.url
    assert all(r.delivered and r.status == 200 for r in tracker_capture.requests)
    assert_delivered_once(tracker_capture, [first, second], state=read_state(page))


def test_state_reader_sees_identities_session_and_storage(
    page: Page, base_url: str, runtime: str, tracker_state: Callable[[], PageState]
) -> None:
    html = build_page(
        runtime,
        [
            "tracker('init', {});",
            "tracker('setUserToken', 'user-42');",
            "tracker('identify', 'u-1', {plan: 'pro'});",
            "tracker('group', 'g-7');",
        ],
    )
    page.goto(serve(page, base_url, html))
    state = tracker_state()
    assert state.user_token == "user-42" and state.user_id == "u-1" and state.group_id == "g-7"
    assert state.user_traits == {"plan": "pro"}
    assert state.anonymous_id and UUID4_RE.match(state.anonymous_id)
    assert state.session_id and state.session_index == 1
    assert state.mode["anonymous"] is False and state.strategy == "cookieAndLocalStorage"
    assert state.consent is None and not state.errors
    assert state.cookie("anonymousId") == state.anonymous_id == state.stored("anonymousId")
    assert state.cookie("userId") == "u-1"
    assert set(state.cookies) >= {"ajs_anonymous_id", "ajs_user_id", "ajs_group_id", "_trk_ses"}
    assert "ajs_user_traits" in state.local_storage
    # no collectorUrl: the identify and group events wait in the buffer
    assert [e["type"] for e in state.buffered_events] == ["identify", "group"]


@pytest.mark.parametrize("tracker_global", ["aa"])
def test_renamed_global_and_anonymous_mode_pass_every_assertion(
    page: Page,
    base_url: str,
    runtime: str,
    tracker_capture: Capture,
    tracker_state: Callable[[], PageState],
) -> None:
    html = build_page(
        runtime,
        [
            "aa('init', {collectorUrl: '/collect', stateStorageStrategy: 'none',"
            " anonymousTracking: {withServerAnonymisation: true}});",
            "aa('identify', 'u-1', {email: 'jane@example.com'});",
            "aa('track', 'Viewed', {});",
        ],
        global_name="aa",
    )
    page.goto(serve(page, base_url, html))
    tracker_capture.flush()
    state = tracker_state()
    assert state.global_name == "aa" and state.server_anonymisation and state.strategy == "none"
    assert [e.type for e in tracker_capture.events] == ["identify", "track"]
    assert_no_identifier_leaked(tracker_capture, state, identifiers=["u-1", "jane@example.com"])
    assert_nothing_stored(state)
    assert_server_anonymisation(tracker_capture)
    assert_delivered_once(tracker_capture, state=state)


def test_collector_down_then_back_delivers_every_event_once(
    page: Page,
    base_url: str,
    runtime: str,
    tracker_capture: Capture,
    tracker_faults: Faults,
    tracker_state: Callable[[], PageState],
) -> None:
    tracker_faults.collector_down()
    html = build_page(runtime, ["tracker('init', {collectorUrl: '/collect'});"])
    page.goto(serve(page, base_url, html))
    tracker_capture.wait_ready()
    ids = [page.evaluate("tracker.track('one')"), page.evaluate("tracker.track('two')")]
    tracker_capture.flush()  # resolves once the collector is found unreachable
    assert tracker_capture.requests and not tracker_capture.events
    assert {r.status for r in tracker_capture.requests} == {0}

    tracker_faults.collector_error(503)
    tracker_capture.flush()
    assert tracker_capture.requests[-1].status == 503 and not tracker_capture.events

    tracker_faults.collector_slow(300)
    page.evaluate("tracker.flush()")
    tracker_faults.collector_ok()
    tracker_capture.flush()
    assert [e.name for e in tracker_capture.events] == ["one", "two"]
    assert_delivered_once(tracker_capture, ids, state=tracker_state())


def test_events_left_on_page_exit_go_by_beacon(
    page: Page, base_url: str, runtime: str, tracker_capture: Capture, tracker_faults: Faults
) -> None:
    tracker_faults.collector_error(503)
    html = build_page(runtime, ["tracker('init', {collectorUrl: '/collect'});"])
    page.goto(serve(page, base_url, html))
    tracker_capture.wait_ready()
    message_id = page.evaluate("tracker.track('Leaving')")
    tracker_capture.flush()
    tracker_faults.collector_ok()
    page.goto(serve(page, base_url, "<!doctype html><title>next</title>", "next"))
    tracker_capture.wait_for_events(where=lambda e: e.request.on_exit)
    beacons = [r for r in tracker_capture.requests if r.transport == "beacon"]
    assert beacons, tracker_capture.summary()
    assert beacons[0].content_type == "text/plain;charset=UTF-8"
    assert [e["messageId"] for e in beacons[0].events] == [message_id]
    assert beacons[0].on_exit and beacons[0].page_url and beacons[0].page_url.endswith("/page.html")


@pytest.mark.parametrize("fault", ["storage access", "storage write", "cookies blocked"])
def test_tracking_survives_storage_faults(
    page: Page,
    base_url: str,
    runtime: str,
    fault: str,
    tracker_capture: Capture,
    tracker_faults: Faults,
    tracker_state: Callable[[], PageState],
) -> None:
    if fault == "cookies blocked":
        tracker_faults.cookies_blocked()
    else:
        tracker_faults.storage_throws(on=fault.split()[1])
    html = build_page(
        runtime,
        [
            "tracker('init', {collectorUrl: '/collect'});",
            "tracker('setAnonymousUserToken');",
            "tracker('track', 'Works anyway');",
        ],
    )
    page.goto(serve(page, base_url, html))
    tracker_capture.flush()
    state = tracker_state()
    assert state.anonymous_id and UUID4_RE.match(state.anonymous_id)
    assert [e.name for e in tracker_capture.events] == ["Works anyway"]
    assert tracker_capture.events[0].event["anonymousId"] == state.anonymous_id
    if fault == "cookies blocked":
        assert state.all_cookies == {} and page.evaluate("document.cookie") == ""
        assert state.stored("anonymousId") == state.anonymous_id
    elif fault == "storage access":
        assert state.all_local_storage == {} and state.cookie("anonymousId") == state.anonymous_id
    else:
        assert state.all_local_storage == {}
