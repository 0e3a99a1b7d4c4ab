"""Issue 3: the one script tag, the stub queue, and Algolia's user tokens on real cookies."""

from __future__ import annotations

import time
from typing import Any

import pytest

from .support import ANON_TOKEN_RE, UUID4_RE, TrackerPage, build_page, needs_interpreter, stored

SIX_MONTHS_MS = 15_552_000_000
ONE_DAY_MS = 86_400_000

# Chromium with "block all cookies": reads give "", writes vanish, cookieEnabled is false.
COOKIES_IGNORED = """
Object.defineProperty(Document.prototype, 'cookie', {
  configurable: true, get() { return ''; }, set(v) {} });
Object.defineProperty(Navigator.prototype, 'cookieEnabled', {
  configurable: true, get() { return false; } });
"""
# A sandboxed document: touching document.cookie throws.
COOKIES_THROW = """
(() => {
  const deny = () => { throw new DOMException('Access is denied for this document.',
                                              'SecurityError'); };
  Object.defineProperty(Document.prototype, 'cookie', {configurable: true, get: deny, set: deny});
})();
"""

INIT = "tracker('init', {});"


def _expires_between(cookie: dict[str, Any], t0: float, t1: float, duration_ms: int) -> None:
    """The cookie expires ``duration_ms`` after it was written (between t0 and t1), ± 1 min."""
    d = duration_ms / 1000
    assert t0 + d - 60 <= cookie["expires"] <= t1 + d + 60, (
        f"expires {cookie['expires']:.0f} is not now + {d:.0f}s "
        f"(written between {t0:.0f} and {t1:.0f})"
    )


def test_queued_anonymous_token_is_written_to_algolia_cookie_for_six_months(tp: TrackerPage):
    """The stub-queued setAnonymousUserToken ends as an _ALGOLIA cookie with the default life."""
    t0 = time.time()
    tp.open(INIT, "tracker('setAnonymousUserToken');")
    t1 = time.time()
    cookie = tp.cookies()["_ALGOLIA"]
    assert ANON_TOKEN_RE.match(cookie["value"]), cookie["value"]
    _expires_between(cookie, t0, t1, SIX_MONTHS_MS)
    assert cookie["path"] == "/"
    assert cookie["sameSite"] == "Lax"
    assert tp.call("getUserToken") == cookie["value"]
    assert "_ALGOLIA=" + cookie["value"] in tp.document_cookie()


def test_custom_cookie_duration_sets_cookie_lifetime(tp: TrackerPage):
    """init's cookieDuration is the _ALGOLIA cookie's lifetime."""
    t0 = time.time()
    tp.open(
        f"tracker('init', {{ collectorUrl: '/collect', cookieDuration: {ONE_DAY_MS} }});",
        "tracker('setAnonymousUserToken');",
    )
    t1 = time.time()
    cookie = tp.cookies()["_ALGOLIA"]
    assert ANON_TOKEN_RE.match(cookie["value"])
    _expires_between(cookie, t0, t1, ONE_DAY_MS)


def test_cookie_names_renames_the_token_cookie(tp: TrackerPage):
    """cookieNames.userToken stores the anonymous token under the site's own cookie name."""
    tp.open(
        "tracker('init', { cookieNames: { userToken: 'my_tok' } });",
        "tracker('setAnonymousUserToken');",
    )
    cookies = tp.cookies()
    assert "_ALGOLIA" not in cookies
    assert ANON_TOKEN_RE.match(cookies["my_tok"]["value"])
    assert tp.call("getUserToken") == cookies["my_tok"]["value"]


def test_existing_anonymous_cookie_is_reused(tp: TrackerPage):
    """A returning visitor keeps the anonymous token already in their _ALGOLIA cookie."""
    existing = "anonymous-0f3c7a52-9b1e-4d2a-8c4f-5e6d7a8b9c0d"
    tp.context.add_cookies([{"name": "_ALGOLIA", "value": existing, "url": tp.base_url}])
    tp.open(INIT, "tracker('setAnonymousUserToken');")
    assert tp.call("getUserToken") == existing
    assert tp.cookie_value("_ALGOLIA") == existing


def test_non_anonymous_algolia_cookie_is_not_reused(tp: TrackerPage):
    """An _ALGOLIA cookie without the anonymous- prefix is replaced by a fresh token."""
    tp.context.add_cookies([{"name": "_ALGOLIA", "value": "user-42", "url": tp.base_url}])
    tp.open(INIT, "tracker('setAnonymousUserToken');")
    token = tp.call("getUserToken")
    assert ANON_TOKEN_RE.match(token), token
    assert tp.cookie_value("_ALGOLIA") == token


