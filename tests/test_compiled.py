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


def _lowering():
    sys.path.insert(0, str(ROOT))
    try:
        from compiled import keywords, lower
    finally:
        sys.path.remove(str(ROOT))
    return keywords, lower


def test_the_tracker_stays_inside_the_portable_subset():
    keywords, lower = _lowering()
    paths = sorted(p for p in (ROOT / "tracker").glob("*.py") if p.name != "__init__.py")
    signatures = keywords.Signatures([path.read_text() for path in paths])
    for path in paths:
        lower.lower_source(path.read_text(), "tracker." + path.stem, path.name, True, signatures)
    bad_sources = (
        "async def f():\n    pass\n",
        "def f(**kw):\n    pass\n",
        "g = globals()\n",
        "print('x', end='')\n",
    )
    for bad in bad_sources:
        try:
            lower.lower_source(bad, "tracker.x", "x.py", True, signatures)
        except lower.SubsetError as exc:
            assert "x.py:1" in str(exc)
        else:
            raise AssertionError("accepted: " + bad)


def test_keyword_arguments_become_positional_with_defaults_filled_in():
    keywords, lower = _lowering()
    source = (
        "class Box:\n"
        "    def __init__(self, a, b=1, c=None, d='x'):\n"
        "        pass\n"
        "    def get(self, key, memory=True):\n"
        "        pass\n"
        "def get(key):\n"
        "    pass\n"
        "box = Box(0, c=2)\n"
        "box.get('k', memory=False)\n"
    )
    lowered = lower.lower_source(source, "tracker.x", "x.py", True, keywords.Signatures([source]))
    assert "box = Box(0, 1, 2)" in lowered
    assert "box.get('k', False)" in lowered
