"""Runs every `test_*` function of tests/unit without pytest, for MicroPython.

Prints one line per failure and a closing `N passed, N failed` line; exits 1 on failure.
"""

import os
import sys

HERE = "/tests/unit"


def run():
    sys.path.insert(0, HERE)
    passed = 0
    failed = 0
    for filename in sorted(os.listdir(HERE)):
        if not (filename.startswith("test_") and filename.endswith(".py")):
            continue
        module = __import__(filename[:-3])
        for name in sorted(dir(module)):
            if not name.startswith("test_"):
                continue
            try:
                getattr(module, name)()
                passed += 1
            except Exception as exc:
                failed += 1
                print("FAILED %s::%s: %s %r" % (filename, name, type(exc).__name__, exc.args))
                sys.print_exception(exc)
    print("micropython: %d passed, %d failed" % (passed, failed))
    if failed or not passed:
        raise SystemExit(1)


run()
