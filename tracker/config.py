"""`init` options: defaults, validation and the names of stored keys.

`merge_options(current, given, warn)` returns the new option dict; anything
invalid is reported through `warn` and the previous value is kept.
"""

from .storage import STRATEGIES

TYPE_CHECKING = False  # typing is absent on MicroPython; checkers treat this as True

if TYPE_CHECKING:
    from typing import Any, Callable, Dict, Optional

__all__ = [
    "DEFAULT_COOKIE_NAMES",
    "DEFAULTS",
    "EVENT_METHODS",
    "ONE_YEAR_S",
    "merge_options",
]

ONE_YEAR_S = 365 * 24 * 3600
EVENT_METHODS = ("post", "get", "beacon")

DEFAULT_COOKIE_NAMES = {
    "userToken": "_ALGOLIA",
    "anonymousId": "ajs_anonymous_id",
    "userId": "ajs_user_id",
    "userTraits": "ajs_user_traits",
    "groupId": "ajs_group_id",
    "groupTraits": "ajs_group_properties",
    "session": "_trk_ses",
    "queue": "_trk_queue",
    "anonymousSession": "_trk_anon_session",
    "consent": "_trk_consent",
}
"""Storage keys; the defaults are the seed libraries' own, so switching keeps visitors' ids."""

DEFAULTS: "Dict[str, Any]" = {
    "collectorUrl": None,
    "appId": "",
    "cookieDuration": 15552000000,
    "cookieDomain": None,
    "cookiePath": "/",
    "cookieSameSite": "Lax",
    "cookieSecure": None,
    "stateStorageStrategy": "cookieAndLocalStorage",
    "anonymousTracking": False,
    "eventMethod": "post",
    "sessionTimeout": 1800,
    "cookieNames": DEFAULT_COOKIE_NAMES,
    "maxQueueSize": 1000,
    "retryStatusCodes": [],
    "dontRetryStatusCodes": [],
    "respectGlobalPrivacyControl": False,
}

# Identities given at init are applied by the tracker, not kept as options.
IDENTITY_OPTIONS = ("userToken", "authenticatedUserToken", "anonymousId")

_MAX_COOKIE_DURATION_MS = 400 * 24 * 3600 * 1000  # browsers cap cookie lifetimes at 400 days


def _check_option(name: str, value: "Any") -> "Optional[str]":
    """Why `value` is not acceptable for option `name`, or None."""
    if name == "collectorUrl":
        if value is not None and not (isinstance(value, str) and value):
            return "must be a non-empty string (a URL) or null"
    elif name in ("appId", "cookiePath"):
        if not isinstance(value, str):
            return "must be a string"
    elif name == "cookieDomain":
        if value is not None and not isinstance(value, str):
            return "must be a string or null"
    elif name == "cookieDuration":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 1000:
            return "must be a number of milliseconds, at least 1000 (cookies live whole seconds)"
        if value > _MAX_COOKIE_DURATION_MS:
            return "must be at most 400 days (browsers cap cookies there)"
    elif name == "cookieSameSite":
        if value not in ("Lax", "Strict", "None"):
            return "must be 'Lax', 'Strict' or 'None'"
    elif name == "cookieSecure":
        if value is not None and not isinstance(value, bool):
            return "must be a boolean"
    elif name == "stateStorageStrategy":
        if value not in STRATEGIES:
            return "must be one of " + ", ".join(sorted(STRATEGIES))
    elif name == "anonymousTracking":
        from .privacy import check_mode

        return check_mode(value)
    elif name == "eventMethod":
        if value not in EVENT_METHODS:
            return "must be 'post', 'get' or 'beacon'"
    elif name == "sessionTimeout":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            return "must be a positive number of seconds"
    elif name == "maxQueueSize":
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 100000:
            return "must be a whole number from 1 to 100000"
    elif name in ("retryStatusCodes", "dontRetryStatusCodes"):
        if not isinstance(value, list) or not all(
            isinstance(c, int) and not isinstance(c, bool) and 100 <= c <= 599 for c in value
        ):
            return "must be a list of HTTP status codes (100-599)"
    elif name == "respectGlobalPrivacyControl":
        if not isinstance(value, bool):
            return "must be true or false"
    elif name == "cookieNames":
        if not isinstance(value, dict):
            return "must be an object"
        for key, key_name in value.items():
            if key not in DEFAULT_COOKIE_NAMES:
                return "has an unknown key %r (known: %s)" % (
                    key,
                    ", ".join(sorted(DEFAULT_COOKIE_NAMES)),
                )
            if not isinstance(key_name, str) or not _is_cookie_name(key_name):
                return "%s must be a cookie name (letters, digits, _ and -)" % key
    return None


def _is_cookie_name(name: str) -> bool:
    if not name or len(name) > 64:
        return False
    for ch in name:
        if not (ch.isalpha() or ch.isdigit() or ch in "_-."):
            return False
    return True


def merge_options(
    current: "dict[str, Any]", given: "Any", warn: "Callable[[str], None]"
) -> "dict[str, Any]":
    """`current` updated with the valid entries of `given`; each invalid one warns."""
    merged = dict(current)
    if given is None:
        return merged
    if not isinstance(given, dict):
        warn("init options must be an object; ignored")
        return merged
    for name, value in given.items():
        if name in IDENTITY_OPTIONS:
            continue
        if name not in DEFAULTS:
            warn("init: unknown option %r ignored" % name)
            continue
        problem = _check_option(name, value)
        if problem:
            warn("init: %s %s; keeping %r" % (name, problem, merged[name]))
            continue
        if name == "cookieNames":
            names = dict(merged["cookieNames"])
            names.update(value)
            value = names
        merged[name] = value
    return merged
