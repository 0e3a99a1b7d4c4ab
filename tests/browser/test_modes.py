"""Issue 5: anonymous modes (Snowplow semantics) × storage strategies, run-time toggles,
the consent banner, sessions and clearUserData, checked in the real cookie jar and
localStorage."""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.sync_api import expect

from .support import (
    ANON_TOKEN_RE,
    QUEUE_KEY,
    SESSION_KEY,
    TRACKER_KEYS,
    USER_KEYS,
    UUID4_RE,
    TrackerPage,
    stored,
)

INIT = "tracker('init', {});"


def _stored_keys(tp: TrackerPage) -> tuple[set[str], set[str]]:
    """The tracker's keys in the real cookie jar and in localStorage."""
    return set(tp.cookies()) & TRACKER_KEYS, set(tp.local_storage()) & TRACKER_KEYS


def _snapshot(tp: TrackerPage) -> dict[str, Any]:
    """Every tracker key's raw value, in cookies and localStorage."""
    cookies = {k: c["value"] for k, c in tp.cookies().items() if k in TRACKER_KEYS}
    local = {k: v for k, v in tp.local_storage().items() if k in TRACKER_KEYS}
    return {"cookie": cookies, "localStorage": local}


def _session_id(raw: str | None) -> str | None:
    value = stored(raw)
    return None if value is None else json.loads(value)["id"]


MODES = {
    "off": "false",
    "anonymous": "true",
    "withSessionTracking": "{ withSessionTracking: true }",
    "withServerAnonymisation": "{ withServerAnonymisation: true }",
}
STRATEGIES = ["cookieAndLocalStorage", "cookie", "localStorage", "none"]


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("mode", list(MODES))
def test_mode_and_strategy_decide_what_is_stored_and_exposed(
    tp: TrackerPage, mode: str, strategy: str
):
    """Per mode × strategy: user ids are stored and readable only with anonymous tracking
    off; sessions only when not anonymous or withSessionTracking on a real strategy; the
    event buffer may use localStorage; nothing lands outside the strategy's places."""
    tp.open(
        f"tracker('init', {{ anonymousTracking: {MODES[mode]}, "
        f"stateStorageStrategy: '{strategy}' }});",
        "tracker('setAnonymousUserToken');",
        "tracker('identify', 'user-1', { plan: 'pro' });",
        "tracker('track', 'Viewed', { n: 1 });",
    )
    got = tp.js(
        "return { anonymousId: tracker.getAnonymousId(), userToken: tracker.getUserToken(),"
        " sessionId: tracker.getSessionId(), sessionIndex: tracker.getSessionIndex() };"
    )
    cookies, local = _stored_keys(tp)
    uses_cookie = strategy in ("cookieAndLocalStorage", "cookie")
    uses_local = strategy in ("cookieAndLocalStorage", "localStorage")
    ids_allowed = mode == "off"
    sessions = mode == "off" or (mode == "withSessionTracking" and strategy != "none")

    if ids_allowed:
        assert UUID4_RE.match(got["anonymousId"] or "")
    else:
        assert got["anonymousId"] is None and got["userToken"] is None, got
    if sessions:
        assert UUID4_RE.match(got["sessionId"] or "") and got["sessionIndex"] == 1, got
    else:
        assert got["sessionId"] is None, got

    want_cookies = set()
    want_local = set()
    if ids_allowed:
        want_cookies |= {"_ALGOLIA", "ajs_anonymous_id", "ajs_user_id"}
        want_local |= {"ajs_anonymous_id", "ajs_user_id", "ajs_user_traits"}
    if sessions:
        want_cookies.add(SESSION_KEY)
        want_local.add(SESSION_KEY)
    want_cookies = want_cookies if uses_cookie else set()
    want_local = want_local if uses_local else set()
    assert cookies == want_cookies, f"cookies {cookies}"
    assert local - {QUEUE_KEY} == want_local, f"localStorage {local}"
    if not uses_local:
        assert QUEUE_KEY not in local
    if ids_allowed and uses_cookie:
        assert ANON_TOKEN_RE.match(got["userToken"])
        assert stored(tp.cookie_value("ajs_anonymous_id")) == got["anonymousId"]
    if not (uses_cookie and (ids_allowed or sessions)):
        assert tp.document_cookie() == ""


