"""Anonymous tracking modes (Snowplow semantics) and what each lets the tracker keep or send.

A mode is the plain value given as `anonymousTracking`: `False`, `True`,
`{"withSessionTracking": True}` or `{"withServerAnonymisation": True}`. The
functions below answer, for a mode and a storage strategy, whether user
identifiers and sessions may be stored or sent, and which headers requests carry.
"""

TYPE_CHECKING = False  # typing is absent on MicroPython; checkers treat this as True

if TYPE_CHECKING:
    from typing import Any, Optional

__all__ = [
    "USER",
    "SESSION",
    "BUFFER",
    "check_mode",
    "describe",
    "is_anonymous",
    "may_store",
    "request_headers",
    "sends_user_ids",
    "server_anonymisation",
    "tracks_session",
]

USER = "user"
"""Slot kind: user identifiers (user tokens, anonymousId, userId, traits, group)."""
SESSION = "session"
BUFFER = "buffer"

_MODE_KEYS = ("withSessionTracking", "withServerAnonymisation")


def check_mode(value: "Any") -> "Optional[str]":
    """Why `value` is not a valid `anonymousTracking` setting, or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, dict):
        for key, flag in value.items():
            if key not in _MODE_KEYS:
                return "has unknown key %r (known: %s)" % (key, ", ".join(_MODE_KEYS))
            if not isinstance(flag, bool):
                return "%s must be true or false" % key
        return None
    return "must be true, false or an object like {withSessionTracking: true}"


def is_anonymous(mode: "Any") -> bool:
    """Any anonymous mode: `true` or an options object (even an empty one)."""
    return mode is True or isinstance(mode, dict)


def server_anonymisation(mode: "Any") -> bool:
    """Whether requests carry `SP-Anonymous: *` so the collector keeps no IP or cookie."""
    return isinstance(mode, dict) and mode.get("withServerAnonymisation") is True


def tracks_session(mode: "Any", strategy: str) -> bool:
    """Sessions are kept unless anonymous; with `withSessionTracking` they need real storage."""
    if not is_anonymous(mode):
        return True
    return isinstance(mode, dict) and mode.get("withSessionTracking") is True and strategy != "none"


def sends_user_ids(mode: "Any") -> bool:
    """User identifiers go on events and into storage only outside anonymous modes."""
    return not is_anonymous(mode)


def may_store(mode: "Any", strategy: str, kind: str) -> bool:
    """Whether state of `kind` may be written to cookies/localStorage in this mode."""
    if kind == USER:
        return sends_user_ids(mode)
    if kind == SESSION:
        return tracks_session(mode, strategy)
    return True


def request_headers(mode: "Any") -> "dict[str, str]":
    """Extra headers for requests to the collector."""
    return {"SP-Anonymous": "*"} if server_anonymisation(mode) else {}


def describe(mode: "Any", strategy: str) -> "dict[str, Any]":
    """The effective mode as plain values, for pages that show it."""
    return {
        "anonymousTracking": mode,
        "anonymous": is_anonymous(mode),
        "withSessionTracking": is_anonymous(mode) and tracks_session(mode, strategy),
        "withServerAnonymisation": server_anonymisation(mode),
        "stateStorageStrategy": strategy,
    }
