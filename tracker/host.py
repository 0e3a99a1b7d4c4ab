"""What the tracker needs from the place it runs: clock, randomness, warnings, storage.

The browser adapter builds a `Host` from `js`; tests build one from fakes; on
CPython `default_host()` gives an in-memory one.
"""

TYPE_CHECKING = False  # typing is absent on MicroPython; checkers treat this as True

if TYPE_CHECKING:
    from typing import Any, Callable, Optional

__all__ = ["Host", "default_host"]


class Host:
    """The environment a `Tracker` runs in, passed in rather than looked up.

    `cookies` has `read() -> str` and `write(assignment: str)` with the
    semantics of `document.cookie`; `local_storage` has `get_item`, `set_item`
    and `remove_item` like `window.localStorage`. Either may be None when the
    place has no such store. Any of their calls may raise: storage handles it.
    `defer(fn)` runs `fn` once the caller's synchronous work is done (the browser:
    a microtask, before any navigation); None runs it at once.

    Sending (None where the place cannot send; events then wait in the buffer):
    `send(request, on_done)` starts a `tracker.transport.Request` with `keepalive` and
    later calls `on_done(status, body)`, 0 for a network error; `body` is the answer's
    text when `request.read_body` is set, else None; `beacon(url, body) -> bool`
    is `navigator.sendBeacon`; `schedule(fn, delay_ms)` is `setTimeout`;
    `listen(fn)` calls `fn(kind)` on page events: `"hidden"`, `"pagehide"`, `"online"`.
    `page()` describes the page for event context: url, path, referrer, title, userAgent.
    `privacy_signal()` is True when the browser sends Global Privacy Control or Do Not
    Track (None: the place has no such signal).
    """

    def __init__(
        self,
        now_ms: "Callable[[], float]",
        random_bytes: "Callable[[int], bytes]",
        warn: "Callable[[str], None]",
        cookies: "Optional[Any]" = None,
        local_storage: "Optional[Any]" = None,
        secure: bool = False,
        defer: "Optional[Callable[[Callable[[], Any]], None]]" = None,
        send: "Optional[Callable[[Any, Callable[..., Any]], Any]]" = None,
        beacon: "Optional[Callable[[str, Optional[str]], bool]]" = None,
        schedule: "Optional[Callable[[Callable[[], Any], float], Any]]" = None,
        listen: "Optional[Callable[[Callable[[str], Any]], Any]]" = None,
        page: "Optional[Callable[[], dict[str, Any]]]" = None,
        privacy_signal: "Optional[Callable[[], bool]]" = None,
    ) -> None:
        self.now_ms = now_ms
        self.random_bytes = random_bytes
        self.warn = warn
        self.cookies = cookies
        self.local_storage = local_storage
        self.secure = secure
        self.defer = defer
        self.send = send
        self.beacon = beacon
        self.schedule = schedule
        self.listen = listen
        self.page = page
        self.privacy_signal = privacy_signal


def default_host() -> Host:
    """A host for plain Python: wall clock, OS randomness, warnings on stderr, no storage."""
    import os
    import sys
    import time

    def now_ms() -> float:
        return time.time() * 1000.0

    def warn(message: str) -> None:
        sys.stderr.write("[tracker] " + message + "\n")

    return Host(now_ms, os.urandom, warn)
