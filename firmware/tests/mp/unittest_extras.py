# What the suite uses of CPython's unittest that MicroPython's (micropython-lib) lacks. Test tree only.
import unittest


def _assert_less(self, a, b, msg=None):
    assert a < b, msg or "%r is not less than %r" % (a, b)


def _assert_greater(self, a, b, msg=None):
    assert a > b, msg or "%r is not greater than %r" % (a, b)


def _assert_not_in(self, member, container, msg=None):
    assert member not in container, msg or "%r unexpectedly found in %r" % (member, container)


class _SubTest:
    """CPython reports each failing subtest and goes on; here the first one fails the test,
    with its parameters in the message. The outcome (ok or fail) is the same."""

    def __init__(self, msg, params):
        parts = [repr(msg)] if msg is not None else []
        self.label = " ".join(parts + ["%s=%r" % kv for kv in params.items()])

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None and issubclass(exc_type, AssertionError):
            raise AssertionError("[%s] %s" % (self.label, exc))
        return False


def _sub_test(self, msg=None, **params):
    return _SubTest(msg, params)


unittest.TestCase.assertLess = _assert_less
unittest.TestCase.assertGreater = _assert_greater
unittest.TestCase.assertNotIn = _assert_not_in
unittest.TestCase.subTest = _sub_test
if not hasattr(unittest.TestCase, "setUp"):
    unittest.TestCase.setUp = lambda self: None
    unittest.TestCase.tearDown = lambda self: None
