"""The core's unit tests again, compiled to JavaScript with the tracker (Transcrypt, as
build.py compiles it) and run in Node; compiling also checks the portable subset
(compiled/lower.py refuses what Transcrypt cannot translate faithfully)."""

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent

# Unit tests that still fail on the compiled build (issue #21 is open): the list must match
# exactly, so a new failure fails this test and a fixed one must be taken off the list.
KNOWN_FAILURES = {
    "test_anonymous_modes::test_clear_user_data_removes_every_identifier_and_memory_unless_preserved",
    "test_anonymous_session::test_failures_warn_once_and_answer_none",
    "test_anonymous_session::test_js_commands_reach_the_component",
    "test_anonymous_session::test_tokens_are_renewed_before_they_expire",
    "test_anonymous_session::test_update_metadata_patches_with_the_session_token",
    "test_consent::test_granted_is_stored_as_the_word_for_a_year_with_cookie_attributes",
    "test_delivery::test_beacon_method_posts_text_plain_and_get_sends_one_pixel_per_event",
    "test_events::test_recording_an_event_reads_the_cookie_jar_once",
    "test_segment_identity::test_group_sets_id_and_traits",
}


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
    failed = {
        line[len("FAILED ") :].split(": ", 1)[0]
        for line in output.splitlines()
        if line.startswith("FAILED ")
    }
    assert failed == KNOWN_FAILURES, output
    passed = expected - len(KNOWN_FAILURES)
    assert summary and summary[-1] == "compiled: %d passed, %d failed" % (
        passed,
        len(KNOWN_FAILURES),
    ), output


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
