"""Build the project's wheel from a copy of its sources, with the pinned frontend.

Building in place would leave ``tracker.egg-info`` (with the ``pytest11`` entry point) at the
repository root, where every later pytest run in the checkout would pick it up.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("pyproject.toml", "README.md", "tracker", "collector", "tracker_qa")


def build_wheel(workdir: Path) -> Path:
    """Build ``tracker-*-py3-none-any.whl`` under ``workdir``; returns its path."""
    src = workdir / "src"
    src.mkdir()
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif path.exists():
            shutil.copy2(path, src / name)
    frontend = Path(sys.executable).with_name("pyproject-build")
    out = workdir / "wheelhouse"
    subprocess.run(
        [str(frontend), "--wheel", "--outdir", str(out), str(src)],
        check=True,
        capture_output=True,
    )
    (wheel,) = out.glob("tracker-*-py3-none-any.whl")
    return wheel