def test_in_memory_token_is_new_on_every_call_and_writes_no_cookie(tp: TrackerPage):
    """setAnonymousUserToken(true) gives a fresh anonymous token each time, stored nowhere."""
    tp.open(INIT)
    before = tp.cookies()
    tokens = tp.js(
        "const out = [];"
        "for (let i = 0; i < 3; i++) { tracker.setAnonymousUserToken(true);"
        " out.push(tracker.getUserToken()); }"
        "return out;"
    )
    assert all(ANON_TOKEN_RE.match(t) for t in tokens), tokens
    assert len(set(tokens)) == 3
    assert "_ALGOLIA" not in tp.cookies()
    assert tp.cookies() == before
    assert all(t not in v for t in tokens for v in tp.local_storage().values())


@pytest.mark.parametrize("blocker", [COOKIES_IGNORED, COOKIES_THROW], ids=["ignored", "throw"])
def test_blocked_cookies_make_cookie_token_a_no_op_but_in_memory_works(
    tp: TrackerPage, blocker: str
):
    """Without usable cookies setAnonymousUserToken() does nothing; (true) still gives a token."""
    tp.page.add_init_script(blocker)
    tp.open(INIT, "tracker('setAnonymousUserToken');", after=["window.pageScriptRan = true;"])
    assert tp.call("getUserToken") is None
    tp.call("setAnonymousUserToken")
    assert tp.call("getUserToken") is None
    tp.call("setAnonymousUserToken", True)
    assert ANON_TOKEN_RE.match(tp.call("getUserToken") or "")
    assert "_ALGOLIA" not in tp.cookies()
    assert tp.js("return window.pageScriptRan") is True
    tp.log.assert_no_page_errors()


def test_queued_calls_are_replayed_in_order(tp: TrackerPage):
    """Calls made before the script loads run in the order the page made them."""
    tp.open(
        INIT,
        "tracker('onUserTokenChange', t => (window.seen = window.seen || []).push(t));",
        "tracker('setUserToken', 'a');",
        "tracker('setUserToken', 'b');",
        "tracker('setAuthenticatedUserToken', 'auth-1');",
        "tracker('setAuthenticatedUserToken', 'auth-2');",
    )
    assert tp.call("getUserToken") == "b"
    assert tp.call("getAuthenticatedUserToken") == "auth-2"
    assert tp.wait_for("window.seen && window.seen.length >= 2 && window.seen") == ["a", "b"]


def test_init_without_options_or_with_unreadable_ones_starts_with_the_defaults(tp: TrackerPage):
    """`tracker('init')` alone is init with the defaults (all options are optional); options
    JSON cannot carry (a circular object) give one warning and the defaults, not a failed load."""
    tp.open("tracker('init');", name="bare-init")
    assert UUID4_RE.match(stored(tp.cookie_value("ajs_anonymous_id")) or "")
    assert tp.js("return tracker.loadError") is None
    tp.context.clear_cookies()
    tp.open(
        "var o = { appId: 'x' }; o.self = o;",
        "tracker('init', o);",
        "tracker('setUserToken', 'after-bad-init');",
        name="circular-init",
    )
    assert tp.js("return tracker.loadError") is None
    assert len(tp.wait_for_warnings(1, "init: options cannot be read")) == 1
    assert tp.call("getUserToken") == "after-bad-init"
    assert UUID4_RE.match(stored(tp.cookie_value("ajs_anonymous_id")) or "")


def test_function_argument_runs_once_when_ready(tp: TrackerPage):
    """tracker(fn) calls fn once, after the queue is replayed; also when given after ready."""
    tp.open(
        INIT,
        "tracker('setUserToken', 'a');",
        "tracker('setUserToken', 'b');",
        "tracker(function () { window.fnCalls = (window.fnCalls || 0) + 1;"
        " window.fnSaw = window.tracker.getUserToken(); });",
    )
    assert tp.wait_for("window.fnCalls") == 1
    assert tp.js("return window.fnSaw") == "b"
    tp.js("tracker(() => { window.lateCalls = (window.lateCalls || 0) + 1; })")
    assert tp.wait_for("window.lateCalls") == 1
    tp.page.wait_for_timeout(200)
    assert tp.js("return [window.fnCalls, window.lateCalls]") == [1, 1]


