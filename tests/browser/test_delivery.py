"""Issue 13: events reach the real collector, on both runtimes, through every method and
mode, and survive a failing, unreachable or hidden collector without loss or duplicates.

Each test tags its events with a fresh ``appId`` and reads back what the collector stored
from ``GET /api/events``.
"""

from __future__ import annotations

import json
import socket
import time
import urllib.request
import uuid
from collections import Counter
from typing import Any

from playwright.sync_api import Route

from .support import UUID4_RE, TrackerPage, build_page

USER_FIELDS = ("anonymousId", "userId", "userToken", "authenticatedUserToken")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _app() -> str:
    return "t-" + uuid.uuid4().hex[:12]


def stored_events(base_url: str, app_id: str) -> list[dict[str, Any]]:
    """Every event the collector stored with this ``appId``, oldest first."""
    found: list[dict[str, Any]] = []
    after = 0
    while True:
        url = f"{base_url}/api/events?limit=1000&after={after}"
        with urllib.request.urlopen(url, timeout=10) as reply:
            page = json.loads(reply.read())
        events = page["events"] if isinstance(page, dict) else page
        found += [e for e in events if e.get("appId") == app_id]
        if len(events) < 1000:
            return found
        after = events[-1]["_id"]


def wait_stored(tp: TrackerPage, app_id: str, count: int, timeout_s: float = 30) -> list[Any]:
    """Poll until at least ``count`` events of ``app_id`` are stored; then a little longer
    so that duplicates would show. Waits through the page, so Playwright keeps serving
    the test's routes meanwhile."""
    deadline = time.monotonic() + timeout_s
    events = stored_events(tp.base_url, app_id)
    while len(events) < count and time.monotonic() < deadline:
        tp.page.wait_for_timeout(250)
        events = stored_events(tp.base_url, app_id)
    tp.page.wait_for_timeout(500)
    return stored_events(tp.base_url, app_id)


def _init(app_id: str, **options: Any) -> str:
    options = {"collectorUrl": "/collect", "appId": app_id, **options}
    return f"tracker('init', {json.dumps(options)});"


def _flush(tp: TrackerPage) -> None:
    tp.js("return tracker.flush();")


MODES = {
    "off": False,
    "anonymous": True,
    "withSessionTracking": {"withSessionTracking": True},
    "withServerAnonymisation": {"withServerAnonymisation": True},
}


def test_fields_per_mode_and_method(tp: TrackerPage) -> None:
    """Each mode × method: the stored event carries messageId, timestamp, appId and page
    context, the user identifiers only with anonymous tracking off, a session only where
    the mode keeps one, and an IP and network id only without server anonymisation."""
    app = _app()
    tp.open(_init(app), "tracker('setAnonymousUserToken');", "tracker('identify', 'u-1');")
    sent: dict[str, tuple[str, str]] = {}
    for mode, value in MODES.items():
        for method in ("post", "get", "beacon"):
            tp.js(
                "tracker.init({eventMethod: arg.method});"
                "if (arg.mode === false) tracker.disableAnonymousTracking();"
                "else tracker.enableAnonymousTracking({options: arg.mode});",
                {"method": method, "mode": value},
            )
            mid = tp.call("track", "Clicked", {"mode": mode, "method": method, "n": 1})
            sent[mid] = (mode, method)
            _flush(tp)
    events = wait_stored(tp, app, len(sent) + 1)
    by_id = {e["messageId"]: e for e in events}
    assert set(sent) <= set(by_id), f"not stored: {set(sent) - set(by_id)}"
    assert Counter(e["messageId"] for e in events).most_common(1)[0][1] == 1
    for mid, (mode, method) in sent.items():
        event = by_id[mid]
        where = f"{mode}/{method}"
        assert UUID4_RE.match(mid) and isinstance(event["timestamp"], int), where
        assert event["event"] == "Clicked" and event["appId"] == app, where
        assert event["properties"] == {"mode": mode, "method": method, "n": 1}, where
        assert event["context"]["page"]["url"].endswith("/t/page.html"), where
        assert event["context"]["library"]["name"] == "tracker", where
        assert "Chrome" in event["context"]["userAgent"], where
        present = {k for k in USER_FIELDS if event.get(k)}
        if mode == "off":
            assert present == set(USER_FIELDS) - {"authenticatedUserToken"}, where
            assert event["userId"] == "u-1", where
        else:
            assert not present, f"{where}: {present} sent in an anonymous mode"
        has_session = "session" in event["context"]
        assert has_session == (mode in ("off", "withSessionTracking")), where
        if mode == "withServerAnonymisation":
            assert event["ip"] is None and event["network_userid"] is None, where
        else:
            assert event["ip"] == "127.0.0.1" and UUID4_RE.match(event["network_userid"]), where


def test_options_context_ip_and_traits(tp: TrackerPage) -> None:
    """``options.context.ip`` replaces the recorded IP; ``context.traits`` rides on that
    event only."""
    app = _app()
    tp.open(_init(app))
    first = tp.js("return tracker.track('A', {}, {context: {ip: '203.0.113.9', traits: {x: 1}}});")
    second = tp.call("track", "B", {})
    _flush(tp)
    events = {e["messageId"]: e for e in wait_stored(tp, app, 2)}
    assert events[first]["ip"] == "203.0.113.9"
    assert events[first]["context"]["traits"] == {"x": 1}
    assert events[second]["ip"] == "127.0.0.1" and "traits" not in events[second]["context"]


