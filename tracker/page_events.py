"""The page's lifecycle as delivery sees it: hidden, going away, back online.

Listening starts with the first `init`, which also takes over the events an earlier
page load left unsent; every `init` then sends what waits (the collector may be new).
Delivery itself is built only when there is something to send.
"""

TYPE_CHECKING = False  # typing is absent on MicroPython; checkers treat this as True

if TYPE_CHECKING:
    from typing import Callable

    from .delivery import Delivery
    from .host import Host
    from .outbox import Outbox

__all__ = ["PageEvents"]


class PageEvents:
    """Hands the host's page events (`hidden`, `pagehide`, `online`) to delivery."""

    def __init__(self, host: "Host", outbox: "Outbox", delivery: "Callable[[], Delivery]") -> None:
        self._host = host
        self._outbox = outbox
        self._delivery = delivery
        self._listening = False

    def start(self) -> None:
        """On the first call, listen and adopt events left unsent; on every call, send
        what waits."""
        if not self._listening:
            self._listening = True
            if self._host.listen is not None:
                try:
                    self._host.listen(self._on)
                except Exception as exc:
                    self._host.warn("could not listen for page hide: %r" % exc)
            self._outbox.adopt()
        if self._outbox.entries:
            self._delivery().kick()

    def _on(self, kind: str) -> None:
        if kind == "online":
            self._outbox.adopt()
            self._delivery().online()
        else:
            self._delivery().page_hidden(kind)
