"""The humidity interlock, sensor faults and overload trips as the gateway and the user see them."""
import unittest

from canplug import protocol as p
from tests.node_harness import Harness

OPEN, CLOSE, TOGGLE = 0, 1, 2


class HumidityInterlockTest(unittest.TestCase):
    def setUp(self):
        self.h = Harness(self, humidity=45.0, load_w=460.0)
        self.h.boot()
        self.assertEqual(self.h.command(p.OP_SET_RELAY, 1, CLOSE)["result"], "ok")
        self.assertTrue(self.h.plant.relay_closed())

    def trip(self):
        self.h.port.sent.clear()
        self.h.poll_humidity(83.0)

    def test_humidity_at_the_limit_opens_the_relay_latches_and_reports(self):
        self.h.measure()
        self.h.port.sent.clear()
        self.h.poll_humidity(80.0)
        self.assertFalse(self.h.plant.relay_closed())
        self.assertEqual(self.h.events(), [(p.EV_HUMIDITY_TRIP, 800, 0)])
        self.h.measure()
        self.h.advance(1000)
        power = self.h.messages("power")[-1]
        self.assertEqual(power["status"], {"relay": False, "humidityLatched": True, "powerLatched": False,
                                           "sensorFault": False})
        env = self.h.messages("environment")[-1]
        self.assertEqual((env["humidity"], env["humidityLimit"], env["hysteresis"]), (80.0, 80, 10))

    def test_relay_opens_even_when_the_can_bus_is_down(self):
        self.h.port.up = False
        self.h.poll_humidity(90.0)
        self.assertFalse(self.h.plant.relay_closed())
        self.assertTrue(self.h.node.safety.humidity_latched)
        self.h.port.up = True
        self.h.flush()
        self.assertEqual(self.h.events()[0][0], p.EV_HUMIDITY_TRIP, "the event follows once the bus is back")

    def test_close_while_latched_and_humid_is_refused_and_changes_nothing(self):
        self.trip()
        for humidity in (83.0, 75.0):  # over the limit, then between re-arm level and limit
            self.h.poll_humidity(humidity)
            reply = self.h.command(p.OP_SET_RELAY, 6, CLOSE)
            self.assertEqual((reply["result"], reply["token"]), ("interlocked", 6))
            self.assertEqual(reply["status"]["humidityLatched"], True)
            self.assertFalse(self.h.plant.relay_closed())
        self.assertEqual(self.h.command(p.OP_SET_RELAY, 7, TOGGLE)["result"], "interlocked")
        self.assertEqual(self.h.command(p.OP_RESET_LATCH, 8)["result"], "interlocked")
        self.assertTrue(self.h.node.safety.humidity_latched)

    def test_under_the_rearm_level_a_reset_clears_the_latch_but_leaves_the_relay_open(self):
        self.trip()
        self.h.port.sent.clear()
        self.h.poll_humidity(69.0)
        self.h.poll_humidity(68.0)
        self.assertEqual(self.h.events(), [(p.EV_HUMIDITY_REARMED, 690, 0)], "announced once")
        reply = self.h.command(p.OP_RESET_LATCH, 9)
        self.assertEqual(reply["result"], "ok")
        self.assertEqual(reply["status"], {"relay": False, "humidityLatched": False, "powerLatched": False,
                                           "sensorFault": False})
        self.assertFalse(self.h.plant.relay_closed())
        self.assertEqual(self.h.command(p.OP_SET_RELAY, 10, CLOSE)["result"], "ok")
        self.assertTrue(self.h.plant.relay_closed())

    def test_under_the_rearm_level_an_explicit_close_clears_the_latch_and_closes(self):
        self.trip()
        self.h.poll_humidity(60.0)
        reply = self.h.command(p.OP_SET_RELAY, 11, CLOSE)
        self.assertEqual((reply["result"], reply["status"]["relay"], reply["status"]["humidityLatched"]),
                         ("ok", True, False))

    def test_lowering_the_limit_under_the_current_humidity_trips_at_once(self):
        self.h.port.sent.clear()
        reply = self.h.command(p.OP_SET_HUMIDITY_LIMIT, 12, 40, 5)
        self.assertEqual(reply["result"], "ok")
        self.assertEqual(reply["status"]["humidityLatched"], True)
        self.assertFalse(self.h.plant.relay_closed())

    def test_a_hysteresis_that_would_never_rearm_is_a_bad_argument(self):
        self.assertEqual(self.h.command(p.OP_SET_HUMIDITY_LIMIT, 13, 50, 50)["result"], "badArgument")
        self.assertEqual(self.h.command(p.OP_SET_HUMIDITY_LIMIT, 14, 0, 0)["result"], "badArgument")
        self.assertEqual(self.h.node.cfg["humidity_limit"], 80)

    def test_while_latched_the_limits_only_get_stricter(self):
        self.trip()
        self.assertEqual(self.h.command(p.OP_SET_HUMIDITY_LIMIT, 15, 100, 0)["result"], "interlocked")
        self.assertEqual(self.h.command(p.OP_SET_HUMIDITY_LIMIT, 16, 80, 5)["result"], "interlocked")  # re-arm 70 -> 75
        self.assertEqual((self.h.node.cfg["humidity_limit"], self.h.node.cfg["humidity_hysteresis"]), (80, 10))
        self.assertEqual(self.h.command(p.OP_RESET_LATCH, 17)["result"], "interlocked")
        self.assertEqual(self.h.command(p.OP_SET_HUMIDITY_LIMIT, 18, 75, 15)["result"], "ok")  # stricter is fine
        self.assertFalse(self.h.plant.relay_closed())

    def test_latch_survives_a_reboot(self):
        self.trip()
        again = Harness(self, directory=self.h.dir, humidity=72.0)
        again.boot()
        self.assertTrue(again.node.safety.humidity_latched)
        self.assertEqual(again.command(p.OP_SET_RELAY, 1, CLOSE)["result"], "interlocked")


