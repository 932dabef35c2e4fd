# ACS712 (current) and ZMPT101B (voltage) on the ESP32 ADC: RMS, real power, sensor faults.
from array import array

from canplug.rms import ADC_MAX, WaveStats, sample_cycle

FAULT_NONE = 0
FAULT_SATURATED = 1   # samples hit the ADC rails: the reading is a lower bound
FAULT_NO_SIGNAL = 2   # the sensor's output sits where no sensor would (unplugged, shorted)

_ZERO_TOLERANCE_V = 0.5
_CYCLE_ATTEMPTS = 3


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
        self._clock = clock
        self._adc_v = adc_v
        self._adc_i = adc_i
        self.n = cfg["samples_per_cycle"]
        self.cycles = cfg["cycles_per_measurement"]
        self.period_us = 1000000 // cfg["mains_hz"]
        self._buf_v = array("H", [0] * self.n)  # not array("H", bytes(..)): MicroPython iterates bytes
        self._buf_i = array("H", [0] * self.n)
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
        self._stats.reset()

    def sample_one_cycle(self):
        """One mains period into the running sums. A cycle that was held up is taken again, and
        dropped if it keeps being held up: unevenly spread samples would give a wrong RMS."""
        for _ in range(_CYCLE_ATTEMPTS):
            if sample_cycle(self._clock, self._adc_v.read, self._adc_i.read,
                            self._buf_v, self._buf_i, self.n, self.period_us):
                self._stats.add_cycle(self._buf_v, self._buf_i, self.n)
                return True
            self.late_cycles += 1
        return False

    def finish(self):
        """The Reading over the cycles sampled since begin(); None if every cycle was dropped."""
        s = self._stats
        if s.n == 0:
            return None
        clipped_v, clipped_i = s.clipped_v(), s.clipped_i()
        mean_v, rms_v, mean_i, rms_i, p = s.finish()
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

    def calibrate_zero(self, cycles=10):
        """With the relay open: the ACS712's zero point and noise floor (start-up, no load)."""
        self.begin()
        for _ in range(cycles):
            self.sample_one_cycle()
        if self._stats.n == 0:
            return None  # held up throughout; keep the defaults
        _, _, mean_i, rms_i, _ = self._stats.finish()
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
