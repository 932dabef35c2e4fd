"""host/run.py as a process: its command line, the stdin control channel and the UNIX socket."""
import unittest

try:
    import subprocess
except ImportError:  # MicroPython: no processes
    raise unittest.SkipTest("needs subprocess (host/run.py is a CPython program)")
import hashlib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import socket  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

RUN = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "host", "run.py")


def start(*args):
    return subprocess.Popen([sys.executable, RUN, "--interface", "virtual", "--channel", "cli-%d" % os.getpid()]
                            + list(args), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, bufsize=1)


def stop(proc):
    proc.kill()
    proc.wait()
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream and not stream.closed:
            stream.close()


def ask(proc, line):
    proc.stdin.write(line + "\n")
    proc.stdin.flush()
    return json.loads(proc.stdout.readline())


class RunnerCliTest(unittest.TestCase):
    def test_control_lines_change_the_simulation_and_quit_ends_the_process(self):
        proc = start("--node", "9", "--humidity", "50", "--set", "power_on_state=1", "--set", "dht_period_ms=1000")
        self.addCleanup(stop, proc)
        ready = json.loads(proc.stdout.readline())
        self.assertEqual((ready["event"], ready["node"], ready["protocol"]), ("ready", 9, "v1"))
        deadline = time.monotonic() + 5
        while not ask(proc, "status")["relay"] and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertTrue(ask(proc, "status")["relay"], "power-on state 'on' closed the relay")
        self.assertEqual(ask(proc, "humidity 90"), {"ok": True, "humidity": 90.0})
        deadline = time.monotonic() + 3
        status = ask(proc, "status")
        while status["relay"] and time.monotonic() < deadline:
            time.sleep(0.1)
            status = ask(proc, "status")
        self.assertEqual((status["relay"], status["humidity_latched"]), (False, True))
        self.assertEqual(ask(proc, "humidity lots")["ok"], False)
        self.assertEqual(ask(proc, "quit"), {"ok": True, "quit": True})
        self.assertEqual(proc.wait(10), 0)

    def test_control_socket_and_bad_config_refused_with_the_reason(self):
        path = os.path.join(tempfile.mkdtemp(), "node.sock")
        proc = start("--control-socket", path)
        self.addCleanup(stop, proc)
        proc.stdout.readline()
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(path)
            s.sendall(b"load 920\nstatus\n")
            f = s.makefile()
            self.assertEqual(json.loads(f.readline()), {"ok": True, "load": 920.0})
            self.assertEqual(json.loads(f.readline())["ok"], True)
        proc.stdin.close()  # end of stdin does not stop the node
        time.sleep(0.3)
        self.assertIsNone(proc.poll())
        proc.terminate()
        self.assertEqual(proc.wait(10), 0)
        bad = subprocess.run([sys.executable, RUN, "--interface", "virtual", "--channel", "x", "--node", "70"],
                             capture_output=True, text=True, timeout=20)
        self.assertNotEqual(bad.returncode, 0)
        self.assertIn("node_id: 70", bad.stderr)


    def test_a_pending_update_boots_on_trial_and_without_a_gateway_rolls_back_by_resetting_in_place(self):
        flash = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, flash, True)
        firmware = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        slot = os.path.join(flash, "fw", "a")
        shutil.copytree(os.path.join(firmware, "canplug"), os.path.join(slot, "canplug"),
                        ignore=shutil.ignore_patterns("__pycache__"))
        init = os.path.join(slot, "canplug", "__init__.py")
        with open(init) as f:
            text = f.read().replace("FIRMWARE_VERSION = (1, 0)", "FIRMWARE_VERSION = (1, 1)")
        with open(init, "w") as f:
            f.write(text)
        entries = []
        for folder, _, names in os.walk(slot):
            for name in names:
                path = os.path.join(folder, name)
                with open(path, "rb") as f:
                    data = f.read()
                entries.append({"path": os.path.relpath(path, slot), "size": len(data),
                                "sha256": hashlib.sha256(data).hexdigest()})
        with open(os.path.join(slot, "manifest.json"), "w") as f:
            json.dump({"format": 1, "version": "1.1", "files": entries}, f)
        with open(os.path.join(flash, "slots.json"), "w") as f:
            json.dump({"active": "", "pending": {"slot": "a", "version": "1.1", "expect": {}}}, f)
        proc = start("--state-dir", flash, "--set", "update_confirm_s=10")
        self.addCleanup(stop, proc)
        pid = proc.pid
        self.assertEqual(json.loads(proc.stdout.readline())["event"], "ready")
        self.assertEqual(ask(proc, "status")["firmware"], "1.1", "the boot step installed the pending slot")
        # No gateway on this bus answers: the new firmware cannot show a CAN reply, so it never confirms.
        line = json.loads(proc.stdout.readline())
        while line.get("event") != "reset":
            line = json.loads(proc.stdout.readline())
        self.assertEqual(json.loads(proc.stdout.readline())["event"], "ready", "booted again in the same process")
        self.assertEqual(proc.pid, pid)
        self.assertEqual(ask(proc, "status")["firmware"], "1.0", "rolled back to the firmware it had")
        with open(os.path.join(flash, "slots.json")) as f:
            state = json.load(f)
        self.assertEqual((state["active"], state["last"]["result"]), ("", "rolled back"))


if __name__ == "__main__":
    unittest.main()
