"""The systems the bench compares: which page loads each and what it needs to exist."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench.prepare import peer_version
from bench.server import BENCH, REPO


@dataclass(frozen=True)
class System:
    """One benchmarked library: its page, label, and the files it depends on."""

    key: str
    label: str
    page: str  # URL path on the bench server
    needs: tuple[Path, ...] = ()  # files that must exist, else the system is n/a
    needs_dist: bool = False
    timeout_s: float = 30.0

    def missing(self) -> list[str]:
        """Paths this system needs that do not exist (relative to the repo)."""
        return [str(p.relative_to(REPO)) for p in self.needs if not p.exists()]


DIST = REPO / "dist"
PEERS = BENCH / "node_modules"

FLOOR = "floor"
MICROPYTHON = "micropython"
SEARCH_INSIGHTS = "search-insights"
OURS = "ours-compiled"  # the default tag: the tracker compiled to JavaScript
OURS_MICROPYTHON = "ours-micropython"
SNOWPLOW = "snowplow"

SYSTEMS: list[System] = [
    System(FLOOR, "vanilla JS floor (1 cookie)", "/bench/floor.html"),
    System(
        MICROPYTHON,
        "bare MicroPython runtime (1 cookie)",
        "/bench/micropython.html",
        needs=(DIST / "manifest.json",),  # names the hashed runtime files
        needs_dist=True,
    ),
    System(
        SEARCH_INSIGHTS,
        f"search-insights {peer_version('search-insights')}",
        "/bench/search-insights.html",
        needs=(PEERS / "search-insights" / "dist" / "search-insights.min.js",),
    ),
    System(
        "segment",
        f"@segment/analytics-next {peer_version('@segment/analytics-next')}",
        "/bench/segment.html",
        needs=(BENCH / ".build" / "segment" / "segment.js",),
    ),
    System(
        SNOWPLOW,
        f"@snowplow/browser-tracker {peer_version('@snowplow/browser-tracker')}",
        "/bench/snowplow.html",
        needs=(BENCH / ".build" / "snowplow" / "snowplow.js",),
    ),
    System(
        OURS,
        "tracker, compiled to JS (default)",
        "/bench/ours-compiled.html",
        needs=(DIST / "tracker.js",),
    ),
    System(
        OURS_MICROPYTHON,
        "tracker on MicroPython",
        "/bench/ours-micropython.html",
        needs=(DIST / "tracker.js",),
        needs_dist=True,
    ),
    System(
        "ours-micropython-hints",
        "tracker on MicroPython + preload hints",
        "/bench/ours-micropython-hints.html",
        needs=(DIST / "tracker.js",),
        needs_dist=True,
    ),
    System(
        "ours-pyodide",
        "tracker on Pyodide",
        "/bench/ours-pyodide.html",
        needs=(DIST / "tracker.js",),
        needs_dist=True,
        timeout_s=90.0,
    ),
    System(
        "pyscript",
        "tracker via PyScript (MicroPython)",
        "/bench/pyscript.html",
        needs=(DIST / "manifest.json",),
        needs_dist=True,
        timeout_s=60.0,
    ),
]

BY_KEY = {s.key: s for s in SYSTEMS}


def select(keys: list[str] | None) -> list[System]:
    """The systems named in `keys` (all when None), in the canonical order."""
    if not keys:
        return list(SYSTEMS)
    unknown = [k for k in keys if k not in BY_KEY]
    if unknown:
        raise SystemExit(f"unknown system(s): {', '.join(unknown)}; know {', '.join(BY_KEY)}")
    return [s for s in SYSTEMS if s.key in keys]
