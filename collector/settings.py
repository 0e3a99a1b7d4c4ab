"""Where the collector finds its files and database, with defaults relative to the repo root."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["REPO_ROOT", "Settings"]

_CHECKOUT = Path(__file__).resolve().parent.parent
REPO_ROOT = _CHECKOUT if (_CHECKOUT / "build.py").is_file() else Path.cwd()
"""The repository root, found from this package's location; when the collector is installed
from the wheel (no clone around it), the working directory, where ``web/`` and ``dist/`` are
then looked up by default."""


@dataclass(frozen=True)
class Settings:
    """Everything the app needs to know; built by ``__main__`` from flags or by tests directly."""

    db: Path = Path("tracker.db")
    web_dir: Path = field(default_factory=lambda: REPO_ROOT / "web")
    dist_dir: Path = field(default_factory=lambda: REPO_ROOT / "dist")
    dist_max_age: int = 600
    """Seconds a browser may reuse an unversioned /dist/ file unasked (0: always revalidate)."""
