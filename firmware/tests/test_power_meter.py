"""RMS voltage, current and real power on synthesized mains waveforms, sampled through the
same sampler as on the ESP32 (virtual clock; every ADC conversion takes 12 us)."""
import math
import unittest

from canplug import settings
from canplug.hal.clocks import VirtualClock
from canplug.hal.sim import SimPin, SimPlant, TableAdc, make_adcs
from canplug.power_meter import FAULT_NO_SIGNAL, FAULT_NONE, FAULT_SATURATED, PowerMeter


def meter_for(mains_hz=50, noise_counts=4.0, **plant_kw):
    cfg = dict(settings.DEFAULTS, mains_hz=mains_hz)
    cfg.update(plant_kw.pop("cfg", {}))
    clock = VirtualClock(start_us=123457)  # not at a zero crossing
    relay = SimPin()
    plant = SimPlant(clock, mains_hz=plant_kw.pop("true_hz", mains_hz), relay_pin=relay, **plant_kw)
    adc_v, adc_i = make_adcs(plant, cfg, conversion_us=12, noise_counts=noise_counts)
    meter = PowerMeter(clock, adc_v, adc_i, cfg)
    meter.calibrate_zero()  # start-up: relay still open, no load
    relay.value(1)
    return meter, plant


def rel_err(measured, true):
    return abs(measured - true) / true


class RmsAccuracyTest(unittest.TestCase):
    def test_sine_with_offset_and_noise_within_1_percent_at_50_and_60_hz(self):
        for hz, volts, load_w in ((50, 230.0, 1150.0), (60, 120.0, 600.0), (50, 230.0, 230.0)):
            with self.subTest(hz=hz, volts=volts, load_w=load_w):
                meter, plant = meter_for(mains_hz=hz, voltage=volts, load_w=load_w)
                r = meter.measure_blocking()
                self.assertLess(rel_err(r.volts, volts), 0.01, r.volts)
                self.assertLess(rel_err(r.amps, load_w / volts), 0.01, r.amps)
                self.assertLess(rel_err(r.watts, load_w), 0.01, r.watts)
                self.assertEqual((r.voltage_fault, r.current_fault), (FAULT_NONE, FAULT_NONE))

    def test_real_power_of_a_lagging_load_at_power_factor_one_half(self):
        meter, plant = meter_for(load_w=500.0, power_factor=0.5)
        r = meter.measure_blocking()
        self.assertLess(rel_err(r.watts, 500.0), 0.01, r.watts)
        self.assertLess(rel_err(r.amps, 500.0 / (230.0 * 0.5)), 0.01, r.amps)

    def test_true_rms_of_a_distorted_current(self):
        meter, plant = meter_for(load_w=690.0, third_harmonic=0.4)
        r = meter.measure_blocking()
        true_amps = 3.0 * math.sqrt(1 + 0.4 ** 2)
        self.assertLess(rel_err(r.amps, true_amps), 0.01, r.amps)
        self.assertLess(rel_err(r.watts, 690.0), 0.01, r.watts)  # the harmonic carries no power

    def test_mains_0_2_hz_off_nominal_stays_within_1_percent(self):
        meter, plant = meter_for(load_w=1150.0, true_hz=49.8)
        r = meter.measure_blocking()
        self.assertLess(rel_err(r.volts, 230.0), 0.01)
        self.assertLess(rel_err(r.amps, 5.0), 0.01)

    def test_no_load_reads_zero_not_the_sensor_bias(self):
        meter, plant = meter_for(load_w=0.0)
        r = meter.measure_blocking()
        self.assertLess(r.amps, 0.02)
        self.assertEqual(r.watts, 0.0)
        # the original firmware's way: squaring raw counts reads the 2.45 V bias as ~24 A
        meter.begin()
        meter.sample_one_cycle()
        raw_rms = math.sqrt(sum(c * c for c in meter._buf_i[:meter.n]) / meter.n) * 3.3 / 4095 / 0.100
        self.assertGreater(raw_rms, 20.0)

    def test_start_up_calibration_finds_the_zero_point(self):
        meter, plant = meter_for()
        self.assertAlmostEqual(meter.zero_v, 2.45, delta=0.01)
        self.assertEqual(meter.zero_fault, FAULT_NONE)


class StalledSamplingTest(unittest.TestCase):
    def test_a_cycle_held_up_by_a_pause_is_taken_again(self):
        meter, plant = meter_for(load_w=1150.0)
        clock = plant.clock
        read_i = meter._read_i
        calls = [0]

        def read_i_with_a_pause():
            calls[0] += 1
            if calls[0] in (30, 130):  # a 2 ms garbage collection in two different cycles
                clock.sleep_us(2000)
            return read_i()
        meter._read_i = read_i_with_a_pause
        r = meter.measure_blocking()
        self.assertEqual(meter.late_cycles, 2)
        self.assertLess(rel_err(r.volts, 230.0), 0.01)
        self.assertLess(rel_err(r.amps, 5.0), 0.01)

    def test_a_window_held_up_throughout_gives_no_reading_rather_than_a_wrong_one(self):
        meter, plant = meter_for(load_w=1150.0)
        read_v = meter._read_v

        def always_late():
            plant.clock.sleep_us(600)
            return read_v()
        meter._read_v = always_late
        self.assertIsNone(meter.measure_blocking())


