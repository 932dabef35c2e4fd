# The on-node protection layer (design section 2, layer 1). It owns the relay: every decision
# to open it is made here and takes effect on the GPIO at once; the CAN side only hears about
# it afterwards through `emit`, which just queues an event frame.
from canplug import protocol as p
from canplug.power_meter import FAULT_NONE, FAULT_SATURATED


class Relay:
    def __init__(self, pin, active_high=True):
        self._pin = pin
        self._active_high = active_high
        self.closed = False
        self.set(False)

    def set(self, closed):
        self.closed = bool(closed)
        self._pin.value(1 if self.closed == self._active_high else 0)


class Safety:
    """Humidity interlock with latch and hysteresis, sensor-fault fail-safe, overload trips.

    `cfg` is read live (limits change over CAN). `emit(code, value, flags)` queues an event;
    `on_change()` is told whenever relay or latches change (the node persists them)."""

    def __init__(self, relay, cfg, emit, on_change):
        self.relay = relay
        self.cfg = cfg
        self._emit = emit
        self._on_change = on_change
        self.humidity = None
        self.humidity_latched = False
        self.power_latched = False
        self.humidity_fault = False
        self.current_fault = FAULT_NONE
        self.voltage_fault = FAULT_NONE
        self._rearmed = False
        self._over_count = 0

    def status_byte(self):
        return p.status_byte(self.relay.closed, self.humidity_latched, self.power_latched, self.sensor_fault())

    def sensor_fault(self):
        return self.humidity_fault or self.current_fault != FAULT_NONE or self.voltage_fault != FAULT_NONE

    def _trip(self, code, value, flags=0):
        self.relay.set(False)  # first the relay, then the news
        self._emit(code, value, flags)
        self._on_change()

    # --- humidity -------------------------------------------------------------------------

    def rearm_level(self):
        return self.cfg["humidity_limit"] - self.cfg["humidity_hysteresis"]

    def humidity_reading(self, humidity):
        self.humidity = humidity
        if humidity >= self.cfg["humidity_limit"]:
            self._rearmed = False
            if not self.humidity_latched:
                self.humidity_latched = True
                self._trip(p.EV_HUMIDITY_TRIP, humidity * 10)
            elif self.relay.closed:  # cannot happen through commands; belt and braces
                self.relay.set(False)
                self._on_change()
        elif self.humidity_latched:
            below = humidity < self.rearm_level()
            if below and not self._rearmed:
                self._emit(p.EV_HUMIDITY_REARMED, humidity * 10, 0)
            self._rearmed = below

    def humidity_sensor(self, faulty, failures):
        if faulty and not self.humidity_fault:
            self.humidity_fault = True
            self._trip(p.EV_HUMIDITY_SENSOR_FAULT, failures)  # fail safe: no reading, no power
        elif not faulty:
            self.humidity_fault = False

    def _humidity_clear(self):
        return not self.humidity_fault and self.humidity is not None and self.humidity < self.rearm_level()

    # --- power ----------------------------------------------------------------------------

    def power_reading(self, reading):
        if reading.current_fault != self.current_fault:
            if reading.current_fault != FAULT_NONE:
                self._emit(p.EV_CURRENT_SENSOR_FAULT, reading.current_fault, 0)
            self.current_fault = reading.current_fault
        if reading.voltage_fault != self.voltage_fault:
            if reading.voltage_fault != FAULT_NONE:
                self._emit(p.EV_VOLTAGE_SENSOR_FAULT, reading.voltage_fault, 0)
            self.voltage_fault = reading.voltage_fault
        if not self.relay.closed:
            self._over_count = 0
            return
        limit_a = self.cfg["over_current_limit_a"]
        limit_w = self.cfg["power_limit_w"]
        saturated = reading.current_fault == FAULT_SATURATED
        # a clipped current is at least what it reads; past the sensor's range it cannot be
        # shown to be under the limit, so it counts as over (fail safe)
        over_current = limit_a > 0 and (reading.amps > limit_a or saturated)
        over_power = limit_w > 0 and reading.watts > limit_w
        if not (over_current or over_power):
            self._over_count = 0
            return
        self._over_count += 1
        if self._over_count < self.cfg["overload_trip_windows"]:
            return
        self._over_count = 0
        self.power_latched = True
        flags = p.EVF_SATURATED if saturated else 0
        if over_current:
            self._trip(p.EV_OVER_CURRENT, reading.amps * 1000, flags)
        else:
            self._trip(p.EV_OVER_POWER, reading.watts * 10, flags)

    # --- commands ---------------------------------------------------------------------------

    def open(self):
        if self.relay.closed:
            self.relay.set(False)
            self._on_change()
        return p.R_OK

    def close(self):
        """An explicit close: also the acknowledgement that clears a latch whose cause is gone."""
        if self.humidity_fault or self.humidity is None:
            return p.R_INTERLOCKED  # no trustworthy humidity reading: stay off
        if self.humidity_latched:
            if not self._humidity_clear():
                return p.R_INTERLOCKED
            self.humidity_latched = False
        self.power_latched = False  # the load is off while latched, so the condition has cleared
        if not self.relay.closed:
            self.relay.set(True)
        self._on_change()
        return p.R_OK

    def toggle(self):
        return self.open() if self.relay.closed else self.close()

    def reset_latch(self):
        """Clears the latches whose condition has cleared; the relay stays as it is (open)."""
        result = p.R_OK
        if self.humidity_latched:
            if self._humidity_clear():
                self.humidity_latched = False
            else:
                result = p.R_INTERLOCKED
        self.power_latched = False
        self._on_change()
        return result

    def restore_latches(self, humidity_latched, power_latched):
        """After a reboot: a latch survives power loss, like the trip that set it."""
        self.humidity_latched = bool(humidity_latched)
        self.power_latched = bool(power_latched)
