"""Anonymous sessions (Auth0 semantics, spec section 6): the visitor's session and access
tokens from the collector, renewed before they expire, and their transfer on login.

The session is started with the anonymousId as `user_id`, so one id names the visitor in
events, tokens and the account link. Tokens are kept in the `anonymousSession` slot
(localStorage, as the mode and strategy allow; memory otherwise). Every call is
asynchronous: it ends by calling `done(result)` once, `None` after one warning on failure.
"""

import json

from . import privacy

TYPE_CHECKING = False  # typing is absent on MicroPython; checkers treat this as True

if TYPE_CHECKING:
    from typing import Any, Callable, Dict, List, Optional

    from .state import TrackerState

__all__ = ["AnonymousSession", "check_record", "endpoint"]

RENEW_AT = 0.8
"""Tokens are renewed once this share of their lifetime has passed."""
MAX_RECORD_CHARS = 400000
"""Stored tokens up to this size (the session token carries the metadata, 64 KiB by default)."""
RETRY_MS = 30000
"""A failed renewal is tried again this much later (while the session token is valid)."""

_RECORD_KEYS = ("session_token", "access_token", "user_id", "session_id")


def endpoint(collector_url: str, path: str) -> str:
    """`path` beside the collector's: `https://c.example/t/collect` + `anonymous/token` ->
    `https://c.example/t/anonymous/token` (the directory `pixel_url` puts `/i` in)."""
    from .transport import pixel_url  # imported on first use, like the rest of sending

    return pixel_url(collector_url)[:-1] + path


def check_record(value: "Any") -> "Optional[str]":
    """Why a stored value is not a token record, or None."""
    if not isinstance(value, dict):
        return "not an object"
    for key in _RECORD_KEYS:
        if not isinstance(value.get(key), str) or not value[key]:
            return "%s is not a string" % key
    for key in ("expires_at", "session_expires_at", "renew_at"):
        stamp = value.get(key)
        if isinstance(stamp, bool) or not isinstance(stamp, (int, float)):
            return "%s is not a timestamp" % key
    return None


