"""The code that goes onto the ESP32 must stay within what MicroPython offers. No MicroPython
interpreter here, so this reads the source: imports, f-strings and a few CPython-only APIs."""
import ast
import os
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HOST_ONLY = {os.path.join("canplug", "hal", "sim.py"), os.path.join("canplug", "hal", "clocks.py")}
MICROPYTHON_MODULES = {"struct", "math", "json", "os", "array", "time", "machine", "dht", "asyncio",
                       "uasyncio", "gc", "micropython", "sys", "errno"}
CPYTHON_ONLY_CALLS = {"fromhex", "hex", "to_bytes", "from_bytes", "format_map", "casefold", "removeprefix"}


def device_files():
    yield os.path.join(ROOT, "main.py")
    for folder, _, names in os.walk(os.path.join(ROOT, "canplug")):
        for name in names:
            path = os.path.join(folder, name)
            if name.endswith(".py") and os.path.relpath(path, ROOT) not in HOST_ONLY:
                yield path


class MicroPythonCompatTest(unittest.TestCase):
    def test_device_code_uses_only_what_micropython_has(self):
        problems = []
        for path in device_files():
            rel = os.path.relpath(path, ROOT)
            with open(path) as f:
                tree = ast.parse(f.read(), rel)
            for node in ast.walk(tree):
                where = "%s:%d" % (rel, getattr(node, "lineno", 0))
                if isinstance(node, ast.JoinedStr):
                    problems.append(where + " f-string")
                elif isinstance(node, (ast.Import, ast.ImportFrom)):
                    names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                    for name in names:
                        top = name.split(".")[0]
                        if top != "canplug" and top not in MICROPYTHON_MODULES:
                            problems.append("%s imports %s" % (where, name))
                        if name.startswith(("canplug.hal.sim", "canplug.hal.clocks", "host")):
                            problems.append("%s imports host-only %s" % (where, name))
                elif isinstance(node, ast.Attribute) and node.attr in CPYTHON_ONLY_CALLS:
                    problems.append("%s uses .%s" % (where, node.attr))
                elif isinstance(node, ast.Match):
                    problems.append(where + " match statement")
                elif isinstance(node, ast.AnnAssign) or (isinstance(node, ast.arg) and node.annotation):
                    problems.append(where + " annotation")
        self.assertEqual(problems, [])

    def test_only_the_esp32_board_and_main_touch_machine(self):
        users = []
        for path in device_files():
            with open(path) as f:
                if "import machine" in f.read():
                    users.append(os.path.relpath(path, ROOT))
        self.assertEqual(sorted(users), ["canplug/hal/esp32.py", "main.py"])

    def test_every_device_module_stays_small(self):
        for path in device_files():
            with open(path) as f:
                self.assertLess(len(f.readlines()), 400, path)


if __name__ == "__main__":
    unittest.main()