def test_direct_methods_return_values_synchronously_after_ready(tp: TrackerPage):
    """After ready, tracker.getUserToken() etc. return plain values in the same JS turn;
    init's userToken and authenticatedUserToken are the initial tokens."""
    tp.open("tracker('init', { userToken: 'from-init', authenticatedUserToken: 'auth-init' });")
    assert tp.call("getUserToken") == "from-init"
    assert tp.call("getAuthenticatedUserToken") == "auth-init"
    got = tp.js(
        "tracker.setUserToken('sync-1');"
        "const a = tracker.getUserToken();"
        "tracker('setUserToken', 'sync-2');"
        "return [a, tracker.getUserToken(), typeof tracker.setAnonymousUserToken];"
    )
    assert got == ["sync-1", "sync-2", "function"]


def test_unknown_method_warns_once_and_page_keeps_running(tp: TrackerPage):
    """An unknown method name logs exactly one warning naming it; the page's scripts go on."""
    tp.open(
        INIT,
        "tracker('noSuchMethod', 1, 2);",
        "tracker('setUserToken', 'after-unknown');",
        after=["window.laterScriptRan = true;"],
    )
    assert len(tp.wait_for_warnings(1, "noSuchMethod")) == 1
    assert tp.call("getUserToken") == "after-unknown"
    tp.js(
        "tracker.ready.then(() => { tracker('alsoNotAMethod'); window.afterUnknownCall = 'ran'; });"
    )
    assert tp.wait_for("window.afterUnknownCall") == "ran"
    assert len(tp.wait_for_warnings(1, "alsoNotAMethod")) == 1
    assert tp.js("return window.laterScriptRan") is True


def test_invalid_user_tokens_are_refused_with_a_warning(tp: TrackerPage):
    """Tokens over 129 chars, with other characters, empty or not strings are refused,
    one warning each, and the token and listeners are untouched."""
    tp.open(INIT, "tracker('setUserToken', 'good-token');")
    tp.js("window.seen = []; tracker.onUserTokenChange(t => window.seen.push(t));")
    bad: list[Any] = ["x" * 130, "has space", "semi;colon", "é", "", 123, None, True, {"a": 1}]
    for value in bad:
        before = len(tp.log.warnings)
        tp.command("setUserToken", value)
        assert len(tp.wait_for_warnings(before + 1)) == before + 1, f"one warning for {value!r}"
        assert tp.call("getUserToken") == "good-token", f"{value!r} was accepted"
    before = len(tp.log.warnings)
    tp.js("tracker.setUserToken({ nested: [1] }); tracker.setUserToken();")
    assert len(tp.wait_for_warnings(before + 2)) == before + 2
    assert tp.call("getUserToken") == "good-token"
    assert tp.js("return window.seen") == []
    longest = "aZ09_=/+-" + "a" * 120
    assert len(longest) == 129
    tp.call("setUserToken", longest)
    assert tp.call("getUserToken") == longest


def test_authenticated_user_token_is_set_and_read_back(tp: TrackerPage):
    """setAuthenticatedUserToken/getAuthenticatedUserToken round-trip, separate from
    the user token; an invalid one is refused with a warning."""
    tp.open(INIT, "tracker('setAnonymousUserToken');")
    anon = tp.call("getUserToken")
    assert tp.call("getAuthenticatedUserToken") is None
    tp.call("setAuthenticatedUserToken", "user_1234")
    assert tp.call("getAuthenticatedUserToken") == "user_1234"
    assert tp.call("getUserToken") == anon
    before = len(tp.log.warnings)
    tp.call("setAuthenticatedUserToken", "not valid!")
    assert len(tp.wait_for_warnings(before + 1)) == before + 1
    assert tp.call("getAuthenticatedUserToken") == "user_1234"


def test_on_user_token_change_immediate_calls_back_at_once_then_on_changes(tp: TrackerPage):
    """{immediate: true} reports the current token at once, then every change, the anonymous
    token too; as in search-insights a new callback replaces the previous one."""
    tp.open(INIT, "tracker('setUserToken', 'first');")
    tp.js(
        "window.seen = [];tracker.onUserTokenChange(t => window.seen.push(t), { immediate: true });"
    )
    assert tp.wait_for("window.seen.length >= 1 && window.seen") == ["first"]
    tp.call("setUserToken", "second")
    tp.call("setAnonymousUserToken", True)
    seen = tp.wait_for("window.seen.length >= 3 && window.seen")
    assert seen[:2] == ["first", "second"] and ANON_TOKEN_RE.match(seen[2]), seen
    tp.js("window.other = []; tracker.onUserTokenChange(t => window.other.push(t));")
    tp.call("setUserToken", "third")
    assert tp.wait_for("window.other.length >= 1 && window.other") == ["third"]
    assert len(tp.js("return window.seen")) == 3


