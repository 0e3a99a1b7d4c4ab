"""The anonymous session's tokens as the page keeps them: the record, and its renewal timer.

A collector answer becomes a record of both tokens and their expiry times, kept in
memory and in the `anonymousSession` slot (localStorage, as the mode and strategy allow).
One timer at a time calls for a renewal once `RENEW_AT` of the tokens' lifetime has
passed, or `RETRY_MS` after a failed one.
"""

TYPE_CHECKING = False  # typing is absent on MicroPython; checkers treat this as True

if TYPE_CHECKING:
    from typing import Any, Callable, Dict, Optional

    from .state import TrackerState

__all__ = ["MAX_RECORD_CHARS", "RENEW_AT", "RETRY_MS", "SessionTokens", "check_record"]

RENEW_AT = 0.8
"""Tokens are renewed once this share of their lifetime has passed."""
MAX_RECORD_CHARS = 400000
"""Stored tokens up to this size (the session token carries the metadata, 64 KiB by default)."""
RETRY_MS = 30000
"""A failed renewal is tried again this much later (while the session token is valid)."""

_RECORD_KEYS = ("session_token", "access_token", "user_id", "session_id")


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


class SessionTokens:
    """The token record in force and the one timer that renews it.

    `due()` is called when a renewal is due (the caller checks the session still holds).
    """

    def __init__(self, state: "TrackerState", due: "Callable[[], Any]") -> None:
        self._state = state
        self._host = state.host
        self._due = due
        self._record: "Optional[Dict[str, Any]]" = None
        self._timer = 0

    def load(self) -> "Optional[Dict[str, Any]]":
        """The record in memory, else the stored one (when the mode allows identifiers and
        it belongs to the current anonymousId), expired or not."""
        record = self._record
        state = self._state
        if record is None and state.sends_ids():
            stored = state.get("anonymousSession")
            if check_record(stored) is None and stored.get("user_id") == state.get("anonymousId"):
                record = self._record = stored
        return record

    def expired(self, record: "Dict[str, Any]") -> bool:
        """Whether the session token of `record` is past its lifetime."""
        return self._host.now_ms() >= record["session_expires_at"]

    def keep(self, answer: "Any") -> bool:
        """Store the tokens of a collector answer and arm their renewal; False when the
        answer does not hold them."""
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
        self.arm(record)
        return True

    def arm(self, record: "Dict[str, Any]") -> None:
        """Call for a renewal at the record's `renew_at`."""
        self._schedule(max(0.0, record["renew_at"] - self._host.now_ms()))

    def retry(self) -> None:
        """Call for a renewal again in `RETRY_MS` (quietly: the page may be offline)."""
        self._schedule(RETRY_MS)

    def forget(self) -> None:
        """Drop the record from memory and storage, and silence the timer."""
        self._timer += 1
        self._record = None
        self._state.remove("anonymousSession")

    def _schedule(self, delay: float) -> None:
        """One timer at a time: a newer one silences the older."""
        schedule = self._host.schedule
        if schedule is None:
            return
        self._timer += 1
        timer = self._timer

        def fire() -> None:
            if timer == self._timer:
                self._due()

        try:
            schedule(fire, delay)
        except Exception as exc:
            self._state.warn("could not schedule the anonymous session's renewal: %r" % exc)
