"""Identity rules as plain functions: id generation, validation, stored-value decoding.

Nothing here touches storage, clocks or the browser; randomness is passed in.
"""

TYPE_CHECKING = False  # typing is absent on MicroPython; checkers treat this as True

if TYPE_CHECKING:
    from typing import Any, Callable, Optional


__all__ = [
    "ANONYMOUS_PREFIX",
    "MAX_ID_LENGTH",
    "MAX_TOKEN_LENGTH",
    "anonymous_user_token",
    "check_id",
    "check_token",
    "is_anonymous_token",
    "is_uuid4",
    "uuid4",
]

ANONYMOUS_PREFIX = "anonymous-"
MAX_TOKEN_LENGTH = 129
MAX_ID_LENGTH = 256
_TOKEN_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_=/+-")
_HEX = "0123456789abcdef"


def uuid4(random_bytes: "Callable[[int], bytes]") -> str:
    """A random (version 4, RFC 4122 variant) UUID in canonical lowercase form."""
    b = bytearray(random_bytes(16))
    if len(b) != 16:
        raise ValueError("random source returned %d bytes, wanted 16" % len(b))
    b[6] = (b[6] & 0x0F) | 0x40
    b[8] = (b[8] & 0x3F) | 0x80
    h = "".join([_HEX[x >> 4] + _HEX[x & 15] for x in b])
    return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]


def is_uuid4(value: "Any") -> bool:
    """True for a canonical lowercase uuid4 string."""
    if not isinstance(value, str) or len(value) != 36:
        return False
    for i, ch in enumerate(value):
        if i in (8, 13, 18, 23):
            if ch != "-":
                return False
        elif ch not in _HEX:
            return False
    return value[14] == "4" and value[19] in "89ab"


def anonymous_user_token(random_bytes: "Callable[[int], bytes]") -> str:
    """A new Algolia-style anonymous user token: `anonymous-<uuid4>`."""
    return ANONYMOUS_PREFIX + uuid4(random_bytes)


def check_token(value: "Any") -> "Optional[str]":
    """Why `value` is not a valid user token, or None when it is.

    search-insights' rule: a string of 1 to 129 characters from `[a-zA-Z0-9_=/+-]`.
    """
    if not isinstance(value, str):
        return "a user token must be a string, got %s" % _type_name(value)
    if not value:
        return "a user token must not be empty"
    if len(value) > MAX_TOKEN_LENGTH:
        return "a user token must be at most %d characters, got %d" % (
            MAX_TOKEN_LENGTH,
            len(value),
        )
    for ch in value:
        if ch not in _TOKEN_CHARS:
            return "a user token may only contain [a-zA-Z0-9_=/+-], got %r" % ch
    return None


def is_anonymous_token(value: "Any") -> bool:
    """True for a valid token that starts with `anonymous-` (one this tracker may reuse)."""
    return (
        isinstance(value, str)
        and value.startswith(ANONYMOUS_PREFIX)
        and len(value) > len(ANONYMOUS_PREFIX)
        and check_token(value) is None
    )


def check_id(value: "Any", what: str) -> "Optional[str]":
    """Why `value` is not a valid anonymousId/userId/groupId, or None when it is.

    Segment accepts any non-empty string; we also refuse control characters and
    more than 256 characters, so a stored id always fits a cookie.
    """
    if not isinstance(value, str):
        return "%s must be a string, got %s" % (what, _type_name(value))
    if not value:
        return "%s must not be empty" % what
    if len(value) > MAX_ID_LENGTH:
        return "%s must be at most %d characters, got %d" % (what, MAX_ID_LENGTH, len(value))
    for ch in value:
        if ord(ch) < 32 or ord(ch) == 127:
            return "%s must not contain control characters" % what
    return None


def _type_name(value: "Any") -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, (list, tuple)):
        return "an array"
    return type(value).__name__
