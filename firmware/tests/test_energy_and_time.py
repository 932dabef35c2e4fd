import unittest

from canplug.energy import EnergyCounter, Uptime
from canplug.hal.clocks import TICKS_PERIOD, VirtualClock, ticks_add, ticks_diff
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


class TicksTest(unittest.TestCase):
    # The simulated clocks stand in for MicroPython's time module and must agree with it; their
    # arithmetic avoids intermediates of 2**30 and above (heap-allocated long ints on a 32-bit port).
    EDGES = (0, 1, 2, 1000, (1 << 29) - 1, 1 << 29, (1 << 29) + 1, (1 << 30) - 2, (1 << 30) - 1)

    def test_ticks_diff_and_ticks_add_agree_with_micropythons_definition(self):
        half = TICKS_PERIOD // 2
        for a in self.EDGES:
            for b in self.EDGES:
                self.assertEqual(ticks_diff(a, b), ((a - b + half) % TICKS_PERIOD) - half, (a, b))
            for delta in (0, 1, -1, 999, -999, half - 1, -half):
                self.assertEqual(ticks_add(a, delta), (a + delta) % TICKS_PERIOD, (a, delta))

    def test_the_virtual_clock_counts_like_one_growing_microsecond_counter(self):
        for start in (0, 123457, (TICKS_PERIOD - 3) * 1000 + 999, TICKS_PERIOD - 5):
            clock = VirtualClock(start_us=start)
            total = start
            for step in (1, 249, 999, 1000, 1001, 20000, 3000000, 7, 2500000):
                for _ in range(3):
                    clock.sleep_us(step)
                    total += step
                    self.assertEqual(clock.ticks_us(), total % TICKS_PERIOD, (start, step))
                    self.assertEqual(clock.ticks_ms(), (total // 1000) % TICKS_PERIOD, (start, step))
            clock.advance_ms(1.5)
            self.assertEqual(clock.ticks_us(), (total + 1500) % TICKS_PERIOD)

    def test_virtual_time_in_seconds_is_continuous_for_the_simulated_waveforms(self):
        clock = VirtualClock(start_us=123457)
        clock.sleep_us(1000000 - 123457 + 250)
        self.assertAlmostEqual(clock.now_s(), 1.00025, places=9)


if __name__ == "__main__":
    unittest.main()