class SensorFaultTest(unittest.TestCase):
    def test_current_beyond_the_adc_range_is_flagged_saturated(self):
        # wired straight (no divider) the ADC tops out near 3.3 V: about 6 A RMS of sine
        meter, plant = meter_for(load_w=2300.0)
        r = meter.measure_blocking()
        self.assertEqual(r.current_fault, FAULT_SATURATED)
        self.assertLess(r.amps, 10.0, "a clipped reading is a lower bound")

    def test_a_divider_gives_headroom_for_the_relays_10_amps(self):
        meter, plant = meter_for(load_w=2300.0, cfg={"acs712_divider": 0.667})
        r = meter.measure_blocking()
        self.assertEqual(r.current_fault, FAULT_NONE)
        self.assertLess(rel_err(r.amps, 10.0), 0.01, r.amps)

    def test_missing_current_sensor_is_a_fault_at_start_up(self):
        cfg = dict(settings.DEFAULTS)
        clock = VirtualClock()
        plant = SimPlant(clock)
        adc_v, adc_i = make_adcs(plant, cfg)
        adc_i.zero_v = 0.0  # input pulled to ground: nothing connected
        meter = PowerMeter(clock, adc_v, adc_i, cfg)
        meter.calibrate_zero()
        self.assertEqual(meter.zero_fault, FAULT_NO_SIGNAL)
        self.assertEqual(meter.measure_blocking().current_fault, FAULT_NO_SIGNAL)

    def test_overvoltage_clipping_is_flagged_on_the_voltage_sensor(self):
        meter, plant = meter_for(voltage=260.0)
        self.assertEqual(meter.measure_blocking().voltage_fault, FAULT_SATURATED)

    def test_without_a_voltage_sensor_power_is_nominal_volts_times_amps(self):
        meter, plant = meter_for(load_w=460.0, cfg={"voltage_sensor": False})
        r = meter.measure_blocking()
        self.assertEqual(r.volts, 230.0)
        self.assertLess(rel_err(r.watts, 460.0), 0.01)


class TableAdcTest(unittest.TestCase):
    """The allocation-free simulated ADC of the MicroPython VM's board: the signal computed ahead at
    the sampling slots must read like the live SimAdc, whenever the tables were filled."""

    def table_meter(self, mains_hz=50, voltage=230.0, load_w=460.0, start_us=0):
        cfg = dict(settings.DEFAULTS, mains_hz=mains_hz)
        clock = VirtualClock(start_us=start_us)
        relay = SimPin()
        plant = SimPlant(clock, mains_hz=mains_hz, voltage=voltage, load_w=load_w, relay_pin=relay)
        slots, period_us = 2 * cfg["samples_per_cycle"], 1000000 // mains_hz
        adcs = [TableAdc(adc, plant, clock, slots, period_us) for adc in make_adcs(plant, cfg, conversion_us=12)]
        for adc in adcs:
            adc.fill()
        meter = PowerMeter(clock, adcs[0], adcs[1], cfg)
        meter.calibrate_zero()
        relay.value(1)
        return meter, plant, clock, adcs

    def test_readings_match_the_plant_whenever_the_tables_are_filled(self):
        for hz, volts, start_us in ((50, 230.0, 0), (50, 230.0, 7777), (50, 230.0, 1234567), (60, 120.0, 4321)):
            with self.subTest(hz=hz, start_us=start_us):
                meter, plant, clock, adcs = self.table_meter(hz, volts, 460.0, start_us)
                for wait_us in (0, 3333, 10001):
                    clock.sleep_us(wait_us)
                    for adc in adcs:  # filled again at another moment of the clock
                        adc.refill()
                        adc.fill()
                    r = meter.measure_blocking()
                    self.assertLess(rel_err(r.volts, volts), 0.01, r.volts)
                    self.assertLess(rel_err(r.watts, 460.0), 0.01, r.watts)

    def test_the_tables_follow_the_relay_and_a_refill_follows_the_load(self):
        meter, plant, clock, adcs = self.table_meter()
        plant.relay_pin.value(0)
        self.assertEqual(meter.measure_blocking().watts, 0.0)
        plant.relay_pin.value(1)
        plant.load_w = 900.0
        for adc in adcs:
            adc.refill()
            adc.fill()
        self.assertLess(rel_err(meter.measure_blocking().watts, 900.0), 0.01)


if __name__ == "__main__":
    unittest.main()
