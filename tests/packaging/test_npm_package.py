"""`npm pack`: a tarball of the browser build (dist/, type declarations) as web teams expect."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tarball(tmp_path_factory: pytest.TempPathFactory) -> tarfile.TarFile:
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed")
    if not (ROOT / "dist" / "manifest.json").exists():
        subprocess.run([sys.executable, "build.py"], cwd=ROOT, check=True, capture_output=True)
    out = tmp_path_factory.mktemp("npm")
    # --ignore-scripts: the prepack script would rebuild dist/, which is current already.
    reply = subprocess.run(
        [npm, "pack", "--ignore-scripts", "--json", "--pack-destination", str(out)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    (packed,) = json.loads(reply.stdout)
    return tarfile.open(out / packed["filename"])


def test_tarball_holds_the_build_and_nothing_else(tarball: tarfile.TarFile) -> None:
    names = {m.name.removeprefix("package/") for m in tarball.getmembers() if m.isfile()}
    built = {p.relative_to(ROOT).as_posix() for p in (ROOT / "dist").rglob("*") if p.is_file()}
    assert {n for n in names if n.startswith("dist/")} == built
    assert names - built <= {"package.json", "README.md", "LICENSE"}
    manifest = json.loads(tarball.extractfile("package/dist/manifest.json").read())  # type: ignore[union-attr]
    for hashed in manifest.values():
        assert any(n.startswith("dist/" + hashed) for n in names), hashed
    if (ROOT / "loader" / "tracker.d.ts").exists():
        assert "dist/tracker.d.ts" in names


def test_package_json_points_at_the_loader(tarball: tarfile.TarFile) -> None:
    meta = json.loads(tarball.extractfile("package/package.json").read())  # type: ignore[union-attr]
    assert meta["main"] == "dist/tracker.js"
    assert meta["types"] == "dist/tracker.d.ts"
    assert meta["exports"]["."]["default"] == "./dist/tracker.js"
    assert meta["exports"]["."]["types"] == "./dist/tracker.d.ts"
    assert meta["exports"]["./dist/*"] == "./dist/*"
    assert meta["files"] == ["dist/"]
    assert "dependencies" not in meta, "the runtimes are inside dist/, consumers install nothing"
    assert meta.get("private") is not True
