"""Issue 4: Segment-style identity (anonymousId, userId, traits, group, reset) on real
cookies and localStorage, the storage strategies, migration, and storage that misbehaves."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from .support import ANON_TOKEN_RE, TRACKER_KEYS, UUID4_RE, TrackerPage, stored

ONE_YEAR_S = 365 * 24 * 3600
INIT = "tracker('init', {});"


# Safari private mode / quota exceeded: every Storage call throws.
LOCAL_STORAGE_CALLS_THROW = """
(() => {
  const fail = () => { throw new DOMException('The quota has been exceeded.',
                                              'QuotaExceededError'); };
  for (const m of ['getItem', 'setItem', 'removeItem', 'key', 'clear']) {
    Storage.prototype[m] = fail;
  }
  Object.defineProperty(Storage.prototype, 'length', { configurable: true, get: fail });
})();
"""
# Storage disabled by the browser's settings: even reading window.localStorage throws.
LOCAL_STORAGE_ACCESS_THROWS = """
Object.defineProperty(window, 'localStorage', { configurable: true, get() {
  throw new DOMException("Failed to read the 'localStorage' property from 'Window': "
                         + 'Access is denied for this document.', 'SecurityError'); } });
"""
# A document.cookie that reads back nothing and drops every write (cookieEnabled stays true).
COOKIE_IGNORES_WRITES = """
Object.defineProperty(Document.prototype, 'cookie', {
  configurable: true, get() { return ''; }, set(v) {} });
