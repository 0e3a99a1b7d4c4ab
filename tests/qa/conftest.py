"""QA toolkit tier: the tracker_qa plugin's fixtures against the demo site served by the real
collector, on both runtimes.

The browser tier's server, Chromium and runtime fixtures are reused; the plugin's fixtures
are imported here (installed, the package registers them through its ``pytest11`` entry
point instead).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from browser.conftest import base_url, browser_type_launch_args, collector, runtime
from browser.support import READY_TIMEOUT_MS, PageLog
from playwright.sync_api import Page

from tracker_qa.plugin import (
    tracker_capture,
    tracker_collector,
    tracker_cookie_names,
    tracker_faults,
    tracker_global,
    tracker_state,
)

__all__ = [
    "base_url",
    "browser_type_launch_args",
    "collector",
    "page_log",
    "runtime",
    "tracker_capture",
    "tracker_collector",
    "tracker_cookie_names",
    "tracker_faults",
    "tracker_global",
    "tracker_state",
]


@pytest.fixture(autouse=True)
def page_log(request: pytest.FixtureRequest) -> Iterator[PageLog | None]:
    """Tests with a page fail if it saw an uncaught error (the tracker never throws)."""
    if "page" not in request.fixturenames:
        yield None
        return
    page: Page = request.getfixturevalue("page")
    page.set_default_timeout(READY_TIMEOUT_MS)
    log = PageLog(page)
    yield log
    log.assert_no_page_errors()
