"""Runs every firmware unittest and prints one JSON line per test, under CPython or MicroPython.

    cd firmware && /usr/bin/python3 -m tests.run_suite     (CPython)
    npm test runs it on the MicroPython VM too (test/firmware/micropython-suite.test.ts)

Each test gets a fresh TestCase instance, setUp, the test, tearDown and cleanups, as CPython's
unittest does. Lines: {"id": "tests.test_x.Class.test_y", "outcome": "ok" | "fail" | "error" |
"skip", "detail": "..."}; a module that raises unittest.SkipTest on import is one "skip" line with
its module name as the id. The last line is {"done": true, "interpreter": ..., "counts": {...}}.
"""
import json
import os
import sys

MICROPYTHON = sys.implementation.name == "micropython"
TESTS = "tests"  # run from firmware/, as `python3 -m unittest discover` is
if MICROPYTHON:
    sys.path.insert(0, TESTS + "/mp")  # tempfile, shutil and the unittest additions (tests/mp/)
    import unittest_extras  # noqa: F401  (adds what MicroPython's unittest lacks)
import unittest  # noqa: E402


def _detail(e):
    if MICROPYTHON:
        import io
        buf = io.StringIO()
        sys.print_exception(e, buf)
        return buf.getvalue()[-3000:]
    import traceback
    return "".join(traceback.format_exception(type(e), e, e.__traceback__))[-3000:]


def _run_cpython(cls, name):
    result = unittest.TestResult()
    cls(name).run(result)
    for kind, entries in (("skip", result.skipped), ("error", result.errors), ("fail", result.failures)):
        if entries:
            return kind, entries[0][1]
    return "ok", ""


def _run_micropython(cls, name):
    case = cls()
    try:
        try:
            case.setUp()
            getattr(case, name)()
        finally:
            try:
                case.tearDown()
            finally:
                case.doCleanups()
    except unittest.SkipTest as e:
        return "skip", str(e)
    except AssertionError as e:
        return "fail", _detail(e)
    except Exception as e:
        return "error", _detail(e)
    return "ok", ""


def _emit(record):
    print(json.dumps(record))


def _test_classes(module, module_name):
    for attr in sorted(dir(module)):
        obj = getattr(module, attr)
        if isinstance(obj, type) and issubclass(obj, unittest.TestCase) and obj.__module__ == module_name:
            yield obj


def main():
    counts = {"ok": 0, "fail": 0, "error": 0, "skip": 0}
    run = _run_micropython if MICROPYTHON else _run_cpython
    for filename in sorted(os.listdir(TESTS)):
        if not (filename.startswith("test_") and filename.endswith(".py")):
            continue
        module_name = "tests." + filename[:-3]
        try:
            __import__(module_name)
        except unittest.SkipTest as e:
            _emit({"id": module_name, "outcome": "skip", "detail": str(e)})
            counts["skip"] += 1
            continue
        module = sys.modules[module_name]
        for cls in _test_classes(module, module_name):
            for name in sorted(n for n in dir(cls) if n.startswith("test") and callable(getattr(cls, n))):
                outcome, detail = run(cls, name)
                counts[outcome] += 1
                _emit({"id": "%s.%s.%s" % (module_name, cls.__name__, name), "outcome": outcome, "detail": detail})
    _emit({"done": True, "interpreter": sys.implementation.name, "counts": counts})
    return counts["fail"] + counts["error"] == 0


if __name__ == "__main__":
    if not main():
        sys.exit(1)
