"""The core's unit tests again, under the MicroPython WebAssembly runtime from npm (in Node)."""

import pathlib
import shutil
import subprocess

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_unit_tests_pass_under_micropython():
    node = shutil.which("node")
    assert node, "node is required to run the MicroPython tier"
    result = subprocess.run(
        [
            node,
            "tests/micropython_run.mjs",
            "tests/unit/portable_runner.py",
            "tracker",
            "tests/unit",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    summary = [line for line in output.splitlines() if line.startswith("micropython: ")]
    expected = sum(
        path.read_text().count("\ndef test_") for path in (ROOT / "tests/unit").glob("test_*.py")
    )
    assert summary and summary[-1] == "micropython: %d passed, 0 failed" % expected, output
