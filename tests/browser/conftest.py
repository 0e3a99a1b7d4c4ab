"""Browser tier: the real collector, the system Chromium, every scenario on all three runtimes.

Fixtures:
- ``base_url`` (session): the collector started as a subprocess on a free port with a
  temporary database; ``dist/`` is built first when missing.
- ``runtime``: ``"compiled"``, ``"micropython"`` or ``"pyodide"``; every test takes it
  (directly or via ``tp``), so every scenario runs on each.
- ``page_log``: page errors and console messages of the test's page; the test fails when
  the page saw an uncaught error.
- ``tp``: a :class:`TrackerPage` bound to this test's fresh page and runtime.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from .support import READY_TIMEOUT_MS, PageLog, TrackerPage

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
RUNTIMES = ["compiled", "micropython", "pyodide"]


# --- browser and server ------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "headless": True,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
        ],
    }


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/healthz", timeout=2) as r:
            return bool(r.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@pytest.fixture(scope="session")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real collector on a free port with a fresh database; yields its base URL."""
    if not os.environ.get("TRACKER_TEST_DIST") and not (ROOT / "dist" / "tracker.js").exists():
        subprocess.run([sys.executable, "build.py"], cwd=ROOT, check=True)
    tmp = tmp_path_factory.mktemp("collector")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = tmp / "collector.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "collector",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--db",
                str(tmp / "events.db"),
                # TRACKER_TEST_DIST: serve another build (e.g. one under investigation).
                *(
                    ["--dist", os.environ["TRACKER_TEST_DIST"]]
                    if os.environ.get("TRACKER_TEST_DIST")
                    else []
                ),
            ],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "TRACKER_SECRET": "browser-tests-secret-of-at-least-32-bytes"},
        )
    try:
        deadline = time.monotonic() + 30
        while not _healthy(url):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"collector did not become healthy on {url} "
                    f"(exit {proc.poll()}):\n{log_path.read_text(errors='replace')}"
                )
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def base_url(collector: str) -> str:
    return collector


# Demo pages re-render once a second; leave room for a busy 2-core machine.
expect.set_options(timeout=15_000)


@pytest.fixture(params=RUNTIMES)
def runtime(request: pytest.FixtureRequest) -> str:
    return str(request.param)


# --- page log and driver --------------------------------------------------------------


@pytest.fixture(autouse=True)
def page_log(page: Page) -> Iterator[PageLog]:
    """Every browser test fails if its page saw an uncaught error or rejection."""
    log = PageLog(page)
    yield log
    log.assert_no_page_errors()


@pytest.fixture
def tp(page: Page, base_url: str, runtime: str, page_log: PageLog) -> TrackerPage:
    page.set_default_timeout(READY_TIMEOUT_MS)
    return TrackerPage(page, base_url, runtime, page_log)
