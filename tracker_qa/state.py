"""Reading the tracker's state from a page: identities, session, mode, consent, and what
sits in cookies and localStorage under the tracker's keys (spec section 3).

Values come from the tracker's own getters once ``tracker.ready`` resolved, and from the
browser's real cookie jar and storage, so a test sees what the visitor's browser holds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from playwright.sync_api import Page
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tracker.config import DEFAULT_COOKIE_NAMES

__all__ = [
    "CONSENT_KEY",
    "SESSION_KEYS",
    "USER_KEYS",
    "PageState",
    "decode_stored",
    "read_state",
    "tracker_keys",
    "wait_ready",
]

CONSENT_KEY = "consent"
"""The remembered consent choice lives in the cookie ``_trk_consent`` (the word only)."""
_CONSENT_COOKIE = "_trk_consent"

USER_KEYS = ("userToken", "anonymousId", "userId", "userTraits", "groupId", "groupTraits")
"""Keys (as in ``cookieNames``) holding user identifiers: anonymous modes store none."""
SESSION_KEYS = ("session",)
BUFFER_KEYS = ("queue",)

_READ_JS = """
async ([g, names]) => {
  const t = window[g];
  await t.ready;
  const out = { errors: {} };
  const read = (key, f) => {
    try { out[key] = f(); } catch (e) { out.errors[key] = String((e && e.message) || e); }
  };
  const has = name => typeof t[name] === 'function';
  read('userToken', () => t.getUserToken());
  read('authenticatedUserToken', () => t.getAuthenticatedUserToken());
  read('anonymousId', () => t.getAnonymousId());
  read('userId', () => t.user().id());
  read('userTraits', () => t.user().traits());
  read('groupId', () => t.group().id());
  read('sessionId', () => t.getSessionId());
  read('sessionIndex', () => t.getSessionIndex());
  read('mode', () => t.getMode());
  if (has('getConsent')) read('consent', () => t.getConsent());
  if (has('getAccessToken')) read('accessToken', () => t.getAccessToken());
  if (has('getBufferedEvents')) read('buffered', () => t.getBufferedEvents());
  const storage = kind => {
    try {
      const s = window[kind];
      const items = {};
      for (let i = 0; i < s.length; i++) {
        const k = s.key(i);
        if (!k.startsWith('__tracker_qa')) items[k] = s.getItem(k);
      }
      return items;
    } catch (e) { return null; }
  };
  out.localStorage = storage('localStorage');
  out.sessionStorage = storage('sessionStorage');
  try { out.documentCookie = document.cookie; } catch (e) { out.documentCookie = null; }
  out.given = Array.isArray(window.__trackerQaGiven) ? window.__trackerQaGiven : [];
  return out;
}
"""


def tracker_keys(cookie_names: dict[str, str] | None = None) -> dict[str, str]:
    """The tracker's storage keys by concept (``cookieNames`` given to ``init`` win),
    plus ``consent``."""
    names = dict(DEFAULT_COOKIE_NAMES)
    names.setdefault(CONSENT_KEY, _CONSENT_COOKIE)
    names.update(cookie_names or {})
    return names


def decode_stored(raw: str | None) -> str | None:
    """A stored value as the tracker reads it: URL-decoded and without JSON quotes."""
    if raw is None:
        return None
    value = unquote(raw)
    if len(value) >= 2 and value[0] == value[-1] == '"':
        try:
            decoded = json.loads(value)
        except ValueError:
            return value
        return decoded if isinstance(decoded, str) else value
    return value


@dataclass
class PageState:
    """What the tracker on one page holds and what the browser stores for it."""

    page_url: str
    global_name: str
    keys: dict[str, str]
    """Storage key by concept: ``{"anonymousId": "ajs_anonymous_id", ...}``."""
    user_token: str | None = None
    authenticated_user_token: str | None = None
    anonymous_id: str | None = None
    user_id: str | None = None
    user_traits: dict[str, Any] = field(default_factory=dict)
    group_id: str | None = None
    session_id: str | None = None
    session_index: int | None = None
    mode: dict[str, Any] = field(default_factory=dict)
    """``getMode()``: ``anonymousTracking``, ``anonymous``, ``withSessionTracking``,
    ``withServerAnonymisation``, ``stateStorageStrategy``."""
    consent: str | None = None
    """``getConsent()`` where the tracker has it, else the ``_trk_consent`` cookie."""
    access_token: str | None = None
    buffered_events: list[dict[str, Any]] = field(default_factory=list)
    cookies: dict[str, str] = field(default_factory=dict)
    """Cookies under the tracker's keys, by cookie name, raw as stored."""
    local_storage: dict[str, str] = field(default_factory=dict)
    """localStorage under the tracker's keys, by key, raw as stored."""
    all_cookies: dict[str, str] = field(default_factory=dict)
    all_local_storage: dict[str, str] = field(default_factory=dict)
    all_session_storage: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    """Getters that threw (none should: the tracker never throws into the page)."""
    given: list[tuple[str, str]] = field(default_factory=list)
    """Identifiers the page passed to the tracker, as ``(how, value)``; recorded when the
    page was opened with the ``tracker_capture`` or ``tracker_state`` fixture."""

    @property
    def anonymous(self) -> bool:
        return bool(self.mode.get("anonymous"))

    @property
    def server_anonymisation(self) -> bool:
        return bool(self.mode.get("withServerAnonymisation"))

    @property
    def session_tracking(self) -> bool:
        """Whether the mode keeps a session (always outside anonymous modes)."""
        if not self.anonymous:
            return True
        return bool(self.mode.get("withSessionTracking"))

    @property
    def strategy(self) -> str:
        return str(self.mode.get("stateStorageStrategy", "cookieAndLocalStorage"))

    def cookie(self, concept: str) -> str | None:
        """The decoded cookie for a concept (``"anonymousId"``), or None."""
        return decode_stored(self.cookies.get(self.keys.get(concept, concept)))

    def stored(self, concept: str) -> str | None:
        """The decoded localStorage value for a concept, or None."""
        return decode_stored(self.local_storage.get(self.keys.get(concept, concept)))

    def describe_mode(self) -> str:
        """``anonymousTracking={"withServerAnonymisation": true}, stateStorageStrategy=none``."""
        mode = self.mode.get("anonymousTracking", False)
        return "anonymousTracking=%s, stateStorageStrategy=%s" % (
            json.dumps(mode, sort_keys=True),
            self.strategy,
        )


