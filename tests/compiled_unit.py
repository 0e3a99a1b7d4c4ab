"""Compile the core's unit tests with the tracker to JavaScript (as build.py compiles the
tracker) and run them in Node: `python tests/compiled_unit.py` prints one line per failure
and `compiled: N passed, N failed`; KEEP=dir keeps the JavaScript there to read."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from compiled.transpile import transpile  # noqa: E402

UNIT = ROOT / "tests" / "unit"

RUNNER = ROOT / "tests" / "compiled_run.mjs"


def build(work: pathlib.Path) -> pathlib.Path:
    """Transpile tracker/ and tests/unit into `work`; the runner's path."""
    tests = sorted(p.stem for p in UNIT.glob("test_*.py"))
    entry = "import pycompat\n" + "".join("import %s\n" % name for name in tests)
    files = [UNIT / "fakes.py"] + [UNIT / (name + ".py") for name in tests]
    # -k: the tests pass keyword arguments to their fakes (the tracker's own calls are
    # made positional by compiled/keywords.py, so build.py compiles without it).
    target = transpile([ROOT / "tracker"], entry, work, ["-da", "-k"], files)
    imports = ["import * as m_%s from './%s.js';" % (n, n) for n in tests]
    table = "const MODULES = {%s};" % ", ".join("'%s': m_%s" % (n, n) for n in tests)
    runner = target / "run_tests.mjs"
    text = RUNNER.read_text(encoding="utf-8")
    runner.write_text(text.replace("/*IMPORTS*/", "\n".join(imports + [table])), encoding="utf-8")
    return runner


def main() -> int:
    keep = os.environ.get("KEEP")
    with tempfile.TemporaryDirectory() as tmp:
        runner = build(pathlib.Path(keep or tmp))
        node = shutil.which("node") or "node"
        return subprocess.run([node, str(runner)]).returncode


if __name__ == "__main__":
    raise SystemExit(main())
