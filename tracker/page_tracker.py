"""The page's single tracker, created on first use with the host it runs in: the
browser's when `tracker.browser` can reach JS, else plain Python's (in memory)."""

from .client import Tracker
from .host import default_host

__all__ = ["get_tracker"]

_page_tracker = None


def get_tracker() -> Tracker:
    """The page's single tracker, created on first use with the host it runs in."""
    global _page_tracker
    if _page_tracker is None:
        try:
            from .browser import make_host

            host = make_host()
        except ImportError:
            host = default_host()
        _page_tracker = Tracker(host)
    return _page_tracker
