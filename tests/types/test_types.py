"""The TypeScript declarations (loader/tracker.d.ts, shipped as dist/tracker.d.ts) checked
with the pinned TypeScript: an example using the whole API type-checks under `--strict`, and
every wrong use in must_fail.ts is rejected on its own line."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
DECLARATIONS = ROOT / "loader" / "tracker.d.ts"
TSC = ROOT / "node_modules" / "typescript" / "bin" / "tsc"


def tsc(source: Path) -> subprocess.CompletedProcess[str]:
    node = shutil.which("node")
    assert node, "node is needed to run tsc"
    assert TSC.exists(), f"{TSC} is missing: run `npm ci` (typescript is pinned in package.json)"
    return subprocess.run(
        [
            node,
            str(TSC),
            "--noEmit",
            "--strict",
            "--pretty",
            "false",
            str(DECLARATIONS),
            str(source),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_typescript_is_the_pinned_version() -> None:
    import json

    pinned = json.loads((ROOT / "package.json").read_text())["devDependencies"]["typescript"]
    installed = json.loads((TSC.parents[1] / "package.json").read_text())["version"]
    assert installed == pinned


def test_example_using_the_whole_api_type_checks() -> None:
    result = tsc(HERE / "example.ts")
    assert result.returncode == 0, result.stdout + result.stderr


def test_declarations_cover_every_method_of_the_loader() -> None:
    """Every command the tracker dispatches is declared (and the spec's consent and
    anonymous-session methods besides)."""
    from tracker.dispatch import METHODS

    text = DECLARATIONS.read_text()
    declared = set(re.findall(r"^    (\w+)\(", text, re.M))
    assert set(METHODS) - declared == set()
    spec_only = {
        "setConsent",
        "getConsent",
        "startAnonymousSession",
        "getAccessToken",
        "updateSessionMetadata",
        "transferAnonymousSession",
    }
    assert spec_only <= declared


def test_wrong_uses_fail_each_on_its_line() -> None:
    source = HERE / "must_fail.ts"
    expected = {
        number
        for number, line in enumerate(source.read_text().splitlines(), 1)
        if "// error" in line and not line.startswith("//")
    }
    result = tsc(source)
    assert result.returncode != 0
    name = re.escape(source.name)
    reported = {int(n) for n in re.findall(rf"{name}\((\d+),\d+\): error", result.stdout)}
    assert reported == expected, result.stdout
