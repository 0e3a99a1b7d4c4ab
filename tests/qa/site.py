"""A pytest plugin for running the README's QA example as a site's own suite would (``-p
qa.site``): the system Chromium, and the demo pages switched to the runtime named by
``TRACKER_QA_RUNTIME`` (their ``?runtime=`` parameter, set before the page's scripts run)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
from browser.conftest import CHROMIUM
from playwright.sync_api import BrowserContext

_RUNTIME_JS = """
(runtime => {
  if (!/^https?:$/.test(location.protocol)) return;
  const url = new URL(location.href);
  if (url.searchParams.has('runtime')) return;
  url.searchParams.set('runtime', runtime);
  history.replaceState(history.state, '', url.pathname + url.search + url.hash);
})(%s);
"""


class Overrides:
    """Registered at configure time, after pytest-playwright, so its fixtures win."""

    @pytest.fixture(scope="session")
    @classmethod
    def browser_type_launch_args(cls, browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
        return {
            **browser_type_launch_args,
            "executable_path": CHROMIUM,
            "args": ["--no-sandbox", "--disable-gpu", "--no-first-run"],
        }

    @pytest.fixture(autouse=True)
    def demo_runtime(self, context: BrowserContext) -> Iterator[None]:
        runtime = os.environ.get("TRACKER_QA_RUNTIME")
        if runtime:
            context.add_init_script(_RUNTIME_JS % json.dumps(runtime))
        context.set_default_timeout(60_000)
        yield


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(Overrides(), "qa-site-overrides")
