import unittest

from canplug.energy import EnergyCounter, Uptime
from canplug.hal.clocks import TICKS_PERIOD, VirtualClock
from canplug.reports import Every


class EnergyCounterTest(unittest.TestCase):
    def test_small_steps_on_a_large_counter_are_not_lost(self):
        energy = EnergyCounter(wh=12345)
        for _ in range(14400):  # 1 W for an hour in quarter seconds: 0.00007 Wh each
            energy.add(1.0, 250)
        self.assertEqual(energy.wh, 12346)


class TickWrapTest(unittest.TestCase):
    def test_uptime_and_periods_carry_on_across_the_ticks_wrap(self):
        clock = VirtualClock(start_us=(TICKS_PERIOD - 3000) * 1000)  # ticks_ms wraps after 3 s
        uptime = Uptime(clock)
        every = Every(clock, 1000, 1000)
        fired = 0
        for _ in range(100):
            clock.advance_ms(100)
            fired += every.due(clock.ticks_ms())
            uptime.seconds()
        self.assertLess(clock.ticks_ms(), 10000, "the counter did wrap")
        self.assertEqual(uptime.seconds(), 10)
        self.assertEqual(fired, 10)

    def test_a_stalled_loop_does_not_fire_a_burst_of_catch_up_reports(self):
        clock = VirtualClock()
        every = Every(clock, 1000, 1000)
        clock.advance_ms(5500)
        self.assertTrue(every.due(clock.ticks_ms()))
        self.assertFalse(every.due(clock.ticks_ms()))


if __name__ == "__main__":
    unittest.main()
