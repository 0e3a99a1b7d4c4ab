"""The pytest plugin (entry point ``pytest11``): fixtures for testing a site's tracking with
pytest-playwright's ``page``.

- ``tracker_capture``: a :class:`~tracker_qa.capture.Capture` of everything the page sends
  to the collector, answered by routing (no collector server needed);
- ``tracker_state``: call it to read the tracker's state from the page
  (:class:`~tracker_qa.state.PageState`);
- ``tracker_faults``: collector down / failing / slow, storage that throws, cookies blocked.

Override ``tracker_collector`` (the collector URL the site passes as ``collectorUrl``,
default ``"/collect"``), ``tracker_global`` (``data-global``, default ``"tracker"``) or
``tracker_cookie_names`` (the site's ``cookieNames``) in a conftest to match the site.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Page

from .calls import record_calls
from .capture import Capture, CollectorSpec
from .faults import Faults
from .state import PageState, read_state

__all__ = [
    "tracker_capture",
    "tracker_collector",
    "tracker_cookie_names",
    "tracker_faults",
    "tracker_global",
    "tracker_state",
]


@pytest.fixture
def tracker_collector() -> CollectorSpec:
    """The site's ``collectorUrl``: a path (any origin), a full URL, or a URL predicate."""
    return "/collect"


@pytest.fixture
def tracker_global() -> str:
    """The name of the tracker's global on the site's pages."""
    return "tracker"


@pytest.fixture
def tracker_cookie_names() -> dict[str, str]:
    """The site's ``cookieNames`` option, when it renames the tracker's keys."""
    return {}


@pytest.fixture
def tracker_capture(
    page: Page, tracker_collector: CollectorSpec, tracker_global: str
) -> Iterator[Capture]:
    """Every request the test's page sends to the collector, answered 200 by routing."""
    record_calls(page.context, tracker_global)
    capture = Capture(page, tracker_collector, tracker_global).start()
    yield capture
    capture.stop()


@pytest.fixture
def tracker_state(
    page: Page, tracker_global: str, tracker_cookie_names: dict[str, str]
) -> Callable[[], PageState]:
    """``tracker_state()`` reads the tracker's state from the test's page (once ready)."""
    record_calls(page.context, tracker_global)

    def read() -> PageState:
        return read_state(page, tracker_global, tracker_cookie_names)

    return read


@pytest.fixture
def tracker_faults(page: Page, tracker_capture: Capture) -> Faults:
    """Fault switches for the test's page and its collector capture."""
    return Faults(page, tracker_capture)
