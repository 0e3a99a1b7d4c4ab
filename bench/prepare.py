"""Get everything the pages load in place: peers from npm, their bundles, and dist/."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from bench.server import BENCH, REPO

BUILD = BENCH / ".build"
ENTRIES = BENCH / "entries"


def _run(cmd: list[str], cwd: Path) -> None:
    print(f"bench: $ {' '.join(cmd)}", flush=True)
    subprocess.run(cmd, cwd=cwd, check=True)


def peers_installed() -> bool:
    """True when every dependency pinned in bench/package.json is in bench/node_modules."""
    deps = json.loads((BENCH / "package.json").read_text())["dependencies"]
    mods = BENCH / "node_modules"
    for name, version in deps.items():
        pkg = mods / name / "package.json"
        if not pkg.exists() or json.loads(pkg.read_text()).get("version") != version:
            return False
    return True


def install_peers() -> None:
    """`npm ci --prefix bench` unless the pinned peers are already installed."""
    if not peers_installed():
        _run(["npm", "ci", "--prefix", str(BENCH), "--no-audit", "--no-fund"], cwd=REPO)


def bundle_peers() -> None:
    """Bundle each bench/entries/*.js with the pinned esbuild (ESM, code splitting)."""
    esbuild = BENCH / "node_modules" / ".bin" / "esbuild"
    for entry in sorted(ENTRIES.glob("*.js")):
        out = BUILD / entry.stem
        shutil.rmtree(out, ignore_errors=True)
        subprocess.run(
            [
                str(esbuild),
                str(entry),
                "--bundle",
                "--splitting",
                "--format=esm",
                "--minify",
                "--target=es2020",
                f"--outdir={out}",
                "--entry-names=[name]",
                "--chunk-names=[name]-[hash]",
                "--log-level=warning",
            ],
            cwd=BENCH,
            check=True,
        )


def peer_version(name: str) -> str:
    """The pinned version of an npm peer, from bench/package.json."""
    return json.loads((BENCH / "package.json").read_text())["dependencies"][name]


def build_dist(force: bool = False) -> str | None:
    """Run build.py when dist/ is missing (or `force`); returns why it could not, or None."""
    if (REPO / "dist" / "tracker.js").exists() and not force:
        return None
    if not (REPO / "build.py").exists():
        return "build.py does not exist yet"
    if not (REPO / "node_modules").exists():
        _run(["npm", "ci", "--no-audit", "--no-fund"], cwd=REPO)
    try:
        _run([sys.executable, "build.py"], cwd=REPO)
    except subprocess.CalledProcessError as exc:
        return f"build.py failed ({exc.returncode})"
    return None
