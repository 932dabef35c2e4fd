# Simulated hardware for CPython: mains, a load behind the relay, the ACS712/ZMPT101B outputs
# as the ADC sees them, and a DHT. Fakes stop at the hardware edge: the application reads ADC
# counts, drives GPIO levels and calls dht.measure() exactly as on the ESP32.
import math
import os
from array import array

from canplug.hal.clocks import ticks_diff
from canplug.rms import ADC_MAX


class SimPin:
    """machine.Pin stand-in: remembers the level driven on it."""

    def __init__(self, level=0):
        self.level = level
        self.changes = 0

    def value(self, v=None):
        if v is None:
            return self.level
        v = 1 if v else 0
        if v != self.level:
            self.changes += 1
        self.level = v

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)


class SimPlant:
    """The physical world around one socket. Change its attributes at run time."""

    def __init__(self, clock, humidity=45.0, temperature=21.0, load_w=0.0, power_factor=1.0,
                 voltage=230.0, mains_hz=50.0, third_harmonic=0.0, relay_pin=None, relay_active_high=True):
        self.clock = clock
        self.humidity = humidity
        self.temperature = temperature
        self.load_w = load_w
        self.power_factor = power_factor
        self.voltage = voltage
        self.mains_hz = mains_hz
        self.third_harmonic = third_harmonic  # fraction of the fundamental current
        self.relay_pin = relay_pin if relay_pin is not None else SimPin()
        self.relay_active_high = relay_active_high
        self.dht_failing = False

    def relay_closed(self):
        return (self.relay_pin.value() == 1) == self.relay_active_high

    def load_amps(self):
        """RMS current of the fundamental when the relay is closed."""
        if not self.relay_closed() or self.load_w <= 0 or self.voltage <= 0:
            return 0.0
        return self.load_w / (self.voltage * self.power_factor)

    def volts_at(self, t):
        return self.voltage * math.sqrt(2) * math.sin(2 * math.pi * self.mains_hz * t)

    def amps_at(self, t):
        i1 = self.load_amps() * math.sqrt(2)
        w = 2 * math.pi * self.mains_hz
        phi = math.acos(max(-1.0, min(1.0, self.power_factor)))
        return i1 * (math.sin(w * t - phi) + self.third_harmonic * math.sin(3 * (w * t - phi)))


class Noise:
    """Gaussian noise from a seeded 32-bit xorshift and Box-Muller: the same numbers on CPython and
    MicroPython, whose random module has neither Random nor gauss()."""

    def __init__(self, seed):
        self._x = ((seed * 2654435761) & 0xFFFFFFFF) or 1

    def _uniform(self):
        """(0, 1]"""
        x = self._x
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        self._x = x
        return (x + 1) / 4294967296.0

    def gauss(self, mu, sigma):
        u1, u2 = self._uniform(), self._uniform()
        return mu + sigma * math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


class SimAdc:
    """machine.ADC.read(): 12-bit counts of zero_v + signal * gain, with Gaussian noise."""

    def __init__(self, clock, signal, zero_v, gain, full_scale_v=3.3, noise_counts=3.0,
                 conversion_us=0, seed=1):
        self._clock = clock
        self._signal = signal
        self.zero_v = zero_v
        self.gain = gain
        self._counts_per_volt = ADC_MAX / full_scale_v
        self.noise_counts = noise_counts
        self._conversion_us = conversion_us
        self._rng = Noise(seed)

    def read(self):
        counts = self.counts_at(self._clock.now_s())
        if self._conversion_us:
            self._clock.sleep_us(self._conversion_us)  # virtual time: a conversion takes time
        return counts

    def counts_at(self, t):
        """What a conversion at `t` seconds reads, noise included (the next noise value)."""
        volts = self.zero_v + self._signal(t) * self.gain
        counts = int(round(volts * self._counts_per_volt + self._rng.gauss(0.0, self.noise_counts)))
        return 0 if counts < 0 else (ADC_MAX if counts > ADC_MAX else counts)


