"""Client-side sessions as plain values: `{"id": uuid4, "index": n, "last": ms}`.

A session ends after `timeout_s` seconds without activity; the next activity
starts one with the next index. The clock and id generator are passed in.
"""

from . import privacy
from .identity import is_uuid4

TYPE_CHECKING = False  # typing is absent on MicroPython; checkers treat this as True

if TYPE_CHECKING:
    from typing import Any, Callable, Optional

__all__ = ["Sessions", "check_session", "current", "expired", "touch"]


def check_session(value: "Any") -> "Optional[str]":
    """Why a stored value is not a session, or None."""
    if not isinstance(value, dict):
        return "not a session object"
    if not is_uuid4(value.get("id")):
        return "session id is not a uuid4"
    index = value.get("index")
    if isinstance(index, bool) or not isinstance(index, int) or index < 1:
        return "session index is not a positive integer"
    last = value.get("last")
    if isinstance(last, bool) or not isinstance(last, (int, float)) or last < 0:
        return "last activity is not a timestamp"
    return None


def expired(session: "Optional[dict[str, Any]]", now_ms: float, timeout_s: float) -> bool:
    """True when there is no session or it has been idle for longer than the timeout."""
    return session is None or now_ms - session["last"] > timeout_s * 1000


def _start(session: "Optional[dict[str, Any]]", now_ms: float, new_id: "Callable[[], str]"):
    index = 1 if session is None else session["index"] + 1
    return {"id": new_id(), "index": index, "last": int(now_ms)}


def current(
    session: "Optional[dict[str, Any]]",
    now_ms: float,
    timeout_s: float,
    new_id: "Callable[[], str]",
) -> "dict[str, Any]":
    """The session in force now: the same one, or a new one if it timed out (not extended)."""
    if expired(session, now_ms, timeout_s):
        return _start(session, now_ms, new_id)
    return session  # type: ignore[return-value]


def touch(
    session: "Optional[dict[str, Any]]",
    now_ms: float,
    timeout_s: float,
    new_id: "Callable[[], str]",
) -> "dict[str, Any]":
    """The session after activity at `now_ms`: extended, or a new one if it timed out.

    Activity within a second of the last one returns the same session unchanged, so a
    burst of events stores the session once.
    """
    if expired(session, now_ms, timeout_s):
        return _start(session, now_ms, new_id)
    assert session is not None
    if now_ms - session["last"] < 1000:
        return session
    extended = dict(session)
    extended["last"] = int(now_ms)
    return extended


class Sessions:
    """The visitor's session in the shared state's `session` slot, as the mode allows."""

    def __init__(self, state: "Any") -> None:
        self._state = state

    def step(self, activity: bool) -> "Optional[dict[str, Any]]":
        """The session now (`activity`: extend it, else only start one if it timed out);
        None when the mode keeps no session."""
        state = self._state
        if not privacy.tracks_session(state.mode, state.store.strategy):
            return None
        slot = state.slots["session"]
        stored = state.store.get(slot)
        step = touch if activity else current
        result = step(stored, state.host.now_ms(), state.options["sessionTimeout"], state.new_id)
        if result is not stored:
            state.store.set(slot, result)
        return result

    def id(self) -> "Optional[str]":
        """The current session's id (a new session if the last one timed out)."""
        now = self.step(False)
        return None if now is None else now["id"]

    def index(self) -> "Optional[int]":
        """How many sessions this visitor has had, counting the current one."""
        now = self.step(False)
        return None if now is None else now["index"]