def test_toggling_anonymous_tracking_stops_and_resumes_identifiers(tp: TrackerPage):
    """enableAnonymousTracking hides the ids and writes nothing new while leaving stored
    ids in place; disableAnonymousTracking brings the same ids back."""
    tp.open(INIT, "tracker('setAnonymousUserToken');", "tracker('identify', 'user-1');")
    anonymous_id = tp.call("getAnonymousId")
    token = tp.call("getUserToken")
    stored_before = _snapshot(tp)
    assert {"_ALGOLIA", "ajs_anonymous_id", "ajs_user_id"} <= set(stored_before["cookie"])

    tp.command("enableAnonymousTracking")
    assert tp.js(
        "return [tracker.getAnonymousId(), tracker.getUserToken(), tracker.user().id()]"
    ) == [None, None, None]
    tp.js(
        "tracker.setAnonymousUserToken(); tracker.track('While anonymous');tracker.getSessionId();"
    )
    after = _snapshot(tp)
    for place in ("cookie", "localStorage"):
        for key in USER_KEYS | {SESSION_KEY}:
            assert after[place].get(key) == stored_before[place].get(key), (place, key)

    tp.command("disableAnonymousTracking")
    assert tp.call("getAnonymousId") == anonymous_id
    assert tp.call("getUserToken") == token
    assert tp.js("return tracker.user().id()") == "user-1"
    assert stored(tp.cookie_value("ajs_anonymous_id")) == anonymous_id


def test_toggles_that_switch_strategy_leave_then_restore_storage(tp: TrackerPage):
    """Going anonymous with strategy none writes nothing more (stored ids stay); coming
    back with cookieAndLocalStorage resumes the same ids in cookies and localStorage."""
    tp.open(INIT)
    anonymous_id = tp.call("getAnonymousId")
    tp.command(
        "enableAnonymousTracking",
        {"options": {"withServerAnonymisation": True}, "stateStorageStrategy": "none"},
    )
    assert tp.call("getAnonymousId") is None
    assert tp.js("return tracker.getMode()")["stateStorageStrategy"] == "none"
    tp.context.clear_cookies()
    tp.page.evaluate("() => localStorage.clear()")
    tp.js("tracker.track('Cookieless'); tracker.setAnonymousUserToken(); tracker.getSessionId();")
    assert _stored_keys(tp) == (set(), set())
    assert tp.document_cookie() == ""

    tp.command("disableAnonymousTracking", {"stateStorageStrategy": "cookieAndLocalStorage"})
    assert tp.call("getAnonymousId") == anonymous_id
    assert stored(tp.cookie_value("ajs_anonymous_id")) == anonymous_id
    assert stored(tp.local_storage().get("ajs_anonymous_id")) == anonymous_id
    assert SESSION_KEY in tp.cookies()


def test_session_ids_reset_when_moving_from_local_storage_to_cookies(tp: TrackerPage):
    """withSessionTracking on localStorage, then a cookie strategy: a new session (the
    seed's note), stored in the cookie; user ids are never stored."""
    tp.open(
        "tracker('init', { anonymousTracking: { withSessionTracking: true },"
        " stateStorageStrategy: 'localStorage' });"
    )
    first = tp.call("getSessionId")
    assert UUID4_RE.match(first)
    assert _session_id(tp.local_storage().get(SESSION_KEY)) == first
    assert not set(tp.cookies()) & TRACKER_KEYS
    tp.command(
        "enableAnonymousTracking",
        {"options": {"withSessionTracking": True}, "stateStorageStrategy": "cookieAndLocalStorage"},
    )
    second = tp.call("getSessionId")
    assert UUID4_RE.match(second) and second != first
    assert _session_id(tp.cookie_value(SESSION_KEY)) == second
    assert not (set(tp.cookies()) | set(tp.local_storage())) & USER_KEYS


def test_session_times_out_after_idle_session_timeout(tp: TrackerPage):
    """Activity keeps a session alive (sliding); sessionTimeout seconds of idleness start
    a new session with the next index."""
    tp.open("tracker('init', { sessionTimeout: 3 });")
    first = tp.call("getSessionId")
    assert UUID4_RE.match(first) and tp.call("getSessionIndex") == 1
    assert _session_id(tp.cookie_value(SESSION_KEY)) == first
    tp.page.wait_for_timeout(1600)
    tp.call("track", "Still here")
    tp.page.wait_for_timeout(1600)
    tp.call("track", "Still here")
    assert tp.call("getSessionId") == first, "activity within the timeout kept the session"
    tp.page.wait_for_timeout(3600)
    second = tp.call("getSessionId")
    assert UUID4_RE.match(second) and second != first
    assert tp.call("getSessionIndex") == 2
    assert _session_id(tp.local_storage().get(SESSION_KEY)) == second


