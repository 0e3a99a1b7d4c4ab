"""The browser adapter: a `Host` built from JS helpers, and the bridge entry points the
loader calls.

This is the only module that reaches JS; it runs on MicroPython and Pyodide alike, and
compiled to JavaScript by Transcrypt (build.py), where the loader hands it its helpers
with `use_helpers` instead of an import.
Every JS operation that can throw (cookies, localStorage) goes through small JS
helpers that catch and return tagged strings: a JS exception thrown through
MicroPython's stack cannot be caught in Python and would break the interpreter.
See docs/architecture.md for the bridge contract.
"""

import binascii
import json

from . import dispatch
from .host import Host
from .page_tracker import get_tracker

TYPE_CHECKING = False  # typing is absent on MicroPython; checkers treat this as True

if TYPE_CHECKING:
    from typing import Any, Callable, Optional

__all__ = ["call", "make_host", "methods", "start", "use_helpers"]


_helpers = None


def use_helpers(helpers: "Any") -> None:
    """Take the loader's JS helpers directly (the compiled build has no module to import)."""
    global _helpers
    _helpers = helpers


def _js() -> "Any":
    """The JS helper object: the loader's `_tracker_host`, else one built from
    `host_helpers.HELPERS_JS`."""
    global _helpers
    if _helpers is None:
        try:
            import _tracker_host

            _helpers = _tracker_host
        except ImportError:
            import js

            from .host_helpers import HELPERS_JS

            _helpers = js.Function.new(HELPERS_JS)()
    return _helpers


def _unwrap(result: "Any") -> "Optional[str]":
    """A helper's tagged result as a str or None; a JS exception becomes OSError."""
    text = str(result)
    if text.startswith("+"):
        return text[1:]
    if text == "-":
        return None
    raise OSError(text[1:])


READ_ONCE = -2
"""The loader's cookie hint for "not read yet: the first reading of this call holds"."""


class CookieJar:
    """`document.cookie`: `read()` gives the whole cookie string, `write()` sets one cookie.

    The JS side numbers each distinct cookie string it has seen and answers "=" when the
    string is still the one this jar holds, so an unchanged jar does not cross again.
    `hint` is that number as the loader saw it when the current call began: while it
    matches and nothing was written since, reading needs no crossing at all. READ_ONCE
    (the compiled build, whose loader reads nothing up front) makes the call's first
    reading the hint, so a method that needs no cookie reads none and one that does reads
    `document.cookie` once.
    """

    def __init__(self) -> None:
        self._version = -1
        self._text = ""
        self.hint = -1
        self._read = _js().cookieRead  # bound once: each attribute lookup crosses into JS

    def read(self) -> str:
        if self.hint >= 0 and self.hint == self._version:
            return self._text
        answer = _unwrap(self._read(self._version)) or ""
        if answer != "=":
            version, _, self._text = answer.partition(" ")
            self._version = int(version)
        if self.hint == READ_ONCE:
            self.hint = self._version
        return self._text

    def write(self, assignment: str) -> None:
        self.hint = -1
        _unwrap(_js().cookieWrite(assignment))


class BrowserLocalStorage:
    """`window.localStorage`; every call raises OSError when storage is blocked or full."""

    def __init__(self) -> None:
        self._get = _js().storageGet

    def get_item(self, key: str) -> "Optional[str]":
        return _unwrap(self._get(key))

    def set_item(self, key: str, value: str) -> None:
        _unwrap(_js().storageSet(key, value))

    def remove_item(self, key: str) -> None:
        _unwrap(_js().storageRemove(key))


def _now_ms() -> float:
    """`Date.now()`, passed as a string: MicroPython truncates JS integers to 32 bits."""
    return float(str(_js().now()))


def _random_bytes(n: int) -> bytes:
    """n bytes from `crypto.getRandomValues`, crossing once as a hex string."""
    return binascii.unhexlify(_js().randomHex(n))


def _warn(message: str) -> None:
    """One `console.warn("[tracker] " + message)`."""
    _js().warn(message)


def _js_function(fn: "Callable[..., Any]", once: bool = True) -> "Any":
    """`fn` as something JS may call later: Pyodide frees plain proxies after the call."""
    try:
        from pyodide.ffi import create_once_callable, create_proxy
    except ImportError:  # MicroPython keeps proxies of Python functions alive
        return fn
    return create_once_callable(fn) if once else create_proxy(fn)