class TableAdc:
    """machine.ADC.read() that allocates nothing, as on the board: a SimAdc's signal computed ahead
    at every sampling slot of PERIODS mains periods, with the relay open and closed. read() looks up
    the slot at the clock's time with small ints only. For MicroPython, where SimAdc's float maths
    would allocate on every read (the MicroPython VM's simulated board uses it).

    Call refill() after the plant changes, then fill_step() until it returns False: in slices, so
    that a host that collects garbage only between calls (the VM) can do so."""

    PERIODS = 8  # the noise repeats after 8 mains periods

    def __init__(self, sim_adc, plant, clock, slots, period_us):
        self._sim, self._plant = sim_adc, plant
        self._ticks_us = clock.ticks_us
        self._slots, self._period_us = slots, period_us
        self._span_us = period_us * self.PERIODS
        size = slots * self.PERIODS
        self._tables = (array("H", bytes(2 * size)), array("H", bytes(2 * size)))  # relay open, closed
        self._pins = (SimPin(0 if plant.relay_active_high else 1), SimPin(1 if plant.relay_active_high else 0))
        self._last = self._ticks_us()
        self._phase_us = 0  # where in the tables' PERIODS periods the clock is now
        self._filled = 0

    def refill(self):
        self._filled = 0

    def fill_step(self, count=16):
        """Computes `count` more entries; False once both tables are complete."""
        size = len(self._tables[0])
        plant = self._plant
        wired = plant.relay_pin
        end = min(2 * size, self._filled + count)
        for j in range(self._filled, end):
            closed, k = j // size, j % size
            plant.relay_pin = self._pins[closed]  # the plant as it is with the relay that way
            self._tables[closed][k] = self._sim.counts_at(k * self._period_us / self._slots / 1000000)
        plant.relay_pin = wired
        self._filled = end
        return end < 2 * size

    def fill(self):
        while self.fill_step(256):
            pass

    def read(self):
        now = self._ticks_us()
        self._phase_us = (self._phase_us + ticks_diff(now, self._last)) % self._span_us
        self._last = now
        table = self._tables[1 if self._plant.relay_closed() else 0]
        return table[self._phase_us * self._slots // self._period_us]


class SimDht:
    """dht.DHT11/DHT22 stand-in reading the plant; raises OSError like a timed-out sensor."""

    def __init__(self, plant, kind="dht11"):
        self._plant = plant
        self._kind = kind
        self._h = self._t = None
        self.reads = 0

    def measure(self):
        self.reads += 1
        if self._plant.dht_failing:
            raise OSError(110)  # ETIMEDOUT, what MicroPython's dht raises with no answer
        if self._kind == "dht11":  # whole numbers only
            self._h, self._t = int(round(self._plant.humidity)), int(round(self._plant.temperature))
        else:
            self._h, self._t = round(self._plant.humidity, 1), round(self._plant.temperature, 1)

    def humidity(self):
        return self._h

    def temperature(self):
        return self._t


def make_adcs(plant, cfg, conversion_us=0, noise_counts=3.0, seed=1):
    """The two ADC channels wired as in the README: ZMPT101B centred at 1.65 V, ACS712 at its zero.
    `seed` picks the noise (each channel its own)."""
    full = cfg["adc_full_scale_v"]
    adc_v = SimAdc(plant.clock, plant.volts_at, 1.65, cfg["zmpt101b_sensitivity"], full, noise_counts,
                   conversion_us, seed=2 * seed)
    divider = cfg["acs712_divider"]
    adc_i = SimAdc(plant.clock, plant.amps_at, cfg["acs712_zero_v"] * divider, cfg["acs712_v_per_a"] * divider,
                   full, noise_counts, conversion_us, seed=2 * seed + 1)
    return adc_v, adc_i


class SimBoard:
    """Everything Node needs, simulated. `plant` is the world; change it while the node runs.

    `sample_clock` times the ADC sampling loop and the waveforms. The host runner gives it a
    VirtualClock: the sampler's code is unchanged, but a busy or preempted host (or a slow
    emulated guest) can no longer smear its sampling slots."""

    def __init__(self, cfg, clock, conversion_us=0, reset_cause=1, sample_clock=None, flash_bytes=None, **plant_kw):
        self.clock = clock
        self.flash_bytes = flash_bytes  # a flash this size instead of the host's free space (update tests)
        self.restarts = 0
        self.on_restart = None  # what a reset does here (host/run.py and host/vm_node.py set it)
        self.sample_clock = sample_clock or clock
        self.relay_pin = SimPin()
        self.led_pin = SimPin()
        self.plant = SimPlant(self.sample_clock, mains_hz=cfg["mains_hz"], relay_pin=self.relay_pin,
                              relay_active_high=cfg["relay_active_high"], **plant_kw)
        self.adc_voltage, self.adc_current = make_adcs(self.plant, cfg, conversion_us)
        self.dht = SimDht(self.plant, cfg["dht_type"])
        self.reset_cause = reset_cause

    def restart(self):
        """machine.reset() on the board; here the runner decides (it returns, unlike the board's)."""
        self.restarts += 1
        if self.on_restart is not None:
            self.on_restart()

    def flash_free(self, root):
        if self.flash_bytes is None:
            st = os.statvfs(root)
            return st[1] * st[4]
        return max(0, self.flash_bytes - _used(root))


def _used(path):
    """Bytes in whole 4 KiB blocks under `path`, as LittleFS would count them."""
    try:
        mode, size = os.stat(path)[0], os.stat(path)[6]
    except OSError:
        return 0
    if mode & 0x4000:
        return sum(_used(path + "/" + name) for name in os.listdir(path))
    return (size + 4095) // 4096 * 4096
