"""The code that goes onto the ESP32 must stay within what MicroPython offers. The suite also runs on
the MicroPython VM (test/firmware/); this static check reads the source, so that a known difference
fails fast on CPython alone: imports, f-strings, a few CPython-only APIs."""
import os
import unittest

try:
    import ast
except ImportError:  # MicroPython: no ast; there the device code runs for real instead
    ast = None

HOST_ONLY = {"canplug/hal/sim.py", "canplug/hal/clocks.py"}
MICROPYTHON_MODULES = {"struct", "math", "json", "os", "array", "time", "machine", "dht", "asyncio",
                       "uasyncio", "gc", "micropython", "sys", "errno", "hashlib", "binascii"}
CPYTHON_ONLY_CALLS = {"fromhex", "hex", "format_map", "casefold", "removeprefix", "bit_length"}
POSITIONAL_ONLY_CALLS = {"to_bytes", "from_bytes"}  # MicroPython takes (length, byteorder) positionally, no signed=


def _python_files(folder):
    for name in sorted(os.listdir(folder)):
        path = folder + "/" + name
        if name.endswith(".py"):
            yield path
        elif "." not in name and name != "__pycache__":
            for inner in _python_files(path):
                yield inner


def device_files():
    """Paths relative to firmware/ of everything that goes onto the socket."""
    yield "main.py"
    yield "boot_slots.py"
    for path in _python_files("canplug"):
        if path not in HOST_ONLY:
            yield path


# What the MicroPython VM taught (its "differences from CPython" list is the reference), as source rules.
BUILTIN_TYPES = {"Exception", "BaseException", "ValueError", "TypeError", "OSError", "RuntimeError", "KeyError",
                 "IndexError", "object", "dict", "list", "tuple", "bytes", "bytearray", "str", "int", "float"}
NOT_IN_MICROPYTHON_STR = {"ljust", "rjust", "center", "zfill", "expandtabs", "swapcase", "title"}


def micropython_problems(source, rel="<source>"):
    """Constructs in `source` that MicroPython does not have or runs differently, one line each."""
    problems = []
    for node in ast.walk(ast.parse(source, rel)):
        where = "%s:%d" % (rel, getattr(node, "lineno", 0))
        if isinstance(node, ast.JoinedStr):
            problems.append(where + " f-string")
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            for name in names:
                top = name.split(".")[0]
                if top not in ("canplug", "boot_slots") and top not in MICROPYTHON_MODULES:
                    problems.append("%s imports %s" % (where, name))
                if name.startswith(("canplug.hal.sim", "canplug.hal.clocks", "host")):
                    problems.append("%s imports host-only %s" % (where, name))
        elif isinstance(node, ast.Attribute):
            base = node.value.id if isinstance(node.value, ast.Name) else None
            if node.attr in CPYTHON_ONLY_CALLS:
                problems.append("%s uses .%s" % (where, node.attr))
            elif node.attr == "__init__" and base in BUILTIN_TYPES:
                # MicroPython's built-in types have no __init__ to call: AttributeError at run time
                problems.append("%s calls %s.__init__ (use super().__init__)" % (where, base))
            elif base == "struct" and node.attr == "error":
                problems.append("%s catches struct.error (MicroPython raises ValueError)" % where)
            elif node.attr in NOT_IN_MICROPYTHON_STR:
                problems.append("%s uses str.%s" % (where, node.attr))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in ("startswith", "endswith") and len(node.args) > 1:
                problems.append("%s %s() with start/end indices" % (where, node.func.attr))
            elif node.func.attr in POSITIONAL_ONLY_CALLS and node.keywords:
                problems.append("%s %s() with keyword arguments" % (where, node.func.attr))
        elif isinstance(node, ast.Slice) and node.step is not None:
            problems.append(where + " slice with a step (not on MicroPython's bytes and arrays)")
        elif isinstance(node, ast.ClassDef) and len(node.bases) > 1:
            problems.append(where + " multiple inheritance (MicroPython's MRO and super() differ)")
        elif isinstance(node, ast.FunctionDef) and node.name == "__del__":
            problems.append(where + " __del__ (never called on MicroPython)")
        elif isinstance(node, ast.Raise) and node.cause is not None:
            problems.append(where + " raise ... from (no exception chaining on MicroPython)")
        elif isinstance(node, ast.Match):
            problems.append(where + " match statement")
        elif isinstance(node, ast.AnnAssign) or (isinstance(node, ast.arg) and node.annotation):
            problems.append(where + " annotation")
    return problems


class MicroPythonCompatTest(unittest.TestCase):
    def setUp(self):
        if ast is None:
            self.skipTest("static check of the source needs CPython's ast")

    def test_device_code_uses_only_what_micropython_has(self):
        problems = []
        for rel in device_files():
            with open(rel) as f:
                problems.extend(micropython_problems(f.read(), rel))
        self.assertEqual(problems, [])

    def test_the_check_catches_what_the_vm_found(self):
        # Each of these ran on CPython and failed on the MicroPython VM (or would).
        cases = {
            "class E(Exception):\n    def __init__(self, d):\n        Exception.__init__(self, d)\n": "Exception.__init__",
            "try:\n    x()\nexcept struct.error:\n    pass\n": "struct.error",
            "b = data[::2]\n": "slice with a step",
            "s.endswith('x', 2)\n": "endswith",
            "s = name.ljust(8)\n": "str.ljust",
            "class A(B, C):\n    pass\n": "multiple inheritance",
            "raise ValueError('x') from e\n": "raise ... from",
            "class A:\n    def __del__(self):\n        pass\n": "__del__",
            "n = int.from_bytes(b, byteorder='little', signed=True)\n": "from_bytes() with keyword",
        }
        for source, expected in cases.items():
            with self.subTest(expected):
                problems = micropython_problems(source)
                self.assertEqual(len(problems), 1, problems)
                self.assertIn(expected, problems[0])
        self.assertEqual(micropython_problems("class E(Exception):\n    def __init__(self, d):\n"
                                              "        super().__init__(d)\n"), [])


class DeviceFilesTest(unittest.TestCase):
    def test_only_the_esp32_board_and_main_touch_machine(self):
        users = []
        for path in device_files():
            with open(path) as f:
                if "import machine" in f.read():
                    users.append(path)
        self.assertEqual(sorted(users), ["canplug/esp32_main.py", "canplug/hal/esp32.py", "main.py"])

    def test_every_device_module_stays_small(self):
        for path in device_files():
            with open(path) as f:
                self.assertLess(len(f.readlines()), 400, path)


if __name__ == "__main__":
    unittest.main()