class HumiditySensorFaultTest(unittest.TestCase):
    def test_a_sensor_that_keeps_failing_opens_the_relay_and_refuses_closing(self):
        h = Harness(self, humidity=45.0, load_w=460.0)
        h.boot()
        h.command(p.OP_SET_RELAY, 1, CLOSE)
        h.plant.dht_failing = True
        h.port.sent.clear()
        h.poll_humidity()
        h.poll_humidity()
        self.assertTrue(h.plant.relay_closed(), "two failures are retried, not yet a fault")
        h.poll_humidity()
        self.assertFalse(h.plant.relay_closed())
        self.assertEqual(h.events(), [(p.EV_HUMIDITY_SENSOR_FAULT, 3, 0)])
        reply = h.command(p.OP_SET_RELAY, 2, CLOSE)
        self.assertEqual((reply["result"], reply["status"]["sensorFault"]), ("interlocked", True))
        h.advance(1000)
        self.assertEqual(h.messages("heartbeat")[-1]["state"], "fault")
        h.plant.dht_failing = False
        h.poll_humidity()
        h.poll_humidity()
        self.assertEqual(h.command(p.OP_SET_RELAY, 3, CLOSE)["result"], "ok")

    def test_no_humidity_reading_at_boot_means_the_power_on_state_is_not_applied(self):
        h = Harness(self, config={"power_on_state": 1})
        h.plant.dht_failing = True
        h.boot()
        self.assertFalse(h.plant.relay_closed())


class OverloadTest(unittest.TestCase):
    def test_over_power_trips_after_two_measurements_and_a_close_rearms(self):
        h = Harness(self, config={"acs712_divider": 0.66}, humidity=45.0, load_w=1500.0)
        h.boot()
        self.assertEqual(h.command(p.OP_SET_POWER_LIMIT, 1, 0xE8, 0x03)["result"], "ok")  # 1000 W
        h.command(p.OP_SET_RELAY, 2, CLOSE)
        h.port.sent.clear()
        h.measure()
        self.assertTrue(h.plant.relay_closed(), "one window over the limit may be inrush")
        h.measure()
        self.assertFalse(h.plant.relay_closed())
        (code, value, flags), = h.events()
        self.assertEqual((code, flags), (p.EV_OVER_POWER, 0))
        self.assertAlmostEqual(value, 15000, delta=150)
        self.assertTrue(h.node.safety.power_latched)
        reply = h.command(p.OP_SET_RELAY, 3, CLOSE)
        self.assertEqual((reply["result"], reply["status"]["powerLatched"]), ("ok", False))

    def test_over_current_limit_from_config(self):
        h = Harness(self, config={"over_current_limit_a": 3.0, "overload_trip_windows": 1}, humidity=45.0, load_w=920.0)
        h.boot()
        h.command(p.OP_SET_RELAY, 1, CLOSE)
        h.port.sent.clear()
        h.measure()
        self.assertFalse(h.plant.relay_closed())
        (code, value, flags), = h.events()
        self.assertEqual(code, p.EV_OVER_CURRENT)
        self.assertAlmostEqual(value, 4000, delta=40)

    def test_current_past_the_sensor_range_trips_with_the_saturated_flag(self):
        h = Harness(self, humidity=45.0, load_w=2300.0)  # 10 A clips the ADC wired without a divider
        h.boot()
        h.command(p.OP_SET_RELAY, 1, CLOSE)
        h.port.sent.clear()
        h.measure(2)
        self.assertFalse(h.plant.relay_closed())
        codes = [(code, flags) for code, value, flags in h.events()]
        self.assertEqual(codes, [(p.EV_CURRENT_SENSOR_FAULT, 0), (p.EV_OVER_CURRENT, p.EVF_SATURATED)])


if __name__ == "__main__":
    unittest.main()
