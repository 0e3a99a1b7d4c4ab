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
    ) -> None:
        self.now_ms = now_ms
        self.random_bytes = random_bytes
        self.warn = warn
        self.cookies = cookies
        self.local_storage = local_storage
        self.secure = secure
        self.defer = defer


def default_host() -> Host:
    """A host for plain Python: wall clock, OS randomness, warnings on stderr, no storage."""
    import os
    import sys
    import time

    def now_ms() -> float:
        return time.time() * 1000.0

    def warn(message: str) -> None:
        print("[tracker] " + message, file=sys.stderr)

    return Host(now_ms, os.urandom, warn)