def test_server_error_then_recovery_stores_each_event_once(tp: TrackerPage) -> None:
    """The collector answers 500 twice, then works: every event arrives, each once."""
    app = _app()
    failures = {"left": 2}

    def flaky(route: Route) -> None:
        if failures["left"] > 0:
            failures["left"] -= 1
            route.fulfill(status=500, body='{"error": "boom"}', content_type="application/json")
        else:
            route.continue_()

    tp.page.route("**/collect", flaky)
    tp.open(_init(app), "tracker('page');", "tracker('track', 'One');", "tracker('track', 'Two');")
    tp.call("track", "Three")
    events = wait_stored(tp, app, 4)
    assert failures["left"] == 0
    assert sorted(e.get("event", "(page)") for e in events) == ["(page)", "One", "Three", "Two"]
    tp.wait_for("tracker.getBufferedEvents().length === 0")


def test_unreachable_collector_reload_then_back_loses_nothing(tp: TrackerPage) -> None:
    """With the collector unreachable (nothing listens on its port) events wait in
    localStorage across a reload; once it is back, the next page load sends all of them,
    each stored once."""
    app = _app()
    down = f"http://127.0.0.1:{_free_port()}/collect"
    tp.open(_init(app, collectorUrl=down))
    tp.call("track", "Offline 1")
    tp.call("track", "Offline 2")
    _flush(tp)
    assert tp.js("return tracker.getBufferedEvents().length;") == 2
    tp.reload()
    tp.call("track", "Offline 3")
    _flush(tp)
    assert stored_events(tp.base_url, app) == []
    assert tp.js("return tracker.getBufferedEvents().length;") == 3
    tp.open(_init(app))
    events = wait_stored(tp, app, 3)
    assert sorted(e["event"] for e in events) == ["Offline 1", "Offline 2", "Offline 3"]


def test_beacon_on_page_hide(tp: TrackerPage) -> None:
    """An event still waiting when the visitor leaves (its first attempt failed, the retry
    is not due yet) goes out on ``pagehide`` by ``sendBeacon`` and is stored once.
    Playwright neither routes nor reports beacons, so: no fetch carried it after the
    failed attempt, yet the collector has it."""
    app = _app()
    fetched: list[str] = []
    tp.page.on(
        "request",
        lambda request: (
            fetched.append(request.post_data or "") if request.url.endswith("/collect") else None
        ),
    )
    tp.page.route("**/collect", lambda route: route.abort("connectionrefused"))
    tp.open(_init(app))
    mid = tp.call("track", "Leaving")
    tp.page.wait_for_timeout(300)
    assert tp.js("return tracker.getBufferedEvents().length;") == 1
    tp.page.unroute("**/collect")
    attempts = len(fetched)
    tp.page.goto(tp.serve("elsewhere", "<!doctype html><title>elsewhere</title>"))
    events = wait_stored(tp, app, 1)
    assert [e["messageId"] for e in events] == [mid]
    assert not [body for body in fetched[attempts:] if mid in body], "sent by fetch, not beacon"


def test_two_tabs_offline_each_event_stored_once(tp: TrackerPage) -> None:
    """Two tabs of one visitor track while the browser is offline, sharing ``_trk_queue``;
    back online, every event of both tabs is stored exactly once and none is lost."""
    app = _app()
    html = build_page(tp.runtime, [_init(app)])
    tp.context.route(
        "**/t/two-tabs.html",
        lambda route: route.fulfill(body=html, content_type="text/html; charset=utf-8"),
    )
    tp.page.goto(f"{tp.base_url}/t/two-tabs.html")
    tp.wait_ready()
    other = tp.context.new_page()
    other.goto(tp.page.url)
    other.wait_for_function("() => window.tracker && window.tracker.ready", timeout=60_000)
    other.evaluate("() => tracker.ready")
    acked: list[str] = []

    def count_acks(response: Any) -> None:
        if response.url.endswith("/collect") and response.ok:
            try:
                acked.extend(e["messageId"] for e in json.loads(response.request.post_data))
            except (TypeError, ValueError):
                pass

    tp.context.on("response", count_acks)
    tp.context.set_offline(True)
    mids = []
    for i in range(3):
        mids.append(tp.call("track", f"A{i}"))
        mids.append(other.evaluate("n => tracker.track(n)", f"B{i}"))
    _flush(tp)
    other.evaluate("() => tracker.flush()")
    tp.context.set_offline(False)
    events = wait_stored(tp, app, 6)
    assert sorted(e["messageId"] for e in events) == sorted(mids)
    dupes = [m for m, n in Counter(acked).items() if n > 1]
    assert not dupes, f"events sent twice by the tabs: {dupes}"
    other.close()


def test_settled_promises_leave_no_page_function_behind(tp: TrackerPage) -> None:
    """flush() and getAccessToken() hand Python a resolve function each call: once settled
    the tracker holds none of them, however often a page calls them."""
    tp.open(_init("delivery"))
    held = tp.page.evaluate(
        """async () => {
          const before = tracker._heldFunctions;
          tracker.onUserTokenChange(() => {});
          for (let i = 0; i < 25; i++) {
            tracker.track('n', { i });
            await tracker.flush();
            await tracker.getAccessToken();
          }
          return [before, tracker._heldFunctions];
        }"""
    )
    assert held == [0, 1]