def test_data_global_renames_the_global(tp: TrackerPage):
    """data-global="aa" serves the same API as window.aa and leaves window.tracker alone."""
    tp.open("aa('init', {});", "aa('setAnonymousUserToken');", global_name="aa")
    token = tp.call("getUserToken")
    assert ANON_TOKEN_RE.match(token)
    assert tp.cookie_value("_ALGOLIA") == token
    assert tp.page.evaluate("() => typeof window.tracker") == "undefined"
    assert (
        tp.page.evaluate("() => { aa('setUserToken', 'via-aa'); return aa.getUserToken(); }")
        == "via-aa"
    )


def test_reinit_keeps_stored_identities(tp: TrackerPage):
    """Calling init again to change options keeps the anonymous token and its cookie."""
    tp.open(INIT, "tracker('setAnonymousUserToken');")
    token = tp.call("getUserToken")
    tp.command("init", {"appId": "second", "cookieDuration": ONE_DAY_MS})
    assert tp.call("getUserToken") == token
    assert tp.cookie_value("_ALGOLIA") == token
    tp.call("setAnonymousUserToken")
    assert tp.call("getUserToken") == token


def test_failed_runtime_download_leaves_page_working_and_warns(tp: TrackerPage):
    """When the runtime's files cannot be fetched the page keeps running, calls are
    harmless, nothing throws into the page, and a warning says what happened."""
    needs_interpreter(tp.runtime)

    def block(route: Any) -> None:
        if route.request.url.split("?")[0].endswith("/dist/tracker.js"):
            route.continue_()
        else:
            route.abort()

    tp.page.route("**/dist/**", block)
    tp.open(
        INIT,
        "tracker('setAnonymousUserToken');",
        after=[
            "window.laterScriptRan = true;",
            "tracker.ready && tracker.ready.then(() => { window.readySettled = true; });",
        ],
        ready=False,
    )
    assert tp.wait_for_warnings(1, settle_ms=0), f"no console warning: {tp.log.messages}"
    assert tp.js("return window.laterScriptRan") is True
    assert (
        tp.js("tracker('setUserToken', 'x'); tracker(() => {});return typeof tracker;")
        == "function"
    )
    tp.page.wait_for_timeout(300)
    tp.log.assert_no_page_errors()


def test_values_cross_the_bridge_as_plain_js_values(tp: TrackerPage):
    """Nested JS values go into Python and come back equal, as plain objects and arrays."""
    tp.open(INIT)
    traits = {
        "n": 1.5,
        "big": 2**40,
        "neg": -3,
        "yes": True,
        "no": False,
        "nil": None,
        "list": [1, "x", {"k": "v"}],
        "obj": {"deep": {"er": ["é", "☃", "😀"]}},
        "empty": {},
    }
    got = tp.js(
        "tracker.identify('user-1', arg);"
        "const t = tracker.user().traits();"
        "return { t, plain: Object.getPrototypeOf(t) === Object.prototype"
        " && Array.isArray(t.list) && Object.getPrototypeOf(t.obj.deep) === Object.prototype,"
        " types: [typeof t.n, typeof t.yes, t.nil === null, typeof tracker.getAnonymousId()] };",
        traits,
    )
    assert got["t"] == traits
    assert got["plain"] is True
    assert got["types"] == ["number", "boolean", True, "string"]


def test_throwing_callbacks_are_reported_not_thrown_into_the_page(tp: TrackerPage):
    """A page callback that throws (onUserTokenChange, tracker(fn)) gives a warning; the
    tracker and the page carry on."""
    tp.open(INIT)
    tp.js(
        "tracker.onUserTokenChange(() => { throw new Error('callback boom'); });"
        "tracker.setUserToken('after-boom');"
        "tracker(() => { throw new Error('ready boom'); });"
    )
    assert tp.wait_for_warnings(2)
    assert tp.call("getUserToken") == "after-boom"
    tp.call("setUserToken", "still-works")
    assert tp.call("getUserToken") == "still-works"


def test_cookie_attributes_and_names_follow_init_options(tp: TrackerPage):
    """cookiePath, cookieSameSite and cookieNames shape every cookie the tracker writes."""
    tp.open(
        "tracker('init', { cookiePath: '/t/', cookieSameSite: 'Strict',"
        " cookieNames: { anonymousId: 'my_anon', userToken: 'my_tok' } });",
        "tracker('setAnonymousUserToken');",
    )
    cookies = tp.cookies()
    assert {"_ALGOLIA", "ajs_anonymous_id"}.isdisjoint(cookies)
    for name in ("my_tok", "my_anon"):
        assert cookies[name]["path"] == "/t/", cookies[name]
        assert cookies[name]["sameSite"] == "Strict", cookies[name]
    assert ANON_TOKEN_RE.match(cookies["my_tok"]["value"])
    assert tp.call("getAnonymousId") in cookies["my_anon"]["value"]
    assert "my_anon" in tp.local_storage()


