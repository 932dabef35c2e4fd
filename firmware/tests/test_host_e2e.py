"""The whole firmware application (asyncio tasks, real-time sampling of the simulated sensors)
on a python-can virtual bus, driven by a peer that speaks the protocol, as the gateway will.
The node's frames go through the real MCP2515 driver and the register-level fake (--mcp2515)."""
import io
import os
import time
import unittest

try:
    import can
except ImportError:  # MicroPython: test/firmware/vm-node-*.test.ts run this app on the VM instead
    raise unittest.SkipTest("needs python-can and threads (the CPython host runner)")

from canplug import protocol as p
from host.runner import Runner, parse_args

FAST = ["--set", "report_period_ms=250", "--set", "dht_period_ms=1000", "--set", "measure_period_ms=100",
        "--set", "cycles_per_measurement=2"]
_channels = [0]


class NodeOnVirtualBus:
    def __init__(self, test, *extra):
        _channels[0] += 1
        channel = "canplug-e2e-%d-%d" % (os.getpid(), _channels[0])
        self.peer = can.Bus(interface="virtual", channel=channel, receive_own_messages=False)
        test.addCleanup(self.peer.shutdown)
        args = ["--node", "5", "--interface", "virtual", "--channel", channel, "--humidity", "45",
                "--load-w", "460", "--mcp2515"] + FAST + list(extra)
        self.runner = Runner(parse_args(args), out=io.StringIO())
        self.runner.start_in_thread()
        test.addCleanup(self.runner.stop)
        self.seen = []
        self.token = 0

    def read(self, timeout):
        msg = self.peer.recv(timeout)
        if msg is None:
            return None
        return (msg.arbitration_id, bytes(msg.data))

    def wait_for(self, match, timeout=3.0, decode=p.decode):
        """The first frame from now on whose decoded message satisfies `match`, else None."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            frame = self.read(max(0.0, end - time.monotonic()))
            if frame is None:
                continue
            try:
                message = decode(*frame)
            except p.FrameError:
                continue
            self.seen.append(message)
            if match(message):
                return message
        return None

    def send(self, can_id, data):
        self.peer.send(can.Message(arbitration_id=can_id, data=data, is_extended_id=False))

    def command(self, opcode, *args):
        self.token = (self.token + 1) & 0xFF
        token = self.token
        self.send(*p.encode_command(5, opcode, token, bytes(args)))
        return self.wait_for(lambda m: m["type"] == "reply" and m["token"] == token)

    def control(self, line):
        return self.runner.control(line)

    def wait_running(self, timeout=5.0):
        """The seed profile has no heartbeat: ask the control channel."""
        end = time.monotonic() + timeout
        while self.control("status")["state"] != "running":
            if time.monotonic() > end:
                raise AssertionError("node did not finish booting")
            time.sleep(0.05)


def of(kind, **fields):
    return lambda m: m["type"] == kind and all(m.get(k) == v for k, v in fields.items())


class HostEndToEndTest(unittest.TestCase):
    def test_boots_announces_itself_and_answers_discovery(self):
        node = NodeOnVirtualBus(self)
        self.assertIsNotNone(node.wait_for(of("event", code=p.EV_REBOOTED)))
        self.assertIsNotNone(node.wait_for(of("heartbeat", state="running", protocol=1)))
        node.send(*p.encode_discovery(6))
        node.send(*p.encode_discovery(5))
        answer = node.wait_for(of("heartbeat"), timeout=0.5)
        self.assertIsNotNone(answer, "discovery for node 5 answered at once, not only by the 1 s heartbeat")

    def test_commands_get_replies_and_the_load_shows_in_the_power_reports(self):
        node = NodeOnVirtualBus(self)
        node.wait_for(of("heartbeat", state="running"))
        reply = node.command(p.OP_SET_RELAY, 1)
        self.assertEqual((reply["result"], reply["status"]["relay"]), ("ok", True))
        power = node.wait_for(lambda m: m["type"] == "power" and m["current"] > 1.5)
        self.assertIsNotNone(power)
        self.assertAlmostEqual(power["voltage"], 230.0, delta=2.3)
        self.assertAlmostEqual(power["current"], 2.0, delta=0.05)
        self.assertAlmostEqual(power["power"], 460.0, delta=9.2)
        following = node.wait_for(of("power"))
        self.assertEqual(following["seq"], (power["seq"] + 1) & 0xFF)
        self.assertEqual(node.command(0x09)["result"], "unknownOpcode")
        node.command(p.OP_REPORT_NOW)
        self.assertIsNotNone(node.wait_for(of("energy"), timeout=0.5))

    def test_rising_humidity_opens_the_relay_on_the_node_by_itself(self):
        node = NodeOnVirtualBus(self)
        node.wait_for(of("heartbeat", state="running"))
        node.command(p.OP_SET_RELAY, 1)
        self.assertEqual(node.control("humidity 85")["ok"], True)
        trip = node.wait_for(of("event", code=p.EV_HUMIDITY_TRIP), timeout=3.0)
        self.assertIsNotNone(trip, "no humidity trip event")
        self.assertEqual(trip["value"], 850)
        status = node.control("status")
        self.assertEqual((status["relay"], status["humidity_latched"]), (False, True))
        power = node.wait_for(of("power"))
        self.assertEqual(power["status"], {"relay": False, "humidityLatched": True, "powerLatched": False,
                                           "sensorFault": False})
        env = node.wait_for(of("environment"))
        self.assertEqual((env["humidity"], env["status"]["humidityLatched"]), (85.0, True))
        self.assertEqual(node.command(p.OP_SET_RELAY, 1)["result"], "interlocked")
        node.control("humidity 60")
        self.assertIsNotNone(node.wait_for(of("event", code=p.EV_HUMIDITY_REARMED), timeout=3.0))
        self.assertEqual(node.command(p.OP_RESET_LATCH)["result"], "ok")
        self.assertEqual(node.command(p.OP_SET_RELAY, 1)["status"]["relay"], True)

    def test_a_failing_humidity_sensor_opens_the_relay_and_reports_the_fault(self):
        node = NodeOnVirtualBus(self)
        node.wait_for(of("heartbeat", state="running"))
        node.command(p.OP_SET_RELAY, 1)
        node.control("dht fail")
        fault = node.wait_for(of("event", code=p.EV_HUMIDITY_SENSOR_FAULT), timeout=5.0)
        self.assertIsNotNone(fault)
        self.assertFalse(node.control("status")["relay"])
        self.assertIsNotNone(node.wait_for(of("heartbeat", state="fault")))

    def test_seed_profile_speaks_the_original_frames(self):
        from canplug import seed
        node = NodeOnVirtualBus(self, "--protocol", "seed")
        node.wait_running()
        node.send(seed.SEED_COMMAND_ID, seed.CLOSE_FRAME)
        current = node.wait_for(lambda m: m["quantity"] == "current" and m["value"] > 1.5, decode=seed.decode_reading)
        self.assertIsNotNone(current)
        self.assertAlmostEqual(current["value"], 2.0, delta=0.1)
        self.assertTrue(node.control("status")["relay"])


if __name__ == "__main__":
    unittest.main()