@pytest.mark.parametrize(
    ("preserve_session", "preserve_user"),
    [(False, False), (True, False), (False, True), (True, True)],
    ids=["nothing", "session", "user", "both"],
)
def test_clear_user_data_removes_stored_ids_and_memory_unless_preserved(
    tp: TrackerPage, preserve_session: bool, preserve_user: bool
):
    """clearUserData removes every stored identifier from cookies and localStorage; the
    in-memory user and session ids go too unless preserveUser/preserveSession."""
    tp.open(
        INIT,
        "tracker('setAnonymousUserToken');",
        "tracker('setAuthenticatedUserToken', 'auth-1');",
        "tracker('identify', 'user-1', { plan: 'pro' });",
        "tracker('group', 'group-1');",
    )
    before = tp.js(
        "return { a: tracker.getAnonymousId(), t: tracker.getUserToken(),"
        " s: tracker.getSessionId() };"
    )
    tp.command(
        "clearUserData", {"preserveSession": preserve_session, "preserveUser": preserve_user}
    )
    cookies, local = _stored_keys(tp)
    assert not cookies - {QUEUE_KEY}, f"cookies left: {cookies}"
    assert not local - {QUEUE_KEY}, f"localStorage left: {local}"

    after = tp.js(
        "return { a: tracker.getAnonymousId(), t: tracker.getUserToken(),"
        " auth: tracker.getAuthenticatedUserToken(), u: tracker.user().id(),"
        " s: tracker.getSessionId() };"
    )
    if preserve_user:
        assert (after["a"], after["t"], after["auth"], after["u"]) == (
            before["a"],
            before["t"],
            "auth-1",
            "user-1",
        )
    else:
        assert UUID4_RE.match(after["a"]) and after["a"] != before["a"]
        assert (after["t"], after["auth"], after["u"]) == (None, None, None)
    if preserve_session:
        assert after["s"] == before["s"]
    else:
        assert UUID4_RE.match(after["s"]) and after["s"] != before["s"]


def test_consent_banner_flow_on_the_demo_page(tp: TrackerPage):
    """The consent demo starts cookieless; Accept stores ids (kept over a reload);
    Withdraw clears them all; Accept again starts a new visitor."""
    page = tp.page
    tp.goto(f"/consent.html?runtime={tp.runtime}")
    expect(page.locator("#status")).to_have_attribute("data-value", '"ready"')
    expect(page.locator("#consent")).to_have_text("unset")
    expect(page.locator("#anonymous-id")).to_have_attribute("data-state", "empty")
    assert _stored_keys(tp) == (set(), set())

    page.click("#btn-accept")
    expect(page.locator("#anonymous-id")).to_have_attribute("data-state", "set")
    anonymous_id = tp.call("getAnonymousId")
    assert UUID4_RE.match(anonymous_id)
    expect(page.locator("#anonymous-id")).to_have_text(anonymous_id)
    expect(page.locator("#consent")).to_have_text("granted")
    assert stored(tp.cookie_value("ajs_anonymous_id")) == anonymous_id
    assert stored(tp.local_storage().get("ajs_anonymous_id")) == anonymous_id
    assert ANON_TOKEN_RE.match(tp.cookie_value("_ALGOLIA") or "")
    assert SESSION_KEY in tp.cookies()

    tp.reload()
    expect(page.locator("#consent")).to_have_text("granted")
    assert tp.call("getAnonymousId") == anonymous_id

    page.click("#btn-withdraw")
    expect(page.locator("#consent")).to_have_text("withdrawn")
    expect(page.locator("#anonymous-id")).to_have_attribute("data-state", "empty")
    cookies, local = _stored_keys(tp)
    assert not cookies, f"cookies left after withdraw: {cookies}"
    assert not local - {QUEUE_KEY}, f"localStorage left after withdraw: {local}"
    assert tp.call("getAnonymousId") is None

    page.click("#btn-accept")
    expect(page.locator("#anonymous-id")).to_have_attribute("data-state", "set")
    again = tp.call("getAnonymousId")
    assert UUID4_RE.match(again) and again != anonymous_id
