"""Events as plain dicts: what a `track` or `page` call becomes before it is buffered.

`build_event` only assembles; which identifiers it receives is decided by the
tracker from the anonymous mode (see `tracker.privacy`).
"""

TYPE_CHECKING = False  # typing is absent on MicroPython; checkers treat this as True

if TYPE_CHECKING:
    from typing import Any, Dict, Optional

__all__ = ["MAX_BUFFERED", "build_event", "check_buffer"]

MAX_BUFFERED = 500
"""Events kept waiting for the collector; past this the oldest are dropped with a warning."""


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
