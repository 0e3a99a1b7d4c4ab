"""tracker: visitor identity and anonymous tracking, in portable Python.

`get_tracker()` returns the page's tracker (on the browser's storage when run
in a browser, in memory on plain Python); the same API is available as module
functions, e.g. `tracker.set_anonymous_user_token()`, `tracker.identify("u1")`.
"""

from .client import Tracker
from .host import Host, default_host
from .page_tracker import get_tracker
from .profile import Group, User

__all__ = [
    "API",
    "Group",
    "Host",
    "Tracker",
    "User",
    "default_host",
    "get_tracker",
]

API = (
    "init",
    "set_anonymous_user_token",
    "set_user_token",
    "get_user_token",
    "set_authenticated_user_token",
    "get_authenticated_user_token",
    "on_user_token_change",
    "get_anonymous_id",
    "set_anonymous_id",
    "identify",
    "user",
    "group",
    "reset",
    "enable_anonymous_tracking",
    "disable_anonymous_tracking",
    "clear_user_data",
    "get_mode",
    "get_session_id",
    "get_session_index",
    "track",
    "page",
    "get_buffered_events",
    "flush",
    "start_anonymous_session",
    "get_access_token",
    "update_session_metadata",
    "transfer_anonymous_session",
    "set_consent",
    "get_consent",
)
"""The page tracker's methods, also reachable as functions of this module."""


def _page_method(name: str):
    """A module function that calls the page tracker's method `name`."""

    def call(*args, **kwargs):
        return getattr(get_tracker(), name)(*args, **kwargs)

    return call


for _name in API:
    globals()[_name] = _page_method(_name)