"""


def _ids(tp: TrackerPage) -> dict[str, Any]:
    """What the page sees of the visitor, through the direct API."""
    return tp.js(
        "const u = tracker.user(), g = tracker.group();"
        "return { anonymousId: tracker.getAnonymousId(), userAnonymousId: u.anonymousId(),"
        " userId: u.id(), traits: u.traits(), groupId: g.id(), groupTraits: g.traits(),"
        " userToken: tracker.getUserToken(),"
        " authenticatedUserToken: tracker.getAuthenticatedUserToken() };"
    )


def _cookie(tp: TrackerPage, name: str) -> str | None:
    return stored(tp.cookie_value(name))


def _local(tp: TrackerPage, name: str) -> str | None:
    return stored(tp.local_storage().get(name))


def test_anonymous_id_is_created_at_load_and_kept_across_reload(tp: TrackerPage):
    """A new visitor gets a uuid4 anonymousId in cookie and localStorage as the page loads
    (1-year cookie); a reload keeps it."""
    t0 = time.time()
    tp.open(INIT)
    t1 = time.time()
    cookie = tp.cookies()["ajs_anonymous_id"]
    anonymous_id = stored(cookie["value"])
    assert anonymous_id and UUID4_RE.match(anonymous_id), cookie["value"]
    assert t0 + ONE_YEAR_S - 86400 <= cookie["expires"] <= t1 + ONE_YEAR_S + 86400
    assert _local(tp, "ajs_anonymous_id") == anonymous_id
    ids = _ids(tp)
    assert ids["anonymousId"] == ids["userAnonymousId"] == anonymous_id
    tp.reload()
    assert tp.call("getAnonymousId") == anonymous_id
    assert _cookie(tp, "ajs_anonymous_id") == anonymous_id


def test_deleted_cookie_is_restored_from_local_storage(tp: TrackerPage):
    """Cookies cleared but localStorage kept: the same anonymousId comes back, cookie too."""
    tp.open(INIT)
    anonymous_id = tp.call("getAnonymousId")
    tp.context.clear_cookies()
    tp.reload()
    assert _cookie(tp, "ajs_anonymous_id") == anonymous_id
    assert tp.call("getAnonymousId") == anonymous_id


def test_clearing_cookies_and_local_storage_gives_a_new_id(tp: TrackerPage):
    """With both cookies and localStorage cleared the visitor is new: a different uuid4."""
    tp.open(INIT)
    first = tp.call("getAnonymousId")
    tp.context.clear_cookies()
    tp.page.evaluate("() => localStorage.clear()")
    tp.reload()
    second = tp.call("getAnonymousId")
    assert UUID4_RE.match(second) and second != first
    assert _cookie(tp, "ajs_anonymous_id") == second
    assert _local(tp, "ajs_anonymous_id") == second


def test_set_anonymous_id_persists_across_reload(tp: TrackerPage):
    """setAnonymousId, user().anonymousId(id) and options.anonymousId each override the
    id, and the last one is still the id after a reload."""
    tp.open(INIT)
    tp.call("setAnonymousId", "ABC-123-XYZ")
    assert tp.call("getAnonymousId") == "ABC-123-XYZ"
    assert _cookie(tp, "ajs_anonymous_id") == "ABC-123-XYZ"
    assert tp.js("return tracker.user().anonymousId('via-user-1')") == "via-user-1"
    assert tp.call("getAnonymousId") == "via-user-1"
    tp.call("track", "Email Clicked", {"callToAction": "Signup"}, {"anonymousId": "via-track-2"})
    assert tp.call("getAnonymousId") == "via-track-2"
    tp.reload()
    ids = _ids(tp)
    assert ids["anonymousId"] == ids["userAnonymousId"] == "via-track-2"
    assert _cookie(tp, "ajs_anonymous_id") == "via-track-2"
    assert _local(tp, "ajs_anonymous_id") == "via-track-2"


def test_anonymous_id_set_in_the_snippet_is_there_when_ready(tp: TrackerPage):
    """setAnonymousId queued in the snippet, before the tracker loads, is the id that
    queued calls and the ready page see (Segment's snippet override)."""
    tp.open(
        INIT,
        "tracker('setAnonymousId', 'ABC-123-XYZ');",
        "tracker('identify', 'user-1', {}, {});",
        "tracker(function () { window.seenAtReady = window.tracker.getAnonymousId(); });",
    )
    assert tp.wait_for("window.seenAtReady") == "ABC-123-XYZ"
    assert tp.call("getAnonymousId") == "ABC-123-XYZ"
    assert _cookie(tp, "ajs_anonymous_id") == "ABC-123-XYZ"
    assert _local(tp, "ajs_anonymous_id") == "ABC-123-XYZ"


def test_invalid_anonymous_ids_are_refused_with_a_warning(tp: TrackerPage):
    """An oversized or non-string anonymousId is refused with one warning; the id stays."""
    tp.open(INIT)
    anonymous_id = tp.call("getAnonymousId")
    for bad in ["x" * 100_000, {"id": 1}, ""]:
        before = len(tp.log.warnings)
        tp.command("setAnonymousId", bad)
        assert len(tp.wait_for_warnings(before + 1)) == before + 1
        assert tp.call("getAnonymousId") == anonymous_id
    assert _cookie(tp, "ajs_anonymous_id") == anonymous_id


def test_identify_with_a_new_user_id_rotates_anonymous_id(tp: TrackerPage):
    """identify() keeps the anonymousId for the first and same userId, merges traits, and
    rotates the anonymousId when a different userId logs in; all of it survives a reload."""
    tp.open(INIT)
    first = tp.call("getAnonymousId")
    tp.call("identify", "user-1", {"name": "Ann"})
    tp.call("identify", "user-1", {"plan": "pro"})
    ids = _ids(tp)
    assert ids["anonymousId"] == first
    assert ids["userId"] == "user-1"
    assert ids["traits"] == {"name": "Ann", "plan": "pro"}
    assert _cookie(tp, "ajs_user_id") == "user-1"
    tp.call("identify", "user-2")
    second = tp.call("getAnonymousId")
    assert UUID4_RE.match(second) and second != first
    assert tp.js("return tracker.user().id()") == "user-2"
    tp.reload()
    ids = _ids(tp)
    assert (ids["anonymousId"], ids["userId"]) == (second, "user-2")
    assert _cookie(tp, "ajs_anonymous_id") == second


def test_reset_forgets_the_user_everywhere(tp: TrackerPage):
    """reset() clears userId, traits, group, anonymousId and user tokens from memory,
    cookies and localStorage; a new anonymousId follows, on the next page too."""
    tp.open(
        INIT,
        "tracker('setAnonymousUserToken');",
        "tracker('setAuthenticatedUserToken', 'auth-1');",
        "tracker('identify', 'user-1', { plan: 'pro' });",
        "tracker('group', 'group-1', { tier: 'gold' });",
    )
    before = _ids(tp)
    assert before["userId"] == "user-1" and before["groupId"] == "group-1"
    assert ANON_TOKEN_RE.match(before["userToken"])
    tp.call("reset")
    gone = {"_ALGOLIA", "ajs_user_id", "ajs_user_traits", "ajs_group_id", "ajs_group_properties"}
    assert not gone & set(tp.cookies()), tp.cookies().keys()
    assert not gone & set(tp.local_storage()), tp.local_storage()
    assert _cookie(tp, "ajs_anonymous_id") != before["anonymousId"]
    after = _ids(tp)
    assert after["userId"] is None and after["traits"] == {}
    assert after["groupId"] is None and after["groupTraits"] == {}
    assert after["userToken"] is None and after["authenticatedUserToken"] is None
    assert UUID4_RE.match(after["anonymousId"]) and after["anonymousId"] != before["anonymousId"]
    tp.open(INIT, name="next")
    again = _ids(tp)
    assert again["userId"] is None and again["anonymousId"] == after["anonymousId"]


def test_empty_traits_object_clears_cached_traits(tp: TrackerPage):
    """user().traits({}) and group().traits({}) clear the caches, also for the next page."""
    tp.open(
        INIT,
        "tracker('identify', 'user-1', { a: 1 });",
        "tracker('identify', 'user-1', { b: 2 });",
        "tracker('group', 'group-1', { seats: 5 });",
    )
    assert tp.js("return tracker.user().traits()") == {"a": 1, "b": 2}
    assert json.loads(tp.local_storage()["ajs_user_traits"]) == {"a": 1, "b": 2}
    assert tp.js("return tracker.group().traits()") == {"seats": 5}
    tp.js("tracker.user().traits({}); tracker.group().traits({});")
    assert tp.js("return [tracker.user().traits(), tracker.group().traits()]") == [{}, {}]
    tp.open(INIT, name="next")
    assert tp.js("return [tracker.user().traits(), tracker.group().traits()]") == [{}, {}]
    assert tp.js("return [tracker.user().id(), tracker.group().id()]") == ["user-1", "group-1"]


IDENTITY_COOKIES = {"_ALGOLIA", "ajs_anonymous_id", "ajs_user_id", "ajs_group_id"}
IDENTITY_LOCAL = {
    "ajs_anonymous_id",
    "ajs_user_id",
    "ajs_user_traits",
    "ajs_group_id",
    "ajs_group_properties",
}


@pytest.mark.parametrize(
    ("strategy", "in_cookies", "in_local"),
    [
        ("cookieAndLocalStorage", IDENTITY_COOKIES, IDENTITY_LOCAL),
        ("cookie", IDENTITY_COOKIES, set()),
        ("localStorage", set(), IDENTITY_LOCAL),
        ("none", set(), set()),
    ],
)
def test_each_storage_strategy_writes_only_where_it_should(
    tp: TrackerPage, strategy: str, in_cookies: set[str], in_local: set[str]
):
    """Each stateStorageStrategy puts the identities in its own places and nowhere else;
    the ids work the same from the page's point of view."""
    tp.open(
        f"tracker('init', {{ stateStorageStrategy: '{strategy}' }});",
        "tracker('setAnonymousUserToken');",
        "tracker('identify', 'user-1', { plan: 'pro' });",
        "tracker('group', 'group-1', { seats: 5 });",
    )
    ids = _ids(tp)
    assert UUID4_RE.match(ids["anonymousId"])
    assert (ids["userId"], ids["traits"], ids["groupId"]) == ("user-1", {"plan": "pro"}, "group-1")
    cookies = set(tp.cookies()) & TRACKER_KEYS
    local = set(tp.local_storage()) & TRACKER_KEYS
    assert in_cookies <= cookies, f"missing cookies {in_cookies - cookies}"
    assert in_local <= local, f"missing localStorage keys {in_local - local}"
    if "cookie" not in strategy.lower():
        assert not cookies, f"{strategy} wrote cookies {cookies}"
        assert tp.document_cookie() == ""
        assert ids["userToken"] is None  # no cookies: setAnonymousUserToken() is a no-op
    else:
        assert ANON_TOKEN_RE.match(ids["userToken"])
        assert _cookie(tp, "ajs_anonymous_id") == ids["anonymousId"]
    if "localstorage" not in strategy.lower():
        assert not local, f"{strategy} wrote localStorage keys {local}"
    else:
        assert _local(tp, "ajs_anonymous_id") == ids["anonymousId"]
        assert "_ALGOLIA" not in local


def test_switching_strategy_at_run_time_moves_identities(tp: TrackerPage):
    """init({stateStorageStrategy}) later moves the current ids to the new place."""
    tp.open(INIT, "tracker('identify', 'user-1');")
    anonymous_id = tp.call("getAnonymousId")
    assert "ajs_anonymous_id" in tp.cookies()
    tp.command("init", {"stateStorageStrategy": "localStorage"})
    assert not set(tp.cookies()) & TRACKER_KEYS
    assert _local(tp, "ajs_anonymous_id") == anonymous_id
    assert _local(tp, "ajs_user_id") == "user-1"
    tp.command("init", {"stateStorageStrategy": "cookie"})
    assert not set(tp.local_storage()) & TRACKER_KEYS
    assert _cookie(tp, "ajs_anonymous_id") == anonymous_id
    assert _cookie(tp, "ajs_user_id") == "user-1"
    assert tp.call("getAnonymousId") == anonymous_id


def test_reinit_keeps_anonymous_id_and_user(tp: TrackerPage):
    """A second init (new options) keeps the stored anonymousId and userId."""
    tp.open(INIT, "tracker('identify', 'user-1');")
    anonymous_id = tp.call("getAnonymousId")
    tp.command("init", {"appId": "second", "sessionTimeout": 60})
    assert tp.call("getAnonymousId") == anonymous_id
    assert tp.js("return tracker.user().id()") == "user-1"


def test_visitor_of_analytics_js_and_search_insights_keeps_ids(tp: TrackerPage):
    """Cookies left by analytics.js (JSON-quoted) and search-insights are this visitor's ids."""
    anonymous_id = "39ee7ea5-b6d8-4174-b612-04e1ef3fa952"
    token = "anonymous-f8e8a8c7-5b5a-4b8c-9d8e-7f6e5d4c3b2a"
    tp.add_cookies(
        {
            "ajs_anonymous_id": f"%22{anonymous_id}%22",
            "ajs_user_id": "%22user-7%22",
            "_ALGOLIA": token,
        }
    )
    tp.open(INIT, "tracker('setAnonymousUserToken');")
    ids = _ids(tp)
    assert ids["anonymousId"] == ids["userAnonymousId"] == anonymous_id
    assert ids["userId"] == "user-7"
    assert ids["userToken"] == token
    assert _local(tp, "ajs_anonymous_id") == anonymous_id


def test_visitor_with_analytics_js_local_storage_only_keeps_ids(tp: TrackerPage):
    """Ids analytics.js left only in localStorage (JSON values) are kept and the cookie
    is written back."""
    anonymous_id = "7d3f1c2e-0a4b-4c5d-9e6f-708192a3b4c5"
    tp.seed_local_storage(
        {
            "ajs_anonymous_id": json.dumps(anonymous_id),
            "ajs_user_id": json.dumps("user-8"),
            "ajs_user_traits": json.dumps({"name": "Ann"}),
        }
    )
    tp.open(INIT)
    ids = _ids(tp)
    assert ids["anonymousId"] == anonymous_id
    assert ids["userId"] == "user-8"
    assert ids["traits"] == {"name": "Ann"}
    assert _cookie(tp, "ajs_anonymous_id") == anonymous_id


@pytest.mark.parametrize(
    "blocker", [LOCAL_STORAGE_CALLS_THROW, LOCAL_STORAGE_ACCESS_THROWS], ids=["calls", "access"]
)
def test_throwing_local_storage_still_gives_a_working_id(tp: TrackerPage, blocker: str):
    """localStorage that throws: the id lives in the cookie, survives a reload, a warning
    says so, and nothing throws into the page."""
    tp.page.add_init_script(blocker)
    tp.open(
        INIT,
        "tracker('identify', 'user-1', { plan: 'pro' });",
        after=["window.pageScriptRan = true;"],
    )
    ids = _ids(tp)
    assert UUID4_RE.match(ids["anonymousId"])
    assert ids["userId"] == "user-1" and ids["traits"] == {"plan": "pro"}
    assert _cookie(tp, "ajs_anonymous_id") == ids["anonymousId"]
    assert tp.js("return window.pageScriptRan") is True
    assert tp.log.warnings, "no warning about the unusable localStorage"
    tp.log.assert_no_page_errors()
    tp.reload()
    assert tp.call("getAnonymousId") == ids["anonymousId"]


def test_cookie_that_drops_writes_falls_back_to_local_storage(tp: TrackerPage):
    """A document.cookie that silently drops writes: the id is kept in localStorage and
    survives a reload."""
    tp.page.add_init_script(COOKIE_IGNORES_WRITES)
    tp.open(INIT)
    anonymous_id = tp.call("getAnonymousId")
    assert UUID4_RE.match(anonymous_id)
    assert _local(tp, "ajs_anonymous_id") == anonymous_id
    tp.reload()
    assert tp.call("getAnonymousId") == anonymous_id


def test_garbage_in_storage_leaves_a_valid_identity(tp: TrackerPage):
    """Invalid JSON, wrong types, a 100 KB value and broken escapes in storage are
    replaced by valid state, without an error in the page."""
    tp.add_cookies({"ajs_anonymous_id": "%E0%A4%A", "_trk_ses": "%7Bnot-json", "_ALGOLIA": "%"})
    tp.seed_local_storage(
        {
            "ajs_anonymous_id": "x" * 100_000,
            "ajs_user_traits": "{broken",
            "ajs_group_properties": "[1, 2, 3]",
            "_trk_ses": "null",
            "_trk_queue": '{"not": "a list"}',
        }
    )
    tp.open(INIT, "tracker('setAnonymousUserToken');")
    ids = _ids(tp)
    anonymous_id = ids["anonymousId"]
    assert isinstance(anonymous_id, str) and 0 < len(anonymous_id) <= 256
    assert ids["traits"] == {} and ids["groupTraits"] == {}
    assert ANON_TOKEN_RE.match(ids["userToken"])
    assert UUID4_RE.match(tp.call("getSessionId") or "")
    tp.reload()
    assert tp.call("getAnonymousId") == anonymous_id


def test_group_traits_merge_and_identify_with_traits_only(tp: TrackerPage):
    """group() stores the group and merges its traits; identify(traits) keeps the userId;
    init's anonymousId option is the starting id."""
    tp.open(
        "tracker('init', { anonymousId: 'from-init-1' });",
        "tracker('group', 'group-1', { seats: 5 });",
        "tracker('group', 'group-1', { plan: 'team' });",
        "tracker('identify', { email: 'ann@example.com' });",
    )
    ids = _ids(tp)
    assert ids["anonymousId"] == "from-init-1"
    assert ids["groupId"] == "group-1"
    assert ids["groupTraits"] == {"seats": 5, "plan": "team"}
    assert ids["userId"] is None
    assert ids["traits"] == {"email": "ann@example.com"}
    assert _cookie(tp, "ajs_group_id") == "group-1"
    assert json.loads(tp.local_storage()["ajs_group_properties"]) == {"seats": 5, "plan": "team"}
    assert tp.js("return tracker.user().id('user-9')") == "user-9"
    assert _cookie(tp, "ajs_user_id") == "user-9"
