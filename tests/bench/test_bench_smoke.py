"""The benchmark harness still works: one run of the floor page and one peer, end to end."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists() or shutil.which("npm") is None,
    reason="needs Chromium and npm",
)


def test_bench_runs_floor_and_search_insights(tmp_path):
    cmd = [
        sys.executable,
        "-m",
        "bench",
        "--runs",
        "1",
        "--no-warmup",
        "--calls",
        "100",
        "--systems",
        "floor,search-insights",
        "--port",
        "8737",
        "--proxy-port",
        "8738",
        "--out",
        str(tmp_path),
    ]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]

    result = json.loads((tmp_path / "latest.json").read_text())
    for key in ("floor", "search-insights"):
        system = result["systems"][key]
        assert system["runs"] == 1, system["errors"]
        assert system["metrics"]["bytes"]["median"] > 0
        assert system["metrics"]["cold_ready"]["median"] > 0
        assert system["metrics"]["get"]["median"] > 0
        assert not system["external_requests"]
    assert result["systems"]["search-insights"]["ratios"]["cold ×SI"] == 1.0
    assert "| search-insights" in (tmp_path / "latest.md").read_text()
