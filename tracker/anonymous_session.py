"""Anonymous sessions (Auth0 semantics, spec section 6): the visitor's session and access
tokens from the collector, renewed before they expire, and their transfer on login.

The session is started with the anonymousId as `user_id`, so one id names the visitor in
events, tokens and the account link. Tokens are kept in the `anonymousSession` slot
(localStorage, as the mode and strategy allow; memory otherwise). Every call is
asynchronous: it ends by calling `done(result)` once, `None` after one warning on failure.
"""

from . import anonymous_api
from .anonymous_tokens import SessionTokens

TYPE_CHECKING = False  # typing is absent on MicroPython; checkers treat this as True

if TYPE_CHECKING:
    from typing import Any, Callable, Dict, List, Optional

    from .state import TrackerState

__all__ = ["AnonymousSession"]

_DROPPED = -1
"""The status an answer gets when the tokens were dropped while it was on its way."""


class AnonymousSession:
    """The page's anonymous session tokens over the shared state and the host's `send`."""

    def __init__(self, state: "TrackerState", anonymous_id: "Callable[[], Optional[str]]"):
        self._state = state
        self._anonymous_id = anonymous_id
        self._host = state.host
        self._warn = state.warn
        self._tokens = SessionTokens(state, self._renewal_due)
        self._generation = 0
        self._renewing: "Optional[List[Callable[[bool], Any]]]" = None
        self._starting: "Optional[List[Callable[[Any], Any]]]" = None

    # -- public calls --------------------------------------------------------------------

    def start(self, metadata: "Any", done: "Any") -> None:
        """Resume the stored session (renewed), else start one with `metadata`."""
        done = self._callback("startAnonymousSession", done)
        if done is None:
            return
        if metadata is not None and not anonymous_api.is_json_object(metadata):
            self._fail(done, "startAnonymousSession: metadata must be a JSON object")
            return
        if self._url("startAnonymousSession", done) is None:
            return
        if self._starting is not None:  # one start at a time; later callers share its answer
            self._starting.append(done)
            return
        waiters = [done]
        self._starting = waiters

        def finish(answer: "Any") -> None:
            if self._starting is waiters:
                self._starting = None
            for waiter in waiters:
                waiter(answer)

        self._begin(metadata, finish)

    def _begin(self, metadata: "Any", done: "Callable[[Any], Any]") -> None:
        """Renew the stored session (a refused one is replaced), else create one."""
        if self._current() is not None:

            def resumed(answer: "Any") -> None:
                if answer is not None:
                    answer["resumed"] = True
                done(answer)

            def gone() -> None:
                self._create(metadata, done)

            self._patch({}, "startAnonymousSession", resumed, gone)
            return
        self._create(metadata, done)

    def access_token(self, done: "Any") -> None:
        """The current access token, renewed first when it is about to expire; None when
        there is no session."""
        done = self._callback("getAccessToken", done)
        if done is None:
            return
        record = self._current()
        if record is None:
            done(None)
            return
        if self._host.now_ms() < record["renew_at"]:
            done(record["access_token"])
            return

        def renewed(ok: bool) -> None:
            current = self._current()
            usable = current is not None and (ok or self._host.now_ms() < current["expires_at"])
            done(current["access_token"] if usable and current is not None else None)

        self._renew(renewed)

    def update(self, patch: "Any", done: "Any") -> None:
        """Merge `patch` into the session's metadata (JSON merge patch: null deletes)."""
        done = self._callback("updateSessionMetadata", done)
        if done is None:
            return
        if not anonymous_api.is_json_object(patch):
            self._fail(done, "updateSessionMetadata: the patch must be a JSON object")
            return
        if self._session("updateSessionMetadata", done) is None:
            return
        self._patch(patch, "updateSessionMetadata", done)

    def transfer(self, login_proof: "Any", done: "Any") -> None:
        """Move the session to the account `login_proof` names (the site's backend got the
        proof from the collector at login); the anonymous tokens are dropped afterwards."""
        done = self._callback("transferAnonymousSession", done)
        if done is None:
            return
        if not isinstance(login_proof, str) or not login_proof:
            self._fail(done, "transferAnonymousSession: the login proof must be a string")
            return
        record = self._session("transferAnonymousSession", done)
        if record is None:
            return

        def answered(status: int, answer: "Any") -> None:
            if status == 200 and isinstance(answer, dict):
                self.drop()
                done(answer)
                return
            if status == 401:
                self.drop()
            self._refused(done, "transferAnonymousSession", status, answer)

        self._request("POST", "anonymous/transfer", {"login_proof": login_proof}, record, answered)

    def resume(self) -> None:
        """After `init`: arm the renewal of a stored session (drop it if it expired)."""
        record = self._current()
        if record is not None:
            self._tokens.arm(record)

    def drop(self) -> None:
        """Forget the tokens (reset, clearUserData, transfer): storage, memory, timers and
        answers still on their way, a start in progress included."""
        self._discard()
        self._starting = None

    def _discard(self) -> None:
        """Forget tokens the collector refused or that expired; a start in progress goes on
        (later callers still join it, so it makes one session, not one each)."""
        self._generation += 1
        self._tokens.forget()
        self._renewing = None

    # -- tokens ----------------------------------------------------------------------------

    def _current(self) -> "Optional[Dict[str, Any]]":
        """The session in force (in memory, else stored); an expired one is dropped."""
        record = self._tokens.load()
        if record is not None and self._tokens.expired(record):
            self._discard()
            return None
        return record

    def _renewal_due(self) -> None:
        if self._current() is not None:
            self._renew(None)

    def _renew(self, done: "Optional[Callable[[bool], Any]]") -> None:
        """Fresh tokens from the session token (one request however many callers wait)."""
        if self._renewing is not None:
            if done is not None:
                self._renewing.append(done)
            return
        waiters: "List[Callable[[bool], Any]]" = [] if done is None else [done]
        self._renewing = waiters

        def renewed(status: int, answer: "Any") -> None:
            if self._renewing is waiters:
                self._renewing = None
            ok = status == 200 and self._tokens.keep(answer)
            if status == 401:
                self._discard()
                self._refused(_ignore, "renewing the anonymous session", status, answer)
            elif not ok and status != _DROPPED and self._current() is not None:
                self._tokens.retry()
            for waiter in waiters:
                waiter(ok)

        record = self._current()
        if record is None:
            renewed(_DROPPED, None)
            return
        self._request("PATCH", "anonymous/session", {}, record, renewed)

    def _create(self, metadata: "Any", done: "Callable[[Any], Any]") -> None:
        body: "Dict[str, Any]" = {}
        anonymous_id = self._anonymous_id()
        if anonymous_id is not None:
            body["user_id"] = anonymous_id
        if metadata is not None:
            body["metadata"] = metadata

        def answered(status: int, answer: "Any") -> None:
            if status == 200 and self._tokens.keep(answer):
                answer["resumed"] = False
                done(answer)
            else:
                self._refused(done, "startAnonymousSession", status, answer)

        self._request("POST", "anonymous/token", body, None, answered)

    def _patch(
        self,
        patch: "Dict[str, Any]",
        method: str,
        done: "Callable[[Any], Any]",
        gone: "Optional[Callable[[], Any]]" = None,
    ) -> None:
        """PATCH the session's metadata (an empty patch renews the tokens). A refused
        session token (revoked, expired) drops the tokens, then calls `gone()` if given."""
        record = self._current()
        if record is None:
            done(None)
            return

        def answered(status: int, answer: "Any") -> None:
            if status == 200 and self._tokens.keep(answer):
                done(answer)
                return
            if status == 401:
                self._discard()
                if gone is not None:
                    gone()
                    return
            self._refused(done, method, status, answer)

        self._request("PATCH", "anonymous/session", patch, record, answered)

    # -- requests --------------------------------------------------------------------------

    def _url(self, method: str, done: "Callable[[Any], Any]") -> "Optional[str]":
        url = self._state.options.get("collectorUrl")
        if not url:
            self._fail(done, "%s: no collectorUrl to send to" % method)
            return None
        if self._host.send is None:
            self._fail(done, "%s: this host cannot send requests" % method)
            return None
        return url

    def _session(self, method: str, done: "Callable[[Any], Any]") -> "Optional[Dict[str, Any]]":
        if self._url(method, done) is None:
            return None
        record = self._current()
        if record is None:
            self._fail(done, "%s: no anonymous session (call startAnonymousSession)" % method)
        return record

    def _request(
        self,
        method: str,
        path: str,
        body: "Dict[str, Any]",
        record: "Optional[Dict[str, Any]]",
        answered: "Callable[[int, Any], Any]",
    ) -> None:
        """Call the collector with the session token of `record` (if any); `answered(status,
        json or None)` once, status 0 when unreachable, `_DROPPED` after a `drop()`."""
        generation = self._generation

        def outcome(status: int, answer: "Any") -> None:
            if generation != self._generation:
                answered(_DROPPED, None)
            else:
                answered(status, answer)

        token = None if record is None else record["session_token"]
        anonymous_api.call(self._state, method, path, body, token, outcome)

    # -- answers ---------------------------------------------------------------------------

    def _callback(self, method: str, done: "Any") -> "Optional[Callable[[Any], Any]]":
        """`done` made safe to call once: its errors become a warning. None (after a
        warning) when `done` is given but not callable."""
        if done is not None and not callable(done):
            self._warn("%s: the callback must be a function" % method)
            return None
        called = [False]

        def once(result: "Any") -> None:
            if called[0]:
                return
            called[0] = True
            if done is None:
                return
            try:
                done(result)
            except Exception as exc:
                self._warn("%s callback failed: %r" % (method, exc))

        return once

    def _fail(self, done: "Callable[[Any], Any]", message: str) -> None:
        self._warn(message)
        done(None)

    def _refused(self, done: "Callable[[Any], Any]", method: str, status: int, answer: "Any"):
        if status == _DROPPED:
            done(None)  # dropped meanwhile: nobody wants these tokens any more
            return
        self._fail(done, "%s failed: %s" % (method, anonymous_api.refusal(status, answer)))


def _ignore(result: "Any") -> None:
    """The callback of work nobody waits for (a background renewal)."""
