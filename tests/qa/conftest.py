"""QA toolkit tier: the tracker_qa plugin's fixtures against the demo site served by the real
collector, on both runtimes.

The browser tier's server, Chromium and runtime fixtures are reused; the plugin is registered
here as its ``pytest11`` entry point registers it once the package is installed (and left
alone when it already is).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from browser.conftest import base_url, browser_type_launch_args, collector, runtime
from browser.support import READY_TIMEOUT_MS, PageLog
from playwright.sync_api import Page

import tracker_qa.plugin

__all__ = ["base_url", "browser_type_launch_args", "collector", "page_log", "runtime"]


def pytest_configure(config: pytest.Config) -> None:
    if not config.pluginmanager.is_registered(tracker_qa.plugin):
        config.pluginmanager.register(tracker_qa.plugin, "tracker_qa")


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