def test_a_page_with_frozen_builtins_gets_a_visible_load_failure(tp: TrackerPage):
    """The compiled tracker extends String.prototype (Python's str methods); on a page that
    froze it (SES-style lockdown) it cannot start, and that is a load failure like any
    other: one warning, `loadError` with reason `start`, `ready` resolves, queued calls are
    dropped and later ones answer undefined without throwing into the page."""
    if tp.runtime != "compiled":
        pytest.skip("only the compiled tracker extends String.prototype")
    tp.open(
        "Object.freeze(String.prototype);",
        INIT,
        "tracker('setUserToken', 'queued');",
        name="frozen-builtins",
    )
    error = tp.js("return [tracker.loadError.name, tracker.loadError.reason];")
    assert error == ["TrackerLoadError", "start"]
    warnings = tp.wait_for_warnings(1, "could not load")
    assert len(warnings) == 1, warnings
    assert "failed to start" in warnings[0] and "2 queued calls were dropped" in warnings[0]
    assert tp.js("return tracker.getUserToken() === undefined") is True
    tp.log.assert_no_page_errors()


def test_data_runtime_compiled_is_the_default_tag(tp: TrackerPage):
    """Every compiled scenario loads the default tag (no data-runtime); naming the runtime,
    `data-runtime="compiled"`, gives the same tracker from the same one file."""
    if tp.runtime != "compiled":
        pytest.skip("about the compiled runtime's two spellings")
    html = build_page("compiled", [INIT], tag_attrs=' data-runtime="compiled"')
    assert 'data-runtime="compiled"' in html
    tp.page.goto(tp.serve("explicit-compiled", html))
    tp.wait_ready()
    token = tp.js("tracker.setAnonymousUserToken(); return tracker.getUserToken();")
    assert ANON_TOKEN_RE.match(token)
    assert tp.js("return tracker.loadError") is None
    loaded = tp.js(
        "return performance.getEntriesByType('resource')"
        ".map(e => e.name).filter(n => n.includes('/dist/'));"
    )
    assert [url.rsplit("/", 1)[1] for url in loaded] == ["tracker.js"]
    tp.log.assert_no_page_errors()


def test_the_page_keeps_its_for_in_loops_and_globals(tp: TrackerPage):
    """Loading the tracker adds no enumerable property to builtin prototypes (the compiled
    build's Python str and list methods are hidden from for...in) and no global but the
    tracker's own name."""
    tp.open(
        "window.globalsBefore = Object.keys(window);",
        INIT,
        "tracker('setAnonymousUserToken');",
        name="page-hygiene",
    )
    seen = tp.js(
        """
        const keys = o => { const found = []; for (const k in o) found.push(k); return found; };
        return {
          array: keys([]), string: keys(new String('')), object: keys({}),
          bytes: keys(new Uint8Array(0)), error: keys(new Error('x')),
          globals: Object.keys(window).filter(
            k => k !== 'globalsBefore' && !window.globalsBefore.includes(k)),
        };
        """
    )
    expected: dict[str, list[str]] = {
        "array": [],
        "string": [],
        "object": [],
        "bytes": [],
        "error": [],
        "globals": [],
    }
    if tp.runtime == "micropython":
        # MicroPython's own Emscripten glue defines globals (Module, proxy_js_ref, ...)
        del seen["globals"], expected["globals"]
    assert seen == expected, seen
    assert ANON_TOKEN_RE.match(tp.call("getUserToken"))


def test_a_page_method_the_compiled_runtime_replaces_is_named_in_a_warning(tp: TrackerPage):
    """Old libraries extend Array.prototype (`remove`, say); the compiled build defines
    Python's list.remove there too. The page is told, once, which method it lost and what
    to use instead; the interpreters touch no prototype and say nothing."""
    tp.open(
        "Array.prototype.remove = function (x) { return 'page remove ' + x; };",
        INIT,
        "tracker('setAnonymousUserToken');",
        name="page-prototype-method",
    )
    assert ANON_TOKEN_RE.match(tp.call("getUserToken"))
    warned = tp.log.warnings_about("Array.prototype.remove")
    if tp.runtime == "compiled":
        assert len(warned) == 1 and 'data-runtime="micropython"' in warned[0], warned
    else:
        assert warned == []
        assert tp.js("return [].remove(1);") == "page remove 1"
    assert tp.log.warnings_about("replaced") == warned