def wait_ready(page: Page, global_name: str = "tracker", timeout_ms: float = 60_000) -> None:
    """Wait until ``window[global_name].ready`` resolved (the runtime started and the queued
    calls ran); fail with what the page shows otherwise."""
    try:
        page.wait_for_function(
            "g => !!(window[g] && window[g].ready)", arg=global_name, timeout=timeout_ms
        )
        page.evaluate("g => window[g].ready", global_name)
    except PlaywrightTimeoutError:
        raise AssertionError(
            "window.%s.ready did not resolve within %d ms on %s: is dist/tracker.js on the "
            "page (and data-global=%r if the global is renamed)?"
            % (global_name, timeout_ms, page.url, global_name)
        ) from None


def read_state(
    page: Page,
    global_name: str = "tracker",
    cookie_names: dict[str, str] | None = None,
    timeout_ms: float = 60_000,
) -> PageState:
    """The tracker's state on ``page`` once ready.

    ``cookie_names``: the ``cookieNames`` the site passes to ``init``, when it renames keys.
    Reading calls the tracker's getters, which (as on the page) create an anonymousId or a
    new session when the mode allows one and none exists yet.
    """
    wait_ready(page, global_name, timeout_ms)
    keys = tracker_keys(cookie_names)
    raw: dict[str, Any] = page.evaluate(_READ_JS, [global_name, keys])
    jar = {c["name"]: c["value"] for c in page.context.cookies(page.url)}
    local = raw.get("localStorage") or {}
    names = set(keys.values())
    state = PageState(
        page_url=page.url,
        global_name=global_name,
        keys=keys,
        user_token=raw.get("userToken"),
        authenticated_user_token=raw.get("authenticatedUserToken"),
        anonymous_id=raw.get("anonymousId"),
        user_id=raw.get("userId"),
        user_traits=raw.get("userTraits") or {},
        group_id=raw.get("groupId"),
        session_id=raw.get("sessionId"),
        session_index=raw.get("sessionIndex"),
        mode=raw.get("mode") or {},
        access_token=raw.get("accessToken"),
        buffered_events=raw.get("buffered") or [],
        cookies={k: v for k, v in jar.items() if k in names},
        local_storage={k: v for k, v in local.items() if k in names},
        all_cookies=jar,
        all_local_storage=local,
        all_session_storage=raw.get("sessionStorage") or {},
        errors=raw.get("errors") or {},
        given=[(str(how), str(value)) for how, value in raw.get("given") or []],
    )
    consent = raw.get("consent") if "consent" in raw else state.cookie(CONSENT_KEY)
    state.consent = consent if isinstance(consent, str) else None
    return state