def _number(value: "Any", default: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        return default
    return float(value)


class AnonymousSession:
    """The page's anonymous session tokens over the shared state and the host's `send`."""

    def __init__(self, state: "TrackerState", anonymous_id: "Callable[[], Optional[str]]"):
        self._state = state
        self._anonymous_id = anonymous_id
        self._host = state.host
        self._warn = state.warn
        self._record: "Optional[Dict[str, Any]]" = None
        self._generation = 0
        self._timer = 0
        self._renewing: "Optional[List[Callable[[bool], Any]]]" = None
        self._starting: "Optional[List[Callable[[Any], Any]]]" = None

    # -- public calls --------------------------------------------------------------------

    def start(self, metadata: "Any", done: "Any") -> None:
        """Resume the stored session (renewed), else start one with `metadata`."""
        done = self._callback("startAnonymousSession", done)
        if done is None:
            return
        if metadata is not None and not _json_object(metadata):
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
        if not _json_object(patch):
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
            self._arm(record)

    def drop(self) -> None:
        """Forget the tokens (reset, clearUserData, transfer): storage, memory, timers and
        answers still on their way."""
        self._generation += 1
        self._timer += 1
        self._record = None
        self._renewing = None
        self._starting = None
        self._state.remove("anonymousSession")

    # -- tokens ----------------------------------------------------------------------------

    def _current(self) -> "Optional[Dict[str, Any]]":
        """The session in force: in memory, else stored (when the mode allows identifiers and
        it belongs to the current anonymousId); an expired one is dropped."""
        record = self._record
        state = self._state
        if record is None and state.sends_ids():
            stored = state.get("anonymousSession")
            if check_record(stored) is None and stored.get("user_id") == state.get("anonymousId"):
                record = self._record = stored
        if record is not None and self._host.now_ms() >= record["session_expires_at"]:
            self.drop()
            return None
        return record

    def _keep(self, answer: "Any") -> bool:
        """Store the tokens of a collector answer; False when it does not hold them."""
        if not isinstance(answer, dict):
            return False
        now = self._host.now_ms()
        access_s = _number(answer.get("expires_in"), 60)
        session_s = _number(answer.get("session_expires_in"), access_s)
        record = {
            "session_token": answer.get("session_token"),
            "access_token": answer.get("access_token"),
            "user_id": answer.get("user_id"),
            "session_id": answer.get("session_id"),
            "expires_at": int(now + access_s * 1000),
            "session_expires_at": int(now + session_s * 1000),
            "renew_at": int(now + min(access_s, session_s) * 1000 * RENEW_AT),
        }
        if check_record(record) is not None:
            return False
        self._record = record
        self._state.set("anonymousSession", record)
        self._arm(record)
        return True

    def _arm(self, record: "Dict[str, Any]") -> None:
        """One renewal timer at a time (a newer one silences the older)."""
        schedule = self._host.schedule
        if schedule is None:
            return
        self._timer += 1
        timer = self._timer

        def due() -> None:
            if timer == self._timer and self._current() is not None:
                self._renew(None)

        try:
            schedule(due, max(0.0, record["renew_at"] - self._host.now_ms()))
        except Exception as exc:
            self._warn("could not schedule the anonymous session's renewal: %r" % exc)

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
            ok = status == 200 and self._keep(answer)
            if status == 401:
                self.drop()
                self._refused(_ignore, "renewing the anonymous session", status, answer)
            elif not ok and status != -1 and self._current() is not None:
                self._retry()
            for waiter in waiters:
                waiter(ok)

        record = self._current()
        if record is None:
            renewed(-1, None)
            return
        self._request("PATCH", "anonymous/session", {}, record, renewed)

    def _retry(self) -> None:
        """Try the renewal again in `RETRY_MS` (quietly: the page may be offline)."""
        schedule = self._host.schedule
        if schedule is None:
            return
        self._timer += 1
        timer = self._timer

        def again() -> None:
            if timer == self._timer and self._current() is not None:
                self._renew(None)

        try:
            schedule(again, RETRY_MS)
        except Exception as exc:
            self._warn("could not schedule the anonymous session's renewal: %r" % exc)

    def _create(self, metadata: "Any", done: "Callable[[Any], Any]") -> None:
        body: "Dict[str, Any]" = {}
        anonymous_id = self._anonymous_id()
        if anonymous_id is not None:
            body["user_id"] = anonymous_id
        if metadata is not None:
            body["metadata"] = metadata

        def answered(status: int, answer: "Any") -> None:
            if status == 200 and self._keep(answer):
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
            if status == 200 and self._keep(answer):
                done(answer)
                return
            if status == 401:
                self.drop()
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
        """Send one JSON request; `answered(status, json or None)` once, status 0 for a
        network error or timeout. Answers after a `drop()` are ignored (status -1)."""
        from .delivery import REQUEST_TIMEOUT_MS
        from .transport import JSON, Request

        headers = privacy.request_headers(self._state.mode)
        if record is not None:
            headers["Authorization"] = "Bearer " + record["session_token"]
        url = endpoint(self._state.options["collectorUrl"], path)
        request = Request(method, url, json.dumps(body), JSON, headers, [])
        request.read_body = True
        generation = self._generation
        finished = [False]

        def on_done(status: "Any", text: "Any" = None) -> None:
            if finished[0]:
                return
            finished[0] = True
            if generation != self._generation:
                answered(-1, None)
                return
            answer = None
            if isinstance(text, str) and text:
                try:
                    answer = json.loads(text)
                except ValueError:
                    answer = None
            answered(status if isinstance(status, int) else 0, answer)

        send = self._host.send
        try:
            if send is None:
                raise OSError("the host cannot send")
            send(request, on_done)
        except Exception as exc:
            self._warn("could not send %s %s: %r" % (method, url, exc))
            on_done(0)
            return
        schedule = self._host.schedule
        if schedule is not None:
            try:
                schedule(lambda: on_done(0), REQUEST_TIMEOUT_MS)
            except Exception as exc:
                self._warn("could not schedule a request timeout: %r" % exc)

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
        if status == -1:
            done(None)  # dropped meanwhile: nobody wants these tokens any more
            return
        if status == 0:
            reason = "the collector is unreachable"
        else:
            error = answer.get("error") if isinstance(answer, dict) else None
            reason = "the collector answered %d%s" % (status, " (%s)" % error if error else "")
        self._fail(done, "%s failed: %s" % (method, reason))


def _ignore(result: "Any") -> None:
    """The callback of work nobody waits for (a background renewal)."""


def _json_object(value: "Any") -> bool:
    """A dict of plain JSON values (checked by type: MicroPython's json encodes anything)."""
    return isinstance(value, dict) and _plain(value, 0)


def _plain(value: "Any", depth: int) -> bool:
    if value is None or isinstance(value, (str, bool, int, float)):
        return True
    if depth > 32:
        return False
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v, depth + 1) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain(v, depth + 1) for v in value)
    return False
