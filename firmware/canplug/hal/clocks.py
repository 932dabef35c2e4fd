# Host stand-ins for MicroPython's time module: ticks_ms/ticks_us/ticks_diff/sleep_ms/sleep_us.
# On the ESP32 the board uses the time module itself. Ticks wrap like MicroPython's (2**30),
# so code that forgets ticks_diff() breaks here too.
#
# On MicroPython these run on the simulated boards (the VM in the tests), so they allocate
# nothing, like the board's time module: every intermediate stays a small int (below 2**30 on a
# 32-bit port; 2**30 itself would be a heap-allocated long int).
import time

TICKS_PERIOD = 1 << 30
_MAX = TICKS_PERIOD - 1  # also the mask
_HALF = TICKS_PERIOD // 2


def ticks_diff(a, b):
    d = (a - b) & _MAX
    return d - _MAX - 1 if d >= _HALF else d


def ticks_add(a, delta):
    delta &= _MAX
    return a - (_MAX - delta) - 1 if a > _MAX - delta else a + delta


class HostClock:
    """Real time from time.monotonic()."""

    def __init__(self):
        self._t0 = time.monotonic()

    def now_s(self):
        return time.monotonic() - self._t0

    def ticks_ms(self):
        return int(self.now_s() * 1000) & _MAX

    def ticks_us(self):
        return int(self.now_s() * 1000000) & _MAX

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
    """Time that moves only when slept on or advanced: deterministic tests of timing code.

    Kept as wrapped ticks (ms, us, and the microseconds within the current ms), never as one
    growing count: ticks_us(), ticks_ms() and sleep_us() then allocate nothing on MicroPython."""

    def __init__(self, start_us=0):
        self._us = start_us & _MAX
        self._ms = (start_us // 1000) & _MAX
        self._sub_ms = start_us % 1000

    def now_s(self):
        """Seconds since tick 0, for the simulated waveforms (continuous until ticks_ms wraps, 12 days)."""
        return self._ms / 1000 + self._sub_ms / 1000000

    def ticks_ms(self):
        return self._ms

    def ticks_us(self):
        return self._us

    ticks_diff = staticmethod(ticks_diff)
    ticks_add = staticmethod(ticks_add)

    def sleep_ms(self, ms):
        self.sleep_us(int(ms * 1000))

    def sleep_us(self, us):
        us = int(us)
        self._us = ticks_add(self._us, us)
        sub = self._sub_ms + us
        if sub >= 1000:
            self._ms = ticks_add(self._ms, sub // 1000)
            sub %= 1000
        self._sub_ms = sub

    def advance_ms(self, ms):
        self.sleep_us(int(ms * 1000))
