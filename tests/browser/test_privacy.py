"""Issue 18: remembered consent, Global Privacy Control, and a leak check over every
anonymous mode × storage strategy × event method (requests, cookie and localStorage
writes intercepted), on both runtimes."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import unquote

import pytest
from playwright.sync_api import Request, Response, Route, expect

from .support import SESSION_KEY, USER_KEYS, UUID4_RE, TrackerPage, stored

BANNER = (
    "tracker('init', { collectorUrl: '/collect',"
    " anonymousTracking: { withServerAnonymisation: true }, stateStorageStrategy: 'none',"
    " respectGlobalPrivacyControl: true });"
)
GPC = (
    "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl',"
    " { get: () => true, configurable: true });"
)

# Every cookie and localStorage write the page makes, in order, for the leak check.
RECORD_WRITES = """
window.__writes = [];
(function () {
  var desc = Object.getOwnPropertyDescriptor(Document.prototype, 'cookie');
  Object.defineProperty(Document.prototype, 'cookie', {
    configurable: true,
    get: function () { return desc.get.call(this); },
    set: function (v) { window.__writes.push(['cookie', String(v)]); desc.set.call(this, v); }
  });
  var setItem = Storage.prototype.setItem;
  Storage.prototype.setItem = function (k, v) {
    window.__writes.push(['localStorage', String(k), String(v)]);
    return setItem.call(this, k, v);
  };
})();
"""


def _tracker_ids(tp: TrackerPage) -> tuple[set[str], set[str]]:
    """The user-identifier keys in the real cookie jar and in localStorage."""
    return set(tp.cookies()) & USER_KEYS, set(tp.local_storage()) & USER_KEYS


# --- remembered consent -------------------------------------------------------------------


def test_consent_survives_reload_and_wins_over_init(tp: TrackerPage):
    """setConsent('granted') on a cookieless page: tracking at once, and after a reload of
    the same page (whose init still says anonymous + none) the same visitor is back."""
    tp.open(BANNER, name="banner")
    assert tp.call("getConsent") is None
    assert tp.call("getAnonymousId") is None
    assert tp.call("setConsent", "granted") == "granted"
    anonymous_id = tp.call("getAnonymousId")
    assert UUID4_RE.match(anonymous_id)
    assert tp.cookie_value("_trk_consent") == "granted"
    assert stored(tp.cookie_value("ajs_anonymous_id")) == anonymous_id
    consent_cookie = tp.cookies()["_trk_consent"]
    assert consent_cookie["path"] == "/" and consent_cookie["sameSite"] == "Lax"
    assert consent_cookie["expires"] > 0, "a persistent cookie (1 year), not a session one"

    tp.reload()
    assert tp.call("getConsent") == "granted"
    mode = tp.call("getMode")
    assert mode["anonymous"] is False and mode["stateStorageStrategy"] == "cookieAndLocalStorage"
    assert tp.call("getAnonymousId") == anonymous_id

    tp.call("setConsent", "denied")
    tp.open("tracker('init', { anonymousTracking: false });", name="optout")
    assert tp.call("getConsent") == "denied"
    assert tp.call("getMode")["withServerAnonymisation"] is True
    assert tp.call("getAnonymousId") is None
    assert _tracker_ids(tp) == (set(), set())


def test_denied_clears_every_identifier_and_stores_only_the_word(tp: TrackerPage):
    tp.open(
        "tracker('init', {});",
        "tracker('setAnonymousUserToken');",
        "tracker('identify', 'user-1', { plan: 'pro' });",
        "tracker('group', 'group-1', { size: 3 });",
    )
    cookies, local = _tracker_ids(tp)
    assert {"_ALGOLIA", "ajs_anonymous_id", "ajs_user_id"} <= cookies and local
    tp.command("setConsent", "denied")
    assert _tracker_ids(tp) == (set(), set())
    assert SESSION_KEY not in tp.cookies() and SESSION_KEY not in tp.local_storage()
    assert tp.js(
        "return [tracker.getAnonymousId(), tracker.getUserToken(), tracker.user().id(),"
        " tracker.getSessionId(), tracker.getConsent()]"
    ) == [None, None, None, None, "denied"]
    assert tp.cookie_value("_trk_consent") == "denied"
    assert tp.document_cookie() == "_trk_consent=denied"


def test_bad_consent_values_warn_once_each_and_change_nothing(tp: TrackerPage):
    tp.open("tracker('init', {});")
    anonymous_id = tp.call("getAnonymousId")
    tp.call("setConsent", "yes")
    tp.call("setConsent", 1)
    warnings = tp.wait_for_warnings(2, "setConsent")
    assert len(warnings) == 2
    assert tp.call("getConsent") is None and tp.call("getAnonymousId") == anonymous_id


# --- Global Privacy Control -----------------------------------------------------------------


def test_gpc_starts_cookieless_unless_consent_granted(tp: TrackerPage):
    tp.page.add_init_script(GPC)
    tp.open(
        "tracker('init', { respectGlobalPrivacyControl: true });",
        "tracker('setAnonymousUserToken');",
        "tracker('identify', 'user-1');",
        name="gpc",
    )
    assert tp.js("return navigator.globalPrivacyControl") is True
    mode = tp.call("getMode")
    assert mode["withServerAnonymisation"] is True and mode["stateStorageStrategy"] == "none"
    assert tp.call("getAnonymousId") is None and tp.call("getConsent") is None
    assert tp.document_cookie() == ""
    assert _tracker_ids(tp) == (set(), set())

    tp.call("setConsent", "granted")
    anonymous_id = tp.call("getAnonymousId")
    assert UUID4_RE.match(anonymous_id)
    tp.reload()
    assert tp.call("getMode")["anonymous"] is False, "the choice wins over the signal"
    assert tp.call("getAnonymousId") == anonymous_id


def test_gpc_is_ignored_without_respect_global_privacy_control(tp: TrackerPage):
    tp.page.add_init_script(GPC)
    tp.open("tracker('init', {});", name="gpc-ignored")
    assert tp.call("getMode")["anonymous"] is False
    assert UUID4_RE.match(tp.call("getAnonymousId"))


# --- the leak check -------------------------------------------------------------------------

LEAK_MODES = {
    "anonymous": True,
    "withSessionTracking": {"withSessionTracking": True},
    "withServerAnonymisation": {"withServerAnonymisation": True},
}
STRATEGIES = ["cookieAndLocalStorage", "cookie", "localStorage", "none"]
METHODS = ["post", "get", "beacon"]
PLANTED = ["user-leak", "token-leak", "auth-leak", "group-leak", "anon-leak", "leak@example.com"]

# Everything a page could do to create or send an identifier, then the events, then flush.
EXERCISE = """async ([mode, strategy, method]) => {
  if (strategy) tracker.enableAnonymousTracking({ options: mode, stateStorageStrategy: strategy });
  if (method) tracker.init({ eventMethod: method });
  tracker.setAnonymousUserToken();
  tracker.setUserToken('token-leak');
  tracker.setAuthenticatedUserToken('auth-leak');
  tracker.identify('user-leak', { email: 'leak@example.com' });
  tracker.group('group-leak', { name: 'group-leak' });
  tracker.getAnonymousId();
  tracker.getSessionId();
  tracker.track('Leak check', { n: 1 }, { anonymousId: 'anon-leak',
                                         context: { traits: { email: 'leak@example.com' } } });
  tracker.page('Leak', 'Check', {}, { context: { traits: { email: 'leak@example.com' } } });
  await tracker.flush();
  /* the page-exit path: sendBeacon where the method allows, else fetch with keepalive */
  tracker.track('Leaving', {}, { context: { traits: { email: 'leak@example.com' } } });
  window.dispatchEvent(new Event('pagehide'));
  await tracker.flush();
  return { anonymousId: tracker.getAnonymousId(), userToken: tracker.getUserToken(),
           userId: tracker.user().id(), traits: tracker.user().traits(),
           sessionId: tracker.getSessionId() };
}"""


class Wire:
    """Every request the page sends to the collector and every answer, in order."""

    def __init__(self, tp: TrackerPage) -> None:
        self.requests: list[dict[str, Any]] = []
        self.set_cookies: list[tuple[int, str]] = []
        base = tp.base_url
        self._base = base
        tp.page.on("request", self._request)
        tp.page.on("response", self._response)

    def wait_for_set_cookies(self, tp: TrackerPage, names: set[str]) -> dict[str, str]:
        """The Set-Cookie values answered so far by name, once all of `names` came back:
        Playwright reports a response after the page saw it, so keep its event loop turning."""
        deadline = time.monotonic() + 10
        while True:
            seen = {value.split("=", 1)[0]: value for _, value in self.set_cookies}
            if names <= set(seen) or time.monotonic() > deadline:
                return seen
            tp.page.wait_for_timeout(50)

    def _ours(self, url: str) -> bool:
        path = url[len(self._base) :] if url.startswith(self._base) else ""
        return path.startswith(("/collect", "/i?"))

    def _request(self, request: Request) -> None:
        if self._ours(request.url):
            self.requests.append(
                {
                    "url": unquote(request.url),
                    "headers": request.all_headers(),
                    "body": request.post_data or "",
                    "type": request.resource_type,
                }
            )

    def _response(self, response: Response) -> None:
        if self._ours(response.url):
            for header in response.headers_array():
                if header["name"].lower() == "set-cookie":
                    self.set_cookies.append((len(self.requests), header["value"]))


def _leaks(text: str, needles: list[str]) -> list[str]:
    return [n for n in needles if n and n in text]


def _check_window(
    tp: TrackerPage,
    wire: Wire,
    since: tuple[int, int, int],
    needles: list[str],
    sessions_allowed: bool,
    server_anonymised: bool,
    where: str,
) -> None:
    """No identifier in the requests (no cookie at all: anonymous modes omit credentials),
    the collector's answers, or the page's storage writes since ``since`` (requests,
    set-cookies and writes already seen)."""
    for request in wire.requests[since[0] :]:
        headers = dict(request["headers"])
        cookie_header = headers.pop("cookie", "")
        sent = request["url"] + "\n" + request["body"] + "\n" + json.dumps(headers)
        assert not _leaks(sent, needles), (where, request)
        for key in ("anonymousId", "userId", "userToken", "authenticatedUserToken", "traits"):
            assert f'"{key}"' not in request["body"] and f"{key}=" not in request["url"], (
                where,
                key,
                request,
            )
        if not sessions_allowed:
            assert '"session"' not in request["body"] and "session=" not in request["url"]
        assert cookie_header == "", (where, cookie_header)
        if server_anonymised:
            assert headers.get("sp-anonymous") == "*", (where, request)
    for _, value in wire.set_cookies[since[1] :]:
        name = value.split("=", 1)[0]
        assert name not in USER_KEYS, (where, value)
        assert not _leaks(value, needles), (where, value)
        assert not server_anonymised, f"{where}: a cookie set for an anonymised request: {value}"
    writes = tp.page.evaluate("n => window.__writes.slice(n)", since[2])
    for write in writes:
        if write[0] == "cookie":
            name, _, rest = write[1].partition("=")
            value = rest.split(";", 1)[0]
            if not value:
                continue  # a deletion
            key, text = name.strip(), unquote(value)
        else:
            key, text = write[1], write[2]
        assert key not in USER_KEYS, (where, write)
        assert not _leaks(text, needles), (where, write)
        if key == SESSION_KEY:
            assert sessions_allowed, (where, write)


def _mark(tp: TrackerPage, wire: Wire) -> tuple[int, int, int]:
    return (
        len(wire.requests),
        len(wire.set_cookies),
        int(tp.page.evaluate("() => window.__writes.length")),
    )


@pytest.mark.parametrize("mode", list(LEAK_MODES))
def test_leak_check_over_strategies_methods_toggles_and_clear(tp: TrackerPage, mode: str):
    """One page per anonymous mode: every storage strategy × event method switched at run
    time, then a toggle out and back and clearUserData: no user identifier reaches the
    collector, a cookie or localStorage where the mode forbids it."""
    options = LEAK_MODES[mode]
    server = mode == "withServerAnonymisation"
    tp.page.add_init_script(RECORD_WRITES)
    wire = Wire(tp)
    tp.open(
        "tracker('init', { collectorUrl: '/collect', anonymousTracking: "
        + json.dumps(options)
        + " });",
        name=f"leak-{mode}",
    )
    needles = list(PLANTED)
    for strategy in STRATEGIES:
        for method in METHODS:
            since = _mark(tp, wire)
            got = tp.page.evaluate(EXERCISE, [options, strategy, method])
            assert got["anonymousId"] is None and got["userToken"] is None, got
            assert got["userId"] is None and got["traits"] == {}, got
            sessions = mode == "withSessionTracking" and strategy != "none"
            _check_window(tp, wire, since, needles, sessions, server, f"{strategy}/{method}")
    assert len(wire.requests) >= 2 * len(STRATEGIES) * len(METHODS), wire.requests
    beacons = [r for r in wire.requests if r["type"] == "ping"]
    gets = [r for r in wire.requests if "/i?" in r["url"]]
    assert gets, "GET /i requests were sent"
    assert not beacons, "sendBeacon (which always sends cookies) is never used while anonymous"

    # Toggle: full tracking creates real ids (allowed), then anonymous again.
    tp.page.evaluate(
        "async () => { tracker.disableAnonymousTracking({ stateStorageStrategy:"
        " 'cookieAndLocalStorage' }); tracker.init({ eventMethod: 'post' });"
        " tracker.setAnonymousUserToken(); tracker.track('Tracked'); await tracker.flush(); }"
    )
    real = tp.js(
        "return [tracker.getAnonymousId(), tracker.getUserToken(), tracker.getSessionId()]"
    )
    assert real[0] and real[1], real  # (ids given while anonymous are kept in memory)
    needles += [real[0], real[1]] + ([] if mode == "withSessionTracking" else [real[2]])

    since = _mark(tp, wire)
    tp.page.evaluate(EXERCISE, [options, "cookieAndLocalStorage", "post"])
    # Ids stored while tracking stay in place until clearUserData (Snowplow), but no
    # request carries them: anonymous requests go without cookies.
    assert _tracker_ids(tp)[0], "the ids stored while tracking are still in the jar"
    _check_window(tp, wire, since, needles, mode == "withSessionTracking", server, "after toggle")

    tp.command("clearUserData")
    assert _tracker_ids(tp) == (set(), set())
    for method in METHODS:
        since = _mark(tp, wire)
        tp.page.evaluate(EXERCISE, [options, None, method])
        sessions = mode == "withSessionTracking"
        _check_window(tp, wire, since, needles, sessions, server, f"after clear/{method}")
    assert _tracker_ids(tp) == (set(), set())
    jar = json.dumps(tp.cookies()) + json.dumps(tp.local_storage())
    assert not _leaks(jar, needles), jar


# --- the collector's Set-Cookie refresh ------------------------------------------------------

ANON = "6f1c1d4e-1111-4222-8333-444455556666"


def test_collector_refreshes_id_cookies_to_their_full_lifetime(tp: TrackerPage):
    """A script-written anonymousId capped at 10 minutes (as Safari caps script cookies)
    and a 60 s token come back from the same-site collector's answer server-set, with
    their full lifetime, as the same single cookie the tracker reads."""
    wire = Wire(tp)
    tp.open(
        f"document.cookie = 'ajs_anonymous_id={ANON}; max-age=600; path=/; SameSite=Lax';",
        "tracker('init', { collectorUrl: '/collect', cookieDuration: 60000 });",
        "tracker('setAnonymousUserToken');",
        "tracker('track', 'Hello');",
        name="refresh",
    )
    token = tp.call("getUserToken")
    assert tp.call("getAnonymousId") == ANON
    tp.page.evaluate("() => tracker.flush()")
    refreshed = wire.wait_for_set_cookies(tp, {"ajs_anonymous_id", "_ALGOLIA"})
    assert refreshed["ajs_anonymous_id"].startswith(f"ajs_anonymous_id={ANON};")
    assert refreshed["_ALGOLIA"].startswith(f"_ALGOLIA={token};")
    now = tp.page.evaluate("() => Date.now() / 1000")
    jar = [c for c in tp.context.cookies() if c["name"] in ("ajs_anonymous_id", "_ALGOLIA")]
    assert sorted(c["name"] for c in jar) == ["_ALGOLIA", "ajs_anonymous_id"], "one of each"
    by_name = {c["name"]: c for c in jar}
    assert by_name["ajs_anonymous_id"]["expires"] > now + 360 * 86400
    assert by_name["_ALGOLIA"]["expires"] > now + 170 * 86400
    assert by_name["ajs_anonymous_id"]["value"] == ANON
    assert not by_name["ajs_anonymous_id"]["httpOnly"] and by_name["_ALGOLIA"]["path"] == "/"
    assert tp.call("getAnonymousId") == ANON and tp.call("getUserToken") == token


def test_no_refresh_resurrects_ids_after_denied(tp: TrackerPage):
    """A request in flight when the visitor declines carried the ids, and the collector's
    answer (held back here until after the click) re-sets them: the tracker removes them
    again, so no id cookie is left once the answers are in."""
    tp.open(
        "tracker('init', { collectorUrl: '/collect' });",
        "tracker('setAnonymousUserToken');",
        name="inflight",
    )

    def answer_late(route: Route) -> None:
        response = route.fetch()  # the collector sees the request with its cookies now
        time.sleep(0.5)  # the visitor declines meanwhile
        route.fulfill(response=response)

    tp.page.route("**/collect", answer_late)
    left = tp.page.evaluate(
        """async () => {
          tracker.track('Before');
          await new Promise(r => setTimeout(r, 200));
          tracker.setConsent('denied');
          await tracker.flush();
          await new Promise(r => setTimeout(r, 100));
          return document.cookie;
        }"""
    )
    assert left == "_trk_consent=denied"
    assert _tracker_ids(tp) == (set(), set())


def test_consent_demo_keeps_the_choice_over_reload_and_shows_todays_counts(tp: TrackerPage):
    """The consent demo page: Withdraw is setConsent('denied'), kept over a reload by the
    tracker itself; the page's own cookieless page views show up in /api/stats."""
    page = tp.page
    tp.goto(f"/consent.html?runtime={tp.runtime}")
    page.click("#btn-withdraw")
    expect(page.locator("#consent")).to_have_text("withdrawn")
    assert tp.cookie_value("_trk_consent") == "denied"
    tp.reload()
    expect(page.locator("#consent")).to_have_text("withdrawn")
    expect(page.locator("#consent-stored")).to_have_text("denied")
    expect(page.locator("#mode")).to_have_text("anonymous, server anonymisation")
    assert tp.call("getAnonymousId") is None
    page.click("#btn-page")
    tp.page.evaluate("() => tracker.flush()")
    page.click("#btn-stats")
    expect(page.locator("#stats-status")).to_have_text("ok")
    cookieless = int(page.locator("#stats-cookieless").text_content() or "0")
    assert cookieless >= 1
    assert int(page.locator("#stats-pageviews").text_content() or "0") >= 2
