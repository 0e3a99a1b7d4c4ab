"""Events as plain dicts: what a `track`, `page`, `identify` or `group` call becomes.

`build_event` only assembles; which identifiers it receives is decided by the
tracker from the anonymous mode (see `tracker.privacy`). The wire format is in
docs/architecture.md.
"""

from . import privacy

TYPE_CHECKING = False  # typing is absent on MicroPython; checkers treat this as True

if TYPE_CHECKING:
    from typing import Any, Dict, Optional

__all__ = [
    "LIBRARY",
    "MAX_BUFFER_CHARS",
    "build_event",
    "check_buffer",
    "event_context",
    "scrub",
]

LIBRARY = {"name": "tracker", "version": "0.1.0"}
"""`context.library` on every event."""
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


def event_context(
    page: "Optional[dict[str, Any]]", given: "dict[str, Any]", mode: "Any"
) -> "dict[str, Any]":
    """An event's context: the page (url, path, referrer, title), user agent and library,
    then the call's own `options.context` on top. `traits` only where the mode sends user
    identifiers; `ip` not under server anonymisation (the collector must record none)."""
    context: "Dict[str, Any]" = {"library": LIBRARY}
    if page:
        context["page"] = {
            key: page[key] for key in ("url", "path", "referrer", "title") if key in page
        }
        if "userAgent" in page:
            context["userAgent"] = page["userAgent"]
    context.update(given)
    if not privacy.sends_user_ids(mode):
        context.pop("traits", None)
    if privacy.server_anonymisation(mode):
        context.pop("ip", None)
    return context


def check_buffer(value: "Any") -> "Optional[str]":
    """Why a stored buffer is unusable, or None (entries are checked one by one on load)."""
    return None if isinstance(value, list) else "not a list of events"


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
