"""Algolia user tokens (search-insights semantics): the user token, the authenticated user
token, the `_ALGOLIA` anonymous token cookie, and the change listener."""

from .identity import anonymous_user_token, check_token
from .storage import COOKIE, STRATEGIES

TYPE_CHECKING = False  # typing is absent on MicroPython; checkers treat this as True

if TYPE_CHECKING:
    from typing import Any, Callable, Optional

    from .state import TrackerState

__all__ = ["UserTokens"]


class UserTokens:
    """The page's user tokens; kept in memory (only the anonymous token has a cookie)."""

    def __init__(self, state: "TrackerState") -> None:
        self._state = state
        self._warn = state.warn
        self.user_token: "Optional[str]" = None
        self.authenticated: "Optional[str]" = None
        self._listener: "Optional[Callable[[Optional[str]], Any]]" = None

    def set_user_token(self, token: "Any") -> "Optional[str]":
        """Set the user token sent with events (search-insights `setUserToken`)."""
        problem = check_token(token)
        if problem:
            self._warn("setUserToken: %s; user token unchanged" % problem)
            return None
        self.user_token = token
        self._notify()
        return token

    def get_user_token(self) -> "Optional[str]":
        """The current user token; None while anonymous tracking forbids identifiers."""
        return self.user_token if self._state.sends_ids() else None

    def set_authenticated_user_token(self, token: "Any") -> "Optional[str]":
        """Set (or with None clear) the authenticated user token."""
        if token is not None:
            problem = check_token(token)
            if problem:
                self._warn("setAuthenticatedUserToken: %s; token unchanged" % problem)
                return None
        self.authenticated = token
        return token

    def get_authenticated_user_token(self) -> "Optional[str]":
        return self.authenticated if self._state.sends_ids() else None

    def set_anonymous_user_token(self, in_memory: "Any" = False) -> "Optional[str]":
        """Algolia `setAnonymousUserToken`: reuse or create the `_ALGOLIA` cookie's token.

        With `in_memory` a new token on every call, stored nowhere. Without it, a no-op
        when cookies are not usable (blocked, or excluded by the strategy or mode).
        """
        state = self._state
        if in_memory is None:
            in_memory = False
        if not isinstance(in_memory, bool):
            self._warn("setAnonymousUserToken: inMemory must be true or false")
            return None
        if in_memory:
            return self.set_user_token(anonymous_user_token(state.host.random_bytes))
        if COOKIE not in STRATEGIES[state.store.strategy] or not state.sends_ids():
            return None
        slot = state.slots["userToken"]
        token = state.store.get(slot, memory=False)
        if token is None:
            token = anonymous_user_token(state.host.random_bytes)
            state.store.set(slot, token)
            if state.store.get(slot, memory=False) != token:
                state.store.memory.remove(slot.key)
                return None  # the cookie did not stick: cookies are not usable here
        return self.set_user_token(token)

    def on_user_token_change(self, callback: "Any", immediate: "Any" = False) -> None:
        """Call `callback(token)` after every user token change (one callback, as in
        search-insights); `immediate` also calls it now."""
        if not callable(callback):
            self._warn("onUserTokenChange: the callback must be a function")
            return
        self._listener = callback
        if immediate is True:
            self._notify()

    def forget(self, notify: bool = True) -> None:
        """Drop both tokens (reset, clearUserData); the listener hears of it when asked."""
        had_token = self.user_token is not None
        self.user_token = None
        self.authenticated = None
        if had_token and notify:
            self._notify()

    def _notify(self) -> None:
        listener = self._listener
        if listener is None:
            return
        try:
            listener(self.get_user_token())
        except Exception as exc:
            self._warn("onUserTokenChange callback failed: %r" % exc)