def _guarded(fn: "Callable[..., Any]", what: str) -> "Callable[..., None]":
    """`fn` for JS to call back: a Python error becomes one warning, never a JS exception."""

    def run(*args: "Any") -> None:
        try:
            fn(*args)
        except Exception as exc:
            _warn("%s failed: %r" % (what, exc))

    return run


def _send(request: "Any", on_done: "Callable[..., Any]") -> None:
    """Start `request` with `fetch` (its keepalive and credentials); `on_done(status, body)` later,
    `body` the answer's text when `request.read_body` is set, else None."""
    want_body = getattr(request, "read_body", False)

    def answered(status: "Any", text: "Any" = "") -> None:
        on_done(int(status), str(text) if want_body else None)

    _js().send(
        request.method,
        request.url,
        request.body or "",
        request.content_type or "",
        json.dumps(request.headers),
        1 if request.keepalive else 0,
        _js_function(_guarded(answered, "delivery")),
        1 if want_body else 0,
        getattr(request, "credentials", "include"),
    )


def _beacon(url: str, body: "Optional[str]") -> bool:
    """`navigator.sendBeacon(url, body)`: False when the browser refuses it."""
    return bool(int(_js().beacon(url, body or "")))


def _schedule(fn: "Callable[[], Any]", delay_ms: float) -> None:
    """`setTimeout(fn, delay_ms)`."""
    _js().schedule(_js_function(_guarded(fn, "scheduled work")), int(delay_ms))


def _listen(fn: "Callable[[str], Any]") -> None:
    """Call `fn(kind)` when the page is hidden, goes away or comes back online."""
    _js().listen(_js_function(_guarded(lambda kind: fn(str(kind)), "page event"), False))


_page_info: "dict[str, Any]" = {}


def _page() -> "dict[str, Any]":
    """The page's url, path, referrer, title and user agent (read again when they change)."""
    global _page_info
    text = str(_js().pageInfo())
    if text != "=":
        _page_info = json.loads(text)
    return _page_info


def _privacy_signal() -> bool:
    """`navigator.globalPrivacyControl` or Do Not Track ("1"), read once per `init`."""
    return bool(int(_js().privacySignal()))


def _defer(fn: "Callable[[], Any]") -> None:
    """Run `fn` once the current JS task's synchronous work is done (a microtask)."""
    _js().defer(_js_function(fn))


def make_host() -> Host:
    """A `Host` on the browser's clock, randomness, console, cookies and localStorage."""
    return Host(
        now_ms=_now_ms,
        random_bytes=_random_bytes,
        warn=_warn,
        cookies=CookieJar(),
        local_storage=BrowserLocalStorage(),
        secure=bool(int(_js().secure())),
        defer=_defer,
        send=_send,
        beacon=_beacon,
        schedule=_schedule,
        listen=_listen,
        page=_page,
        privacy_signal=_privacy_signal,
    )


def _make_callback(fn_id: int) -> "Callable[..., None]":
    """A Python callable that calls the page's JS function number `fn_id` with JSON arguments."""

    def callback(*args: "Any") -> None:
        _page_jar().hint = -1  # the page's function may change cookies
        _js().callback(fn_id, json.dumps(list(args)))

    return callback


def start(options_json: str) -> str:
    """Create the page's tracker and run `init(options)` unless `options_json` is "null"."""
    tracker = get_tracker()
    try:
        options = json.loads(options_json)
    except ValueError:
        _warn("init: options are not JSON")
        options = None
    if options is not None:
        dispatch.call(tracker, "init", [options], _make_callback)
    return "true"


def _page_jar() -> "Any":
    return get_tracker().host.cookies


def call(name: str, args_json: str, cookie_version: int = -1) -> str:
    """Run JS method `name` with the JSON array `args_json`; the result as JSON. Never raises.

    `cookie_version` is the loader's number for `document.cookie` as the call began, or
    READ_ONCE.
    """
    jar = _page_jar()
    try:
        jar.hint = cookie_version
        args = [] if args_json == "[]" else json.loads(args_json)
        return json.dumps(dispatch.call(get_tracker(), name, args, _make_callback))
    except Exception as exc:
        _warn("%s failed: %r" % (name, exc))
        return "null"
    finally:
        jar.hint = -1


def methods() -> str:
    """Every JS method name, as a JSON list."""
    return json.dumps(list(dispatch.METHODS))
