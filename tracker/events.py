"""Events as plain dicts: what a `track` or `page` call becomes before it is buffered.

`build_event` only assembles; which identifiers it receives is decided by the
tracker from the anonymous mode (see `tracker.privacy`).
"""

TYPE_CHECKING = False  # typing is absent on MicroPython; checkers treat this as True

if TYPE_CHECKING:
    from typing import Any, Dict, Optional

__all__ = ["MAX_BUFFERED", "MAX_BUFFER_CHARS", "build_event", "check_buffer", "scrub"]

MAX_BUFFERED = 500
"""Events kept waiting for the collector; past this the oldest are dropped with a warning."""
MAX_BUFFER_CHARS = 2_000_000
"""The stored buffer's size bound, well inside localStorage's usual 5 MB quota."""

USER_FIELDS = ("anonymousId", "userId", "userToken", "authenticatedUserToken", "traits")


def build_event(
    kind: str,
    name: "Optional[str]",
    properties: "dict[str, Any]",
    message_id: str,
    now_ms: float,
    app_id: str,
    identifiers: "dict[str, Any]",
    context: "dict[str, Any]",
) -> "dict[str, Any]":
    """One event: type, name, properties, messageId, client timestamp, allowed identifiers."""
    event: "Dict[str, Any]" = {
        "type": kind,
        "messageId": message_id,
        "timestamp": int(now_ms),
        "appId": app_id,
        "properties": properties,
        "context": context,
    }
    if name is not None:
        event["event" if kind == "track" else "name"] = name
    for key, value in identifiers.items():
        if value is not None:
            event[key] = value
    return event


def check_buffer(value: "Any") -> "Optional[str]":
    """Why a stored buffer is unusable, or None."""
    if not isinstance(value, list):
        return "not a list of events"
    for event in value:
        if not isinstance(event, dict) or not isinstance(event.get("messageId"), str):
            return "holds something that is not an event"
    return None


def scrub(event: "Dict[str, Any]", user: bool, session: bool) -> None:
    """Remove the user identifiers (and/or the session) from an event waiting to be sent."""
    if user:
        for key in USER_FIELDS:
            event.pop(key, None)
        context = event.get("context")
        if isinstance(context, dict):
            context.pop("traits", None)
    if session:
        context = event.get("context")
        if isinstance(context, dict):
            context.pop("session", None)
