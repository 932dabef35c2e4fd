# ACS712 (current) and ZMPT101B (voltage) on the ESP32 ADC: RMS, real power, sensor faults.
#
# The sampling loop allocates nothing (MicroPython's pattern for tight loops): it reads the clock
# as small ints and stores raw ADC counts into arrays allocated once; the float maths runs once per
# window, in finish(). On the board a float is a heap object, so float maths per sample would feed
# the garbage collector 400 times per window, and a collection in the middle of a cycle makes its
# samples late.
from array import array

from canplug.rms import ADC_MAX, WaveStats

FAULT_NONE = 0
FAULT_SATURATED = 1   # samples hit the ADC rails: the reading is a lower bound
FAULT_NO_SIGNAL = 2   # the sensor's output sits where no sensor would (unplugged, shorted)

_ZERO_TOLERANCE_V = 0.5
_CYCLE_ATTEMPTS = 3
CALIBRATION_CYCLES = 10


class Reading:
    def __init__(self, volts, amps, watts, voltage_fault, current_fault):
        self.volts = volts
        self.amps = amps
        self.watts = watts
        self.voltage_fault = voltage_fault
        self.current_fault = current_fault


class PowerMeter:
    """Measures over `cycles` whole mains periods, one period per call so the caller can yield."""

    def __init__(self, clock, adc_v, adc_i, cfg):
        # Bound once: every lookup of adc.read (or of a simulated clock's methods) allocates a bound method.
        self._ticks_us, self._ticks_diff, self._sleep_us = clock.ticks_us, clock.ticks_diff, clock.sleep_us
        self._read_v, self._read_i = adc_v.read, adc_i.read
        self.n = cfg["samples_per_cycle"]
        self.cycles = cfg["cycles_per_measurement"]
        self.period_us = 1000000 // cfg["mains_hz"]
        # The window's raw counts, zeroed from bytes: a list of zeros would take twice the heap meanwhile
        size = self.n * max(self.cycles, CALIBRATION_CYCLES)
        self._buf_v = array("H", bytes(2 * size))
        self._buf_i = array("H", bytes(2 * size))
        self._sampled = 0  # whole cycles in the buffers since begin()
        self._volts_per_count = cfg["adc_full_scale_v"] / ADC_MAX
        divider = cfg["acs712_divider"]
        self._amps_per_count = self._volts_per_count / (cfg["acs712_v_per_a"] * divider) * cfg["current_cal"]
        self._mains_per_count = self._volts_per_count / cfg["zmpt101b_sensitivity"] * cfg["voltage_cal"]
        self._expected_zero_v = cfg["acs712_zero_v"] * divider
        self.voltage_sensor = cfg["voltage_sensor"]
        self.nominal_volts = cfg["nominal_voltage"]
        self.min_amps = cfg["min_current_a"]
        self._stats = WaveStats(self.n, ref_i=int(self._expected_zero_v / self._volts_per_count))
        self.zero_v = None
        self.noise_amps = 0.0
        self.late_cycles = 0  # cycles taken again because a read came late
        self.zero_fault = FAULT_NONE

    def begin(self):
        self._sampled = 0

    def sample_one_cycle(self):
        """One mains period into the window's buffers. A cycle that was held up is taken again, and
        dropped if it keeps being held up: unevenly spread samples would give a wrong RMS."""
        if (self._sampled + 1) * self.n > len(self._buf_v):
            return False  # the window is full
        for _ in range(_CYCLE_ATTEMPTS):
            if self._sample_cycle(self._sampled * self.n):
                self._sampled += 1
                return True
            self.late_cycles += 1
        return False

    def _sample_cycle(self, at):
        """Reads v and i alternately into the buffers from index `at`, 2n reads evenly spread over
        one period. Gives up and returns False as soon as a read comes more than one slot late (a GC
        pause, an interrupt, a busy host): the samples would no longer be evenly spread."""
        # At most three names per assignment: MicroPython builds a tuple on the heap for four or more.
        ticks_us, ticks_diff, sleep_us = self._ticks_us, self._ticks_diff, self._sleep_us
        read_v, read_i = self._read_v, self._read_i
        buf_v, buf_i = self._buf_v, self._buf_i
        period_us = self.period_us
        slots = 2 * self.n
        slot_us = period_us // slots
        t0 = ticks_us()
        for j in range(slots):
            wait = j * period_us // slots - ticks_diff(ticks_us(), t0)
            if wait > 0:
                sleep_us(wait)
            elif wait < -slot_us:
                return False
            if j & 1:
                buf_i[at + (j >> 1)] = read_i()
            else:
                buf_v[at + (j >> 1)] = read_v()
        return True

    def finish(self):
        """The Reading over the cycles sampled since begin(); None if every cycle was dropped."""
        if self._sampled == 0:
            return None
        s = self._stats
        mean_v, rms_v, mean_i, rms_i, p = s.measure(self._buf_v, self._buf_i, self._sampled)
        clipped_v, clipped_i = s.clipped_v, s.clipped_i
        amps_raw = rms_i * self._amps_per_count
        amps = max(0.0, amps_raw * amps_raw - self.noise_amps * self.noise_amps) ** 0.5
        if amps < self.min_amps:
            amps = 0.0
        current_fault = self._zero_fault_at(mean_i) or (FAULT_SATURATED if clipped_i else FAULT_NONE)
        if self.voltage_sensor:
            volts = rms_v * self._mains_per_count
            watts = abs(p) * self._mains_per_count * self._amps_per_count  # sign depends on wiring
            stuck = mean_v < 0.02 * ADC_MAX or mean_v > 0.98 * ADC_MAX
            voltage_fault = FAULT_NO_SIGNAL if stuck else (FAULT_SATURATED if clipped_v else FAULT_NONE)
        else:
            volts = self.nominal_volts
            watts = volts * amps
            voltage_fault = FAULT_NONE
        if amps == 0.0:
            watts = 0.0
        return Reading(volts, amps, watts, voltage_fault, current_fault)

    def measure_blocking(self):
        self.begin()
        for _ in range(self.cycles):
            self.sample_one_cycle()
        return self.finish()

    def calibrate_zero(self):
        """With the relay open: the ACS712's zero point and noise floor (start-up, no load)."""
        self.begin()
        for _ in range(CALIBRATION_CYCLES):
            self.sample_one_cycle()
        if self._sampled == 0:
            return None  # held up throughout; keep the defaults
        _, _, mean_i, rms_i, _ = self._stats.measure(self._buf_v, self._buf_i, self._sampled)
        self.zero_v = mean_i * self._volts_per_count
        self.zero_fault = self._zero_fault_at(mean_i)
        # cap: a load that leaks through an open relay is no noise floor
        self.noise_amps = min(rms_i * self._amps_per_count, 0.2)
        return self.zero_v

    def _zero_fault_at(self, mean_counts):
        zero_v = mean_counts * self._volts_per_count
        if abs(zero_v - self._expected_zero_v) > _ZERO_TOLERANCE_V:
            return FAULT_NO_SIGNAL
        return FAULT_NONE
