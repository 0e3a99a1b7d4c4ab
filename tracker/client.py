"""`Tracker`: the Python API (snake_case), a facade over the tracker's components.

The components each hold one concept: `UserTokens` (Algolia), `Profile` (Segment
identity), `Sessions`, `Recorder` (calls to events), `Outbox` and `Delivery` (sending),
`Consent` (the remembered choice and the browser's privacy signal), all over one
`TrackerState` (options, slots, storage). Every public method validates its
arguments, warns through the host and leaves state unchanged on bad input; none of them
raises for anything a page passes.
"""

from . import privacy
from .anonymous_session import AnonymousSession
from .config import merge_options
from .consent import GRANTED, Consent
from .events import scrub
from .host import Host, default_host
from .outbox import Outbox
from .page_events import PageEvents
from .profile import Group, Profile, User
from .session import Sessions
from .state import TrackerState
from .storage import STRATEGIES
from .user_tokens import UserTokens

TYPE_CHECKING = False  # typing is absent on MicroPython; checkers treat this as True

if TYPE_CHECKING:
    from typing import Any, Dict, Optional

    from .delivery import Delivery
    from .recorder import Recorder

__all__ = ["Group", "Tracker", "User"]

_MISSING = object()


class Tracker:
    """One page's tracker: configuration, identities, mode, session and event delivery."""

    def __init__(self, host: "Optional[Host]" = None) -> None:
        self.host = host if host is not None else default_host()
        self._warn = self.host.warn
        self.state = TrackerState(self.host)
        self.tokens = UserTokens(self.state)
        self.profile = Profile(self.state)
        self.sessions = Sessions(self.state)
        self.consent = Consent(self.state)
        tab = None
        if self.host.listen is not None:
            tab = "".join("%02x" % b for b in self.host.random_bytes(6))
        self.outbox = Outbox(
            tab, self.host.now_ms, self.state.load_queue, self.state.save_queue, self._warn
        )
        self.outbox.scrub = _scrub_all
        self._delivery: "Optional[Delivery]" = None
        self._recorder: "Optional[Recorder]" = None
        self.anonymous_session = AnonymousSession(self.state, self.profile.anonymous_id)
        self.page_events = PageEvents(self.host, self.outbox, lambda: self.delivery)
        self._cleared = False
        self.consent.impose(self.state.options["stateStorageStrategy"])  # a choice holds at once

    # Sending and recording are imported and built on first use: a page starts (and a
    # returning visitor with nothing left to send reaches `ready`) without loading them.

    @property
    def delivery(self) -> "Delivery":
        """Sending the outbox's events: batching, retries, page-exit flushes."""
        if self._delivery is None:
            from .delivery import Delivery

            self._delivery = Delivery(self.outbox, self.host, self._current_options)
            self._delivery.on_answer = self._after_answer
        return self._delivery

    @property
    def recorder(self) -> "Recorder":
        """Turning `track`/`page`/`identify`/`group` calls into events."""
        if self._recorder is None:
            from .recorder import Recorder

            self._recorder = Recorder(
                self.state, self.tokens, self.profile, self.sessions, self.outbox, self.delivery
            )
        return self._recorder

    @property
    def options(self) -> "Dict[str, Any]":
        """The options in force (`init`'s, merged over the defaults)."""
        return self.state.options

    # -- configuration ---------------------------------------------------------------------

    def init(self, options: "Optional[dict[str, Any]]" = None) -> None:
        """Configure (or reconfigure) the tracker; identities already stored are kept."""
        state = self.state
        new = merge_options(state.options, options, self._warn)
        self.consent.configure(options)
        strategy = new["stateStorageStrategy"]
        new["stateStorageStrategy"] = state.options["stateStorageStrategy"]
        state.options = new
        state.apply_options()
        self.consent.impose(strategy)
        if isinstance(options, dict):
            if "userToken" in options:
                self.set_user_token(options["userToken"])
            if "authenticatedUserToken" in options:
                self.set_authenticated_user_token(options["authenticatedUserToken"])
            if "anonymousId" in options:
                self.set_anonymous_id(options["anonymousId"])
        self._resume()
        self.outbox.max_size = state.options["maxQueueSize"]
        self.page_events.start()
        self.anonymous_session.resume()

    def _current_options(self) -> "Dict[str, Any]":
        return self.state.options

    def _resume(self) -> None:
        """Make sure the identities the mode allows exist (anonymousId, session)."""
        self.profile.anonymous_id()
        self.sessions.step(True)

    # -- delivery --------------------------------------------------------------------------

    def flush(self, callback: "Any" = None) -> None:
        """Send every waiting event now; `callback()` runs once the buffer is empty or the
        collector is unreachable (the JS `flush()` returns a Promise settled then)."""
        if callback is not None and not callable(callback):
            self._warn("flush: the callback must be a function")
            callback = None
        self.outbox.adopt()
        self.delivery.flush(callback)

    def get_buffered_events(self) -> "list[dict[str, Any]]":
        """The events waiting for the collector, oldest first."""
        return self.outbox.events()

    # -- Algolia user tokens ---------------------------------------------------------------

    def set_user_token(self, token: "Any") -> "Optional[str]":
        """Set the user token sent with events (search-insights `setUserToken`)."""
        return self.tokens.set_user_token(token)

    def get_user_token(self) -> "Optional[str]":
        """The current user token; None while anonymous tracking forbids identifiers."""
        return self.tokens.get_user_token()

    def set_authenticated_user_token(self, token: "Any") -> "Optional[str]":
        """Set (or with None clear) the authenticated user token."""
        return self.tokens.set_authenticated_user_token(token)

    def get_authenticated_user_token(self) -> "Optional[str]":
        return self.tokens.get_authenticated_user_token()

    def set_anonymous_user_token(self, in_memory: "Any" = False) -> "Optional[str]":
        """Algolia `setAnonymousUserToken`: reuse or create the `_ALGOLIA` cookie's token
        (`in_memory`: a new token every call, stored nowhere)."""
        return self.tokens.set_anonymous_user_token(in_memory)

    def on_user_token_change(self, callback: "Any", immediate: "Any" = False) -> None:
        """Call `callback(token)` after every user token change; `immediate` also now."""
        self.tokens.on_user_token_change(callback, immediate)

    # -- Segment identity ------------------------------------------------------------------

    def get_anonymous_id(self) -> "Optional[str]":
        """The anonymousId, created and stored when missing; None while anonymous."""
        return self.profile.anonymous_id()

    def set_anonymous_id(self, value: "Any") -> "Optional[str]":
        """Override and persist the anonymousId (Segment `setAnonymousId`)."""
        return self.profile.set_anonymous_id(value)

    def identify(
        self, user_id: "Any" = None, traits: "Any" = None, options: "Any" = None
    ) -> "Optional[str]":
        """Segment `identify`: set the userId and merge traits into the cache.

        A userId different from the stored one rotates the anonymousId first and
        replaces (rather than merges) the cached traits.
        """
        return self.recorder.identify(user_id, traits, options)

    def user(self) -> "User":
        """The current user: `id()`, `anonymous_id(value?)`, `traits(value?)`."""
        return User(self.profile)

    def group(self, group_id: "Any" = _MISSING, traits: "Any" = None, options: "Any" = None):
        """With no arguments the current group (`id()`, `traits(value?)`); else set it."""
        if group_id is _MISSING:
            return Group(self.profile)
        return self.recorder.group(group_id, traits, options)

    def reset(self) -> None:
        """Forget the user: userId, traits, group, anonymousId (new on next use), user tokens."""
        self.profile.forget()
        self.state.remove("userToken")
        self.tokens.forget()
        self.anonymous_session.drop()

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
        self.state.options["anonymousTracking"] = mode
        if mode is False:
            self._cleared = False
        if strategy is not None:
            self.state.set_strategy(strategy)
        self._resume()

    def clear_user_data(self, preserve_session: "Any" = False, preserve_user: "Any" = False):
        """Remove every stored identifier (all keys of the storage table) from cookies and
        localStorage, and the in-memory user and session identifiers unless preserved.

        Events still waiting for the collector are kept, so clearing loses no event: in
        memory without the identifiers that are not preserved, in storage without any.
        """
        keep_user = preserve_user is True
        keep_session = preserve_session is True
        self.state.remove_identifiers(keep_user, keep_session)
        self.outbox.rewrite(lambda event: scrub(event, not keep_user, not keep_session))
        self.outbox.save(_scrub_all)
        if not keep_user:
            self.tokens.forget(notify=False)
            self.anonymous_session.drop()
            self._cleared = not self.state.sends_ids()

    def _after_answer(self) -> None:
        """A request sent before `clearUserData` may come back with the collector's
        Set-Cookie refresh of an id it carried: while anonymous after a clear, remove it."""
        if self._cleared and not self.state.sends_ids():
            self.state.remove_user_cookies()

    def get_mode(self) -> "dict[str, Any]":
        """The anonymous mode and storage strategy in force, as plain values."""
        return privacy.describe(self.state.mode, self.state.store.strategy)

    # -- consent ---------------------------------------------------------------------------

    def set_consent(self, choice: "Any") -> "Optional[str]":
        """Record the visitor's choice in `_trk_consent` and apply it at once: 'granted'
        resumes full tracking with init's storage strategy; 'denied' goes anonymous with
        server anonymisation and strategy none, then clears user data. None forgets the
        choice (the mode stays until the next page load). Returns the choice recorded."""
        if not self.consent.record(choice) or choice is None:
            return None
        mode, strategy = self.consent.mode_for(choice)
        if choice == GRANTED:
            self.disable_anonymous_tracking(strategy)
        else:
            self.enable_anonymous_tracking(mode, strategy)
            self.clear_user_data()
        return str(choice)

    def get_consent(self) -> "Optional[str]":
        """The stored choice: 'granted', 'denied' or None (the visitor has not chosen)."""
        return self.consent.get()

    # -- sessions --------------------------------------------------------------------------

    def get_session_id(self) -> "Optional[str]":
        """The current session's id (a new session if the last one timed out); None when
        the mode keeps no session."""
        return self.sessions.id()

    def get_session_index(self) -> "Optional[int]":
        """How many sessions this visitor has had, counting the current one."""
        return self.sessions.index()

    # -- events ----------------------------------------------------------------------------

    def track(self, event: "Any", properties: "Any" = None, options: "Any" = None):
        """Record an event; returns its messageId (it waits in the outbox until delivered)."""
        return self.recorder.track(event, properties, options)

    def page(
        self,
        category: "Any" = None,
        name: "Any" = None,
        properties: "Any" = None,
        options: "Any" = None,
    ):
        """Record a page view (Segment argument order: category?, name?, properties?, options?)."""
        return self.recorder.page(category, name, properties, options)

    # -- anonymous sessions ----------------------------------------------------------------

    def start_anonymous_session(self, metadata: "Any" = None, callback: "Any" = None) -> None:
        """Get session and access tokens from the collector for the anonymousId (resuming a
        stored session, else starting one with `metadata`); `callback(answer or None)`."""
        self.anonymous_session.start(metadata, callback)

    def get_access_token(self, callback: "Any") -> None:
        """`callback(token)` with the session's access token, renewed when due; None when
        there is no session."""
        self.anonymous_session.access_token(callback)

    def update_session_metadata(self, patch: "Any", callback: "Any" = None) -> None:
        """Merge `patch` into the session's metadata on the collector (null deletes a key);
        `callback(answer or None)`."""
        self.anonymous_session.update(patch, callback)

    def transfer_anonymous_session(self, login_proof: "Any", callback: "Any" = None) -> None:
        """Move the anonymous session to the account of `login_proof` (issued by the site's
        backend at login); `callback(result or None)`. The tokens are dropped afterwards."""
        self.anonymous_session.transfer(login_proof, callback)


def _scrub_all(event: "Dict[str, Any]") -> None:
    """Every identifier off a waiting event (its stored copy, after a `clearUserData`)."""
    scrub(event, True, True)
