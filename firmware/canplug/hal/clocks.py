# Host stand-ins for MicroPython's time module: ticks_ms/ticks_us/ticks_diff/sleep_ms/sleep_us.
# On the ESP32 the board uses the time module itself. Ticks wrap like MicroPython's (2**30),
# so code that forgets ticks_diff() breaks here too.
import time

TICKS_PERIOD = 1 << 30
_HALF = TICKS_PERIOD // 2


def ticks_diff(a, b):
    return ((a - b + _HALF) % TICKS_PERIOD) - _HALF


def ticks_add(a, delta):
    return (a + delta) % TICKS_PERIOD


class HostClock:
    """Real time from time.monotonic()."""

    def __init__(self):
        self._t0 = time.monotonic()

    def now_s(self):
        return time.monotonic() - self._t0

    def ticks_ms(self):
        return int(self.now_s() * 1000) % TICKS_PERIOD

    def ticks_us(self):
        return int(self.now_s() * 1000000) % TICKS_PERIOD

    ticks_diff = staticmethod(ticks_diff)
    ticks_add = staticmethod(ticks_add)

    def sleep_ms(self, ms):
        time.sleep(ms / 1000)

    def sleep_us(self, us):
        # Short waits spin, as MicroPython's sleep_us does: time.sleep() overshoots by ~0.1 ms,
        # which would smear the ADC sampling slots (250 us apart at 50 Hz).
        if us >= 2000:
            time.sleep(us / 1000000)
            return
        end = time.perf_counter() + us / 1000000
        while time.perf_counter() < end:
            pass


class VirtualClock:
    """Time that moves only when slept on or advanced: deterministic tests of timing code."""

    def __init__(self, start_us=0):
        self.us = start_us

    def now_s(self):
        return self.us / 1000000

    def ticks_ms(self):
        return (self.us // 1000) % TICKS_PERIOD

    def ticks_us(self):
        return self.us % TICKS_PERIOD

    ticks_diff = staticmethod(ticks_diff)
    ticks_add = staticmethod(ticks_add)

    def sleep_ms(self, ms):
        self.us += int(ms * 1000)

    def sleep_us(self, us):
        self.us += int(us)

    def advance_ms(self, ms):
        self.us += int(ms * 1000)
