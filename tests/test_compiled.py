"""The core's unit tests again, compiled to JavaScript with the tracker (Transcrypt, as
build.py compiles it) and run in Node; compiling also checks the portable subset
(compiled/lower.py refuses what Transcrypt cannot translate faithfully)."""

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_unit_tests_pass_compiled_to_javascript():
    result = subprocess.run(
        [sys.executable, "tests/compiled_unit.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = result.stdout + result.stderr
    summary = [line for line in output.splitlines() if line.startswith("compiled: ")]
    expected = sum(
        path.read_text().count("\ndef test_") for path in (ROOT / "tests/unit").glob("test_*.py")
    )
    failed = [line for line in output.splitlines() if line.startswith("FAILED ")]
    assert failed == [], output
    assert summary and summary[-1] == "compiled: %d passed, 0 failed" % expected, output


def test_the_tracker_stays_inside_the_portable_subset():
    sys.path.insert(0, str(ROOT))
    try:
        from compiled.lower import SubsetError, lower_source
    finally:
        sys.path.remove(str(ROOT))
    for path in sorted((ROOT / "tracker").glob("*.py")):
        if path.name == "__init__.py":
            continue
        lower_source(path.read_text(), "tracker." + path.stem, path.name)
    for bad in ("async def f():\n    pass\n", "def f(**kw):\n    pass\n", "g = globals()\n"):
        try:
            lower_source(bad, "tracker.x", "x.py")
        except SubsetError as exc:
            assert "x.py:1" in str(exc)
        else:
            raise AssertionError("accepted: " + bad)
