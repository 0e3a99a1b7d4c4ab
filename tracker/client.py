"""`Tracker`: the Python API (snake_case) over identity, privacy, session and storage rules.

Every public method validates its arguments, warns through the host and leaves
state unchanged on bad input; none of them raises for anything a page passes.
"""

import json

from . import privacy, session
from .config import DEFAULTS, ONE_YEAR_S, merge_options
from .delivery import Delivery
from .events import MAX_BUFFER_CHARS, build_event, check_buffer, event_context, scrub
from .host import Host, default_host
from .identity import anonymous_user_token, check_id, check_token, is_anonymous_token, uuid4
from .outbox import Outbox
from .storage import (
    COOKIE,
    MAX_VALUE_CHARS,
    STRATEGIES,
    CookieStorage,
    LocalStorage,
    Slot,
    StateStore,
)

TYPE_CHECKING = False  # typing is absent on MicroPython; checkers treat this as True

if TYPE_CHECKING:
    from typing import Any, Callable, Dict, Optional

__all__ = ["Group", "Tracker", "User"]

_MISSING = object()


def _check_stored_id(value: "Any") -> "Optional[str]":
    return check_id(value, "id")


def _check_stored_token(value: "Any") -> "Optional[str]":
    return None if is_anonymous_token(value) else "not an anonymous- user token"


def _check_traits(value: "Any") -> "Optional[str]":
    return None if isinstance(value, dict) else "traits are not an object"


def _json_size(value: "Any") -> int:
    """Encoded size of a JSON-able value; -1 when it cannot be encoded."""
    try:
        return len(json.dumps(value))
    except Exception:
        return -1


