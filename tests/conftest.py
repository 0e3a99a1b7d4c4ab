"""Suite-wide ordering and a time-per-tier summary.

Browser tests (and the QA plugin's, which drive a browser too) run last: they are the
slowest tiers, so the fast ones report first, and Playwright's sync API leaves its event
loop registered on the main thread for the rest of the session, which breaks any later
test that calls ``asyncio.run()``.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
BROWSER = TESTS / "browser"
LAST = (BROWSER, TESTS / "qa")
"""Tiers that drive Chromium through Playwright's sync API."""

_seconds: dict[str, float] = defaultdict(float)
_counts: dict[str, int] = defaultdict(int)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: any(Path(str(item.path)).resolve().is_relative_to(d) for d in LAST))


def _tier(nodeid: str) -> str:
    parts = nodeid.split("::")[0].split("/")
    tier = parts[1] if len(parts) > 2 else parts[-1]
    if tier == "browser":
        for runtime in ("micropython", "pyodide"):
            if f"[{runtime}" in nodeid:
                return f"browser ({runtime})"
    return tier


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    tier = _tier(report.nodeid)
    _seconds[tier] += report.duration
    if report.when == "call" or (report.when == "setup" and report.skipped):
        _counts[tier] += 1


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _seconds:
        return
    terminalreporter.write_sep("-", "time per tier (setup + call + teardown)")
    for tier in sorted(_seconds):
        terminalreporter.write_line(f"{tier:32} {_counts[tier]:4d} tests {_seconds[tier]:8.1f}s")
