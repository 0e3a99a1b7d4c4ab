"""The JS-facing command table: `tracker('methodName', ...args)` to `Tracker` methods.

Arguments arrive as plain JSON values (a JS function as `{"$fn": id}`); results
leave as plain JSON values. `call` never raises: unknown names, bad arguments
and internal errors become one warning and a None result.
"""

from .profile import Group, User

TYPE_CHECKING = False  # typing is absent on MicroPython; checkers treat this as True

if TYPE_CHECKING:
    from typing import Any, Callable, Dict, List, Optional

    from .client import Tracker

__all__ = ["METHODS", "call"]


def _arg(args: "list[Any]", index: int, default: "Any" = None) -> "Any":
    return args[index] if len(args) > index and args[index] is not None else default


def _config(tracker: "Tracker", args: "list[Any]", method: str, keys: "tuple") -> "Any":
    """The object argument of `method`, or None (after a warning) when it is not one."""
    value = _arg(args, 0, {})
    if not isinstance(value, dict):
        tracker.host.warn("%s: expected an object like {%s}" % (method, ", ".join(keys)))
        return None
    for key in value:
        if key not in keys:
            tracker.host.warn("%s: unknown key %r ignored" % (method, key))
    return value


def _enable(t: "Tracker", a: "list[Any]") -> None:
    cfg = _config(t, a, "enableAnonymousTracking", ("options", "stateStorageStrategy"))
    if cfg is not None:
        t.enable_anonymous_tracking(cfg.get("options"), cfg.get("stateStorageStrategy"))


def _disable(t: "Tracker", a: "list[Any]") -> None:
    cfg = _config(t, a, "disableAnonymousTracking", ("stateStorageStrategy",))
    if cfg is not None:
        t.disable_anonymous_tracking(cfg.get("stateStorageStrategy"))


def _clear(t: "Tracker", a: "list[Any]") -> None:
    cfg = _config(t, a, "clearUserData", ("preserveSession", "preserveUser"))
    if cfg is not None:
        t.clear_user_data(cfg.get("preserveSession", False), cfg.get("preserveUser", False))


def _on_token(t: "Tracker", a: "list[Any]") -> None:
    opts = _arg(a, 1, {})
    immediate = opts.get("immediate", False) if isinstance(opts, dict) else False
    t.on_user_token_change(_arg(a, 0), immediate)


def _start_session(t: "Tracker", a: "list[Any]") -> None:
    cfg = _config(t, a, "startAnonymousSession", ("metadata",))
    callback = _arg(a, 1)
    if cfg is None:
        if callable(callback):
            callback(None)
        return
    t.start_anonymous_session(cfg.get("metadata"), callback)


def _group(t: "Tracker", a: "list[Any]") -> "Any":
    if not a:
        return t.group()
    return t.group(a[0], _arg(a, 1), _arg(a, 2))


_COMMANDS: "Dict[str, Callable[[Any, List[Any]], Any]]" = {
    "init": lambda t, a: t.init(_arg(a, 0)),
    "setAnonymousUserToken": lambda t, a: t.set_anonymous_user_token(_arg(a, 0, False)),
    "setUserToken": lambda t, a: t.set_user_token(_arg(a, 0)),
    "getUserToken": lambda t, a: t.get_user_token(),
    "setAuthenticatedUserToken": lambda t, a: t.set_authenticated_user_token(_arg(a, 0)),
    "getAuthenticatedUserToken": lambda t, a: t.get_authenticated_user_token(),
    "onUserTokenChange": _on_token,
    "getAnonymousId": lambda t, a: t.get_anonymous_id(),
    "setAnonymousId": lambda t, a: t.set_anonymous_id(_arg(a, 0)),
    "identify": lambda t, a: t.identify(_arg(a, 0), _arg(a, 1), _arg(a, 2)),
    "user": lambda t, a: t.user(),
    "user.id": lambda t, a: t.user().id(*a[:1]),
    "user.anonymousId": lambda t, a: t.user().anonymous_id(*a[:1]),
    "user.traits": lambda t, a: t.user().traits(*a[:1]),
    "group": _group,
    "group.id": lambda t, a: t.group().id(),
    "group.traits": lambda t, a: t.group().traits(*a[:1]),
    "reset": lambda t, a: t.reset(),
    "enableAnonymousTracking": _enable,
    "disableAnonymousTracking": _disable,
    "clearUserData": _clear,
    "getMode": lambda t, a: t.get_mode(),
    "getSessionId": lambda t, a: t.get_session_id(),
    "getSessionIndex": lambda t, a: t.get_session_index(),
    "track": lambda t, a: t.track(_arg(a, 0), _arg(a, 1), _arg(a, 2)),
    "page": lambda t, a: t.page(_arg(a, 0), _arg(a, 1), _arg(a, 2), _arg(a, 3)),
    "getBufferedEvents": lambda t, a: t.get_buffered_events(),
    "flush": lambda t, a: t.flush(_arg(a, 0)),
    "startAnonymousSession": _start_session,
    "getAccessToken": lambda t, a: t.get_access_token(_arg(a, 0)),
    "updateSessionMetadata": lambda t, a: t.update_session_metadata(_arg(a, 0), _arg(a, 1)),
    "transferAnonymousSession": lambda t, a: t.transfer_anonymous_session(_arg(a, 0), _arg(a, 1)),
    "setConsent": lambda t, a: t.set_consent(a[0] if a else ""),
    "getConsent": lambda t, a: t.get_consent(),
}

METHODS = sorted(name for name in _COMMANDS if "." not in name)
"""Every JS method name a page may call (accessor methods like `user.id` excluded)."""

_USER_ACCESSOR = {"$accessor": "user", "methods": ["id", "anonymousId", "traits"]}
_GROUP_ACCESSOR = {"$accessor": "group", "methods": ["id", "traits"]}


def _revive(value: "Any", make_callback: "Callable[[int], Callable[..., Any]]") -> "Any":
    """A `{"$fn": id}` argument becomes a Python callable that calls the JS function."""
    if isinstance(value, dict) and len(value) == 1 and isinstance(value.get("$fn"), int):
        return make_callback(value["$fn"])
    return value


def call(
    tracker: "Tracker",
    name: "Any",
    args: "Any",
    make_callback: "Optional[Callable[[int], Callable[..., Any]]]" = None,
) -> "Any":
    """Run the JS method `name` with `args`; a JSON-able result, None on any problem."""
    handler = _COMMANDS.get(name) if isinstance(name, str) else None
    if handler is None:
        tracker.host.warn("unknown method %r (known: %s)" % (name, ", ".join(METHODS)))
        return None
    if not isinstance(args, list):
        args = [] if args is None else [args]
    if args and make_callback is not None:
        args = [_revive(value, make_callback) for value in args]
    try:
        result = handler(tracker, args)
    except Exception as exc:
        tracker.host.warn("%s failed: %r" % (name, exc))
        return None
    if isinstance(result, User):
        return _USER_ACCESSOR
    if isinstance(result, Group):
        return _GROUP_ACCESSOR
    return result
