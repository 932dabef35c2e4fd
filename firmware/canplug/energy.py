# Energy counter, uptime, and the small state file that survives power loss.
from canplug.storage import read_json, write_json


class EnergyCounter:
    """Whole Wh as an int plus a remainder in joules: MicroPython floats are single precision,
    and adding 0.07 Wh to 12345.0 Wh in one float would be lost in rounding."""

    def __init__(self, wh=0):
        self.wh = int(wh)
        self._joules = 0.0

    def add(self, watts, ms):
        self._joules += watts * ms / 1000
        if self._joules >= 3600:
            whole = int(self._joules // 3600)
            self.wh += whole
            self._joules -= whole * 3600


class Uptime:
    """Seconds since boot. ticks_ms wraps after 2**30 ms (12.4 days) on MicroPython, so the
    elapsed time is accumulated; seconds() must be called at least every few days (it is every 1 s)."""

    def __init__(self, clock):
        self._clock = clock
        self._last = clock.ticks_ms()
        self._ms = 0

    def seconds(self):
        now = self._clock.ticks_ms()
        self._ms += self._clock.ticks_diff(now, self._last)
        self._last = now
        return self._ms // 1000


STATE_DEFAULTS = {"energy_wh": 0, "relay": False, "humidity_latched": False, "power_latched": False}


class StateStore:
    """state.json: energy, relay and latches. Flash wears out, so energy is written when a whole
    Wh has been added and at most every `interval_s`; relay and latch changes and trips are
    written at once (they are rare and matter after a power cut)."""

    def __init__(self, path, clock, interval_s):
        self.path = path
        self._clock = clock
        self._interval_ms = interval_s * 1000
        self._saved = None
        self._saved_at = clock.ticks_ms()
        self.writes = 0
        self.errors = 0

    def load(self):
        state = dict(STATE_DEFAULTS)
        stored = read_json(self.path)
        if stored:
            for key in STATE_DEFAULTS:
                if key in stored:
                    state[key] = stored[key]
        self._saved = dict(state)
        return state

    def save(self, state):
        try:
            write_json(self.path, state)
        except OSError:
            self.errors += 1  # flash full or failing: keep running, report through the counter
            return False
        self._saved = dict(state)
        self._saved_at = self._clock.ticks_ms()
        self.writes += 1
        return True

    def maybe_save(self, state):
        """Writes if the safety state changed, or energy grew and the interval has passed."""
        saved = self._saved or {}
        for key in ("relay", "humidity_latched", "power_latched"):
            if state[key] != saved.get(key):
                return self.save(state)
        if state["energy_wh"] != saved.get("energy_wh"):
            if self._clock.ticks_diff(self._clock.ticks_ms(), self._saved_at) >= self._interval_ms:
                return self.save(state)
        return False
