"""The README's QA example, copied out of the README into a fresh directory and run by pytest
the way a site's team would run it (the plugin loaded as installed, ``--base-url`` at the demo
site served by the real collector), on both runtimes; and the same file against the leaky
page fails with the message the README shows."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
SECTION = "## Testing your site's tracking (QA)"


def readme_example() -> str:
    """The first Python block of the README's QA section."""
    text = README.read_text()
    section = text[text.index(SECTION) :]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "the README's QA section has no python example"
    return match.group(1)


def plugin_args() -> list[str]:
    """Load the plugin by hand unless the installed package registers it already."""
    installed = any(ep.name == "tracker_qa" for ep in entry_points(group="pytest11"))
    return [] if installed else ["-p", "tracker_qa.plugin"]


def run_example(tmp_path: Path, base_url: str, runtime: str, source: str, *args: str) -> str:
    (tmp_path / "test_tracking.py").write_text(source)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")]),
        "TRACKER_QA_RUNTIME": runtime,
    }
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            *plugin_args(),
            "-p",
            "qa.site",
            "--base-url",
            base_url,
            "test_tracking.py",
            "-q",
            *args,
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    return result.stdout + result.stderr


def test_readme_example_passes_on_the_demo_site(
    tmp_path: Path, base_url: str, runtime: str
) -> None:
    source = readme_example()
    count = len(re.findall(r"^def test_", source, re.M))
    output = run_example(tmp_path, base_url, runtime, source)
    assert f"{count} passed" in output and "failed" not in output, output


def test_readme_example_fails_on_the_leaky_page(
    tmp_path: Path, base_url: str, runtime: str
) -> None:
    source = readme_example().replace('PAGE = "/consent.html"', 'PAGE = "/leaky.html"')
    output = run_example(tmp_path, base_url, runtime, source, "-k", "before_consent")
    assert "1 failed" in output, output
    # The page views leak the anonymousId; how many findings depends on how the page's
    # calls interleave with the runtime's start (batching, and on Pyodide the first view may
    # still go out before the page switches to anonymous).
    assert re.search(
        r"AssertionError: user identifiers leaked to the collector \(\d+ findings\) under "
        + re.escape(
            'anonymousTracking={"withServerAnonymisation": true}, stateStorageStrategy=none '
            f"(page {base_url}/leaky.html?runtime={runtime})"
        ),
        output,
    ), output
    assert re.search(
        r'event 1 \(page "Leaky", messageId [0-9a-f-]{36}\): properties\.visitor = "[0-9a-f-]{36}" '
        r"(holds [0-9a-f-]{36}, which looks like a visitor identifier|contains the anonymousId)",
        output,
    ), output