class Tracker:
    """One page's tracker: configuration, identities, mode, session and event buffer."""

    def __init__(self, host: "Optional[Host]" = None) -> None:
        self.host = host if host is not None else default_host()
        self._warn = self.host.warn
        self.options: "Dict[str, Any]" = dict(DEFAULTS)
        self._cookies = CookieStorage(self.host.cookies, self.host.now_ms, self._warn)
        self._local = LocalStorage(self.host.local_storage, self._warn)
        self.store = StateStore(self._cookies, self._local, self._warn)
        self.store.allow = self._may_store
        self._user_token: "Optional[str]" = None
        self._authenticated_user_token: "Optional[str]" = None
        self._token_listener: "Optional[Callable[[Optional[str]], Any]]" = None
        self._apply_options()
        tab = None
        if self.host.listen is not None:
            tab = "".join("%02x" % b for b in self.host.random_bytes(6))
        self.outbox = Outbox(tab, self.host.now_ms, self._load_queue, self._save_queue, self._warn)
        self.outbox.max_size = self.options["maxQueueSize"]
        self.delivery = Delivery(self.outbox, self.host, self._current_options)
        self._started = False

    # -- configuration ---------------------------------------------------------------------

    def init(self, options: "Optional[dict[str, Any]]" = None) -> None:
        """Configure (or reconfigure) the tracker; identities already stored are kept."""
        new = merge_options(self.options, options, self._warn)
        strategy = new["stateStorageStrategy"]
        new["stateStorageStrategy"] = self.options["stateStorageStrategy"]
        self.options = new
        self._apply_options()
        self._set_strategy(strategy)
        if isinstance(options, dict):
            if "userToken" in options:
                self.set_user_token(options["userToken"])
            if "authenticatedUserToken" in options:
                self.set_authenticated_user_token(options["authenticatedUserToken"])
            if "anonymousId" in options:
                self.set_anonymous_id(options["anonymousId"])
        self._resume()
        self.outbox.max_size = self.options["maxQueueSize"]
        self._start_delivery()

    def _current_options(self) -> "Dict[str, Any]":
        return self.options

    def _start_delivery(self) -> None:
        """On the first `init`: listen for page hide and take over events an earlier page
        load left unsent; on every `init`, send what waits (the collector may be new)."""
        if not self._started:
            self._started = True
            if self.host.listen is not None:
                try:
                    self.host.listen(self._page_event)
                except Exception as exc:
                    self._warn("could not listen for page hide: %r" % exc)
            self.outbox.adopt()
        if self.outbox.entries:
            self.delivery.kick()

    def _page_event(self, kind: str) -> None:
        if kind == "online":
            self.outbox.adopt()
            self.delivery.online()
        else:
            self.delivery.page_hidden(kind)

    def flush(self, callback: "Any" = None) -> None:
        """Send every waiting event now; `callback()` runs once the buffer is empty or the
        collector is unreachable (the JS `flush()` returns a Promise settled then)."""
        if callback is not None and not callable(callback):
            self._warn("flush: the callback must be a function")
            callback = None
        self.outbox.adopt()
        self.delivery.flush(callback)

    def _load_queue(self) -> "Any":
        slot = self.slots["queue"]
        return self.store.get(slot, memory=False) if self.store.places(slot) else None

    def _save_queue(self, text: str) -> None:
        slot = self.slots["queue"]
        if self.store.places(slot):
            self.store.set(slot, None, text)

    def _apply_options(self) -> None:
        opts = self.options
        names = opts["cookieNames"]
        cookies = self._cookies
        cookies.path = opts["cookiePath"]
        cookies.domain = opts["cookieDomain"]
        cookies.same_site = opts["cookieSameSite"]
        secure = opts["cookieSecure"]
        cookies.secure = self.host.secure if secure is None else secure
        user = privacy.USER
        self.slots: "Dict[str, Slot]" = {
            "userToken": Slot(
                names["userToken"],
                True,
                False,
                int(opts["cookieDuration"] // 1000),
                _check_stored_token,
                user,
            ),
            "anonymousId": Slot(
                names["anonymousId"], True, True, ONE_YEAR_S, _check_stored_id, user
            ),
            "userId": Slot(names["userId"], True, True, ONE_YEAR_S, _check_stored_id, user),
            "userTraits": Slot(names["userTraits"], False, True, None, _check_traits, user),
            "groupId": Slot(names["groupId"], True, True, ONE_YEAR_S, _check_stored_id, user),
            "groupTraits": Slot(names["groupTraits"], False, True, None, _check_traits, user),
            "session": Slot(
                names["session"],
                True,
                True,
                int(opts["sessionTimeout"]),
                session.check_session,
                privacy.SESSION,
            ),
            "queue": Slot(
                names["queue"], False, True, None, check_buffer, privacy.BUFFER, MAX_BUFFER_CHARS
            ),
        }

    def _may_store(self, slot: Slot) -> bool:
        return privacy.may_store(self.options["anonymousTracking"], self.store.strategy, slot.kind)

    def _set_strategy(self, strategy: str) -> None:
        """Move state to the places `strategy` uses; leaving localStorage for cookies resets
        the session (Snowplow: cookie-first strategies do not see the localStorage session)."""
        old = self.store.strategy
        if strategy == old:
            return
        self.store.switch(strategy, list(self.slots.values()))
        self.options["stateStorageStrategy"] = strategy
        if old == "localStorage" and COOKIE in STRATEGIES[strategy]:
            self.store.remove(self.slots["session"])

    def _resume(self) -> None:
        """Make sure the identities the mode allows exist (anonymousId, session)."""
        if self._sends_ids():
            self.get_anonymous_id()
        self._session(True)

    def _sends_ids(self) -> bool:
        return privacy.sends_user_ids(self.options["anonymousTracking"])

    def _new_id(self) -> str:
        return uuid4(self.host.random_bytes)

    # -- Algolia user tokens ---------------------------------------------------------------

    def set_user_token(self, token: "Any") -> "Optional[str]":
        """Set the user token sent with events (search-insights `setUserToken`)."""
        problem = check_token(token)
        if problem:
            self._warn("setUserToken: %s; user token unchanged" % problem)
            return None
        self._user_token = token
        self._notify_token()
        return token

    def get_user_token(self) -> "Optional[str]":
        """The current user token; None while anonymous tracking forbids identifiers."""
        return self._user_token if self._sends_ids() else None

    def set_authenticated_user_token(self, token: "Any") -> "Optional[str]":
        """Set (or with None clear) the authenticated user token."""
        if token is not None:
            problem = check_token(token)
            if problem:
                self._warn("setAuthenticatedUserToken: %s; token unchanged" % problem)
                return None
        self._authenticated_user_token = token
        return token

    def get_authenticated_user_token(self) -> "Optional[str]":
        return self._authenticated_user_token if self._sends_ids() else None

    def set_anonymous_user_token(self, in_memory: "Any" = False) -> "Optional[str]":
        """Algolia `setAnonymousUserToken`: reuse or create the `_ALGOLIA` cookie's token.

        With `in_memory` a new token on every call, stored nowhere. Without it, a no-op
        when cookies are not usable (blocked, or excluded by the strategy or mode).
        """
        if in_memory is None:
            in_memory = False
        if not isinstance(in_memory, bool):
            self._warn("setAnonymousUserToken: inMemory must be true or false")
            return None
        if in_memory:
            return self.set_user_token(anonymous_user_token(self.host.random_bytes))
        if COOKIE not in STRATEGIES[self.store.strategy] or not self._sends_ids():
            return None
        slot = self.slots["userToken"]
        token = self.store.get(slot, memory=False)
        if token is None:
            token = anonymous_user_token(self.host.random_bytes)
            self.store.set(slot, token)
            if self.store.get(slot, memory=False) != token:
                self.store.memory.remove(slot.key)
                return None  # the cookie did not stick: cookies are not usable here
        return self.set_user_token(token)

    def on_user_token_change(self, callback: "Any", immediate: "Any" = False) -> None:
        """Call `callback(token)` after every user token change (one callback, as in
        search-insights); `immediate` also calls it now."""
        if not callable(callback):
            self._warn("onUserTokenChange: the callback must be a function")
            return
        self._token_listener = callback
        if immediate is True:
            self._notify_token()

    def _notify_token(self) -> None:
        listener = self._token_listener
        if listener is None:
            return
        try:
            listener(self.get_user_token())
        except Exception as exc:
            self._warn("onUserTokenChange callback failed: %r" % exc)

    # -- Segment identity ------------------------------------------------------------------

    def get_anonymous_id(self) -> "Optional[str]":
        """The anonymousId, created and stored when missing; None while anonymous."""
        if not self._sends_ids():
            return None
        slot = self.slots["anonymousId"]
        value = self.store.get(slot)
        if value is None:
            value = self._new_id()
            self.store.set(slot, value)
        return value

    def set_anonymous_id(self, value: "Any") -> "Optional[str]":
        """Override and persist the anonymousId (Segment `setAnonymousId`)."""
        value = self._coerce_id(value, "setAnonymousId", "anonymousId")
        if value is None:
            return None
        self.store.set(self.slots["anonymousId"], value)
        return value if self._sends_ids() else None

    def _coerce_id(self, value: "Any", method: str, what: str) -> "Optional[str]":
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        problem = check_id(value, what)
        if problem:
            self._warn("%s: %s; unchanged" % (method, problem))
            return None
        return value

    def _check_traits_arg(self, traits: "Any", method: str) -> bool:
        if not isinstance(traits, dict):
            self._warn("%s: traits must be an object" % method)
            return False
        size = _json_size(traits)
        if size < 0 or size > MAX_VALUE_CHARS:
            self._warn(
                "%s: traits must be JSON data of at most %d characters" % (method, MAX_VALUE_CHARS)
            )
            return False
        return True

    def _stored(self, name: str) -> "Any":
        return self.store.get(self.slots[name]) if self._sends_ids() else None

    def _stored_traits(self, name: str) -> "dict[str, Any]":
        value = self.store.get(self.slots[name])
        return dict(value) if isinstance(value, dict) else {}

    def _traits(self, name: str, value: "tuple", method: str) -> "dict[str, Any]":
        """`user().traits(t?)` / `group().traits(t?)`: replace the cache when given an
        object; the cached traits, or {} while anonymous tracking forbids them."""
        if value and self._check_traits_arg(value[0], method):
            self.store.set(self.slots[name], dict(value[0]))
        return self._stored_traits(name) if self._sends_ids() else {}

    def identify(
        self, user_id: "Any" = None, traits: "Any" = None, options: "Any" = None
    ) -> "Optional[str]":
        """Segment `identify`: set the userId and merge traits into the cache.

        A userId different from the stored one rotates the anonymousId first and
        replaces (rather than merges) the cached traits.
        """
        parsed = self._identity_call("identify", "userId", user_id, traits, options)
        if parsed is None:
            return None
        user_id, traits, context = parsed
        self._set_user(user_id, traits)
        return self._record("identify", None, {}, context, traits)

    def _identity_call(
        self, method: str, what: str, an_id: "Any", traits: "Any", options: "Any"
    ) -> "Any":
        """(id, traits, context) of an identify or group call, or None after a warning.

        As in analytics.js, an object in the id's place is the traits.
        """
        if isinstance(an_id, dict) and traits is None:
            an_id, traits = None, an_id
        if an_id is not None:
            an_id = self._coerce_id(an_id, method, what)
            if an_id is None:
                return None
        if traits is None:
            traits = {}
        if not self._check_traits_arg(traits, method):
            return None
        context = self._apply_call_options(options, method)
        if context is None:
            return None
        return an_id, traits, context

    def _id_changes(self, name: str, new_id: "Optional[str]") -> bool:
        current = self.store.get(self.slots[name])
        return new_id is not None and current is not None and new_id != current

    def _set_entity(
        self, id_name: str, traits_name: str, new_id: "Optional[str]", traits: "Any"
    ) -> None:
        """Store a user's or group's id and traits: traits merge into the cache unless
        the id changes (then they replace it)."""
        changed = self._id_changes(id_name, new_id)
        if new_id is not None:
            self.store.set(self.slots[id_name], new_id)
        if traits is not None:
            merged = {} if changed else self._stored_traits(traits_name)
            merged.update(traits)
            self.store.set(self.slots[traits_name], merged)

    def _set_user(self, user_id: "Optional[str]", traits: "Any") -> None:
        if self._id_changes("userId", user_id):
            self.store.set(self.slots["anonymousId"], self._new_id())
        self._set_entity("userId", "userTraits", user_id, traits)

    def user(self) -> "User":
        """The current user: `id()`, `anonymous_id(value?)`, `traits(value?)`."""
        return User(self)

    def group(self, group_id: "Any" = _MISSING, traits: "Any" = None, options: "Any" = None):
        """With no arguments the current group (`id()`, `traits(value?)`); else set it."""
        if group_id is _MISSING:
            return Group(self)
        parsed = self._identity_call("group", "groupId", group_id, traits, options)
        if parsed is None:
            return None
        group_id, traits, context = parsed
        self._set_entity("groupId", "groupTraits", group_id, traits)
        return self._record("group", None, {}, context, None)

    def reset(self) -> None:
        """Forget the user: userId, traits, group, anonymousId (new on next use), user tokens."""
        for name in ("userId", "userTraits", "groupId", "groupTraits", "anonymousId", "userToken"):
            self.store.remove(self.slots[name])
        had_token = self._user_token is not None
        self._user_token = None
        self._authenticated_user_token = None
        if had_token:
            self._notify_token()

    # -- anonymous modes -------------------------------------------------------------------

    def enable_anonymous_tracking(
        self, options: "Any" = None, state_storage_strategy: "Any" = None
    ) -> None:
        """Stop storing and sending user identifiers (and sessions, unless
        `withSessionTracking`); identifiers already stored stay where they are."""
        mode = True if options is None else options
        problem = privacy.check_mode(mode)
        if problem:
            self._warn("enableAnonymousTracking: options %s" % problem)
            return
        if mode is False:
            mode = {}
        self._change_mode(mode, state_storage_strategy, "enableAnonymousTracking")

    def disable_anonymous_tracking(self, state_storage_strategy: "Any" = None) -> None:
        """Resume full tracking with the identifiers still stored (new ones where missing)."""
        self._change_mode(False, state_storage_strategy, "disableAnonymousTracking")

    def _change_mode(self, mode: "Any", strategy: "Any", method: str) -> None:
        if strategy is not None and strategy not in STRATEGIES:
            self._warn(
                "%s: stateStorageStrategy must be one of %s"
                % (method, ", ".join(sorted(STRATEGIES)))
            )
            return
        self.options["anonymousTracking"] = mode
        if strategy is not None:
            self._set_strategy(strategy)
        self._resume()

    def clear_user_data(self, preserve_session: "Any" = False, preserve_user: "Any" = False):
        """Remove every stored identifier (all keys of the storage table) from cookies and
        localStorage, and the in-memory user and session identifiers unless preserved.

        Events still waiting for the collector are kept, so clearing loses no event: in
        memory without the identifiers that are not preserved, in storage without any.
        """
        keep_user = preserve_user is True
        keep_session = preserve_session is True
        for slot in self.slots.values():
            if slot.kind == privacy.BUFFER:
                continue
            keep = keep_session if slot.kind == privacy.SESSION else keep_user
            self.store.remove(slot, keep_memory=keep)
        self.outbox.rewrite(lambda event: scrub(event, not keep_user, not keep_session))
        self.outbox.save(lambda event: scrub(event, True, True))
        if not keep_user:
            self._user_token = None
            self._authenticated_user_token = None

    def get_mode(self) -> "dict[str, Any]":
        """The anonymous mode and storage strategy in force, as plain values."""
        return privacy.describe(self.options["anonymousTracking"], self.store.strategy)

    # -- sessions --------------------------------------------------------------------------

    def _session(self, activity: bool) -> "Optional[dict[str, Any]]":
        if not privacy.tracks_session(self.options["anonymousTracking"], self.store.strategy):
            return None
        slot = self.slots["session"]
        stored = self.store.get(slot)
        step = session.touch if activity else session.current
        result = step(stored, self.host.now_ms(), self.options["sessionTimeout"], self._new_id)
        if result is not stored:
            self.store.set(slot, result)
        return result

    def get_session_id(self) -> "Optional[str]":
        """The current session's id (a new session if the last one timed out); None when
        the mode keeps no session."""
        current = self._session(False)
        return None if current is None else current["id"]

    def get_session_index(self) -> "Optional[int]":
        """How many sessions this visitor has had, counting the current one."""
        current = self._session(False)
        return None if current is None else current["index"]

    # -- events ----------------------------------------------------------------------------

    def track(self, event: "Any", properties: "Any" = None, options: "Any" = None):
        """Record an event; returns its messageId (it waits in the buffer until sent)."""
        if not isinstance(event, str) or not event or len(event) > 256:
            self._warn("track: the event name must be a string of 1 to 256 characters")
            return None
        return self._event("track", event, properties, options)

    def page(
        self,
        category: "Any" = None,
        name: "Any" = None,
        properties: "Any" = None,
        options: "Any" = None,
    ):
        """Record a page view (Segment argument order: category?, name?, properties?, options?)."""
        if isinstance(category, dict):
            category, name, properties, options = None, None, category, name
        elif isinstance(name, dict):
            category, name, properties, options = None, category, name, properties
        elif name is None and category is not None:
            category, name = None, category
        for value in (category, name):
            if value is not None and not isinstance(value, str):
                self._warn("page: category and name must be strings")
                return None
        properties = {} if properties is None else properties
        if isinstance(properties, dict) and category is not None:
            properties = dict(properties)
            properties["category"] = category
        return self._event("page", name, properties, options)

    def _event(self, kind: str, name: "Any", properties: "Any", options: "Any"):
        if properties is None:
            properties = {}
        if not isinstance(properties, dict) or not 0 <= _json_size(properties) <= MAX_VALUE_CHARS:
            self._warn(
                "%s: properties must be a JSON object of at most %d characters"
                % (kind, MAX_VALUE_CHARS)
            )
            return None
        context = self._apply_call_options(options, kind)
        if context is None:
            return None
        return self._record(kind, name, properties, context, None)

    def _apply_call_options(self, options: "Any", method: str) -> "Optional[dict[str, Any]]":
        """Apply `options.anonymousId` (it persists) and return the event's context."""
        if options is None:
            return {}
        if not isinstance(options, dict):
            self._warn("%s: options must be an object" % method)
            return None
        if "anonymousId" in options:
            anonymous_id = self._coerce_id(options["anonymousId"], method, "options.anonymousId")
            if anonymous_id is None:
                return None
            self.store.set(self.slots["anonymousId"], anonymous_id)
        context = options.get("context") or {}
        if not isinstance(context, dict) or _json_size(context) < 0:
            self._warn("%s: options.context must be a JSON object" % method)
            return None
        return dict(context)

    def _record(
        self,
        kind: str,
        name: "Any",
        properties: "dict[str, Any]",
        context: "dict[str, Any]",
        traits: "Any",
    ) -> str:
        """Record one event and queue it for sending, reading `document.cookie` at most once."""
        mode = self.options["anonymousTracking"]
        with self._cookies.steady_reads():
            ids: "Dict[str, Any]" = {}
            if self._sends_ids():
                ids = {
                    "anonymousId": self.get_anonymous_id(),
                    "userId": self.store.get(self.slots["userId"]),
                    "userToken": self._user_token,
                    "authenticatedUserToken": self._authenticated_user_token,
                }
                if traits:
                    ids["traits"] = traits
                if kind == "group":
                    ids["groupId"] = self.store.get(self.slots["groupId"])
            current = self._session(True)
            full = event_context(self._page(), context, mode)
            if current is not None:
                full["session"] = {"id": current["id"], "index": current["index"]}
            message_id = self._new_id()
            event = build_event(
                kind,
                name,
                properties,
                message_id,
                self.host.now_ms(),
                self.options["appId"],
                ids,
                full,
            )
            self.outbox.add(event, json.dumps(event))
            self.delivery.kick()
            return message_id

    def _page(self) -> "Optional[dict[str, Any]]":
        page = self.host.page
        if page is None:
            return None
        try:
            return page()
        except Exception as exc:
            self._warn("could not read the page's url and title: %r" % exc)
            return None

    def get_buffered_events(self) -> "list[dict[str, Any]]":
        """The events waiting for the collector, oldest first."""
        return self.outbox.events()


class User:
    """Segment's `analytics.user()`: accessors over the tracker's stored user state."""

    def __init__(self, tracker: Tracker) -> None:
        self._tracker = tracker

    def id(self, *value: "Any") -> "Optional[str]":
        """The userId; with an argument, set it (rotating the anonymousId if it changes)."""
        t = self._tracker
        if value:
            user_id = t._coerce_id(value[0], "user().id", "userId")
            if user_id is not None:
                t._set_user(user_id, None)
        return t._stored("userId")

    def anonymous_id(self, *value: "Any") -> "Optional[str]":
        """The anonymousId; with an id set it, with None forget it (a new one on next use)."""
        t = self._tracker
        if value:
            if value[0] is None:
                t.store.remove(t.slots["anonymousId"])
                return None
            return t.set_anonymous_id(value[0])
        return t.get_anonymous_id()

    def traits(self, *value: "Any") -> "dict[str, Any]":
        """The cached traits; with an object replace them (`traits({})` clears)."""
        return self._tracker._traits("userTraits", value, "user().traits")


class Group:
    """Segment's `analytics.group()`: the current group id and traits."""

    def __init__(self, tracker: Tracker) -> None:
        self._tracker = tracker

    def id(self) -> "Optional[str]":
        return self._tracker._stored("groupId")

    def traits(self, *value: "Any") -> "dict[str, Any]":
        """The group's cached traits; with an object replace them (`traits({})` clears)."""
        return self._tracker._traits("groupTraits", value, "group().traits")
