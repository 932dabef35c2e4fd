# What the node says on the bus by itself: heartbeat, periodic readings, energy; and the
# outbox the CAN task drains. Protection code only ever appends to the outbox.
from canplug import FIRMWARE_VERSION
from canplug import protocol as p
from canplug import seed


class Outbox:
    """Frames waiting for a free transmit buffer; the oldest is dropped when it overflows."""

    def __init__(self, limit=32):
        self.frames = []
        self.limit = limit
        self.dropped = 0
        self.sent = 0
        self.replies_sent = 0  # command replies the controller took (a new firmware's health check)

    def push(self, frame):
        if len(self.frames) >= self.limit:
            self.frames.pop(0)
            self.dropped += 1
        self.frames.append(frame)

    def flush(self, port):
        while self.frames:
            if not port.send(*self.frames[0]):
                return  # controller busy: try again next round
            can_id = self.frames.pop(0)[0]
            self.sent += 1
            if can_id & 0x780 == p.REPLY:
                self.replies_sent += 1


class Every:
    """A period on a wrapping tick counter that does not drift and does not burst after a stall."""

    def __init__(self, clock, period_ms, first_in_ms=0):
        self._clock = clock
        self.period_ms = period_ms
        self._next = clock.ticks_add(clock.ticks_ms(), first_in_ms)

    def due(self, now):
        late = self._clock.ticks_diff(now, self._next)
        if late < 0:
            return False
        step = self.period_ms if late < self.period_ms else late + self.period_ms
        self._next = self._clock.ticks_add(self._next, step)
        return True

    def restart(self, now, period_ms=None):
        if period_ms is not None:
            self.period_ms = period_ms
        self._next = self._clock.ticks_add(now, self.period_ms)


class V1Reporter:
    HEARTBEAT_MS = 1000

    def __init__(self, node):
        self.node = node
        clock = node.clock
        self._heartbeat = Every(clock, self.HEARTBEAT_MS)
        self._readings = Every(clock, node.cfg["report_period_ms"], node.cfg["report_period_ms"])
        self._energy = Every(clock, node.cfg["energy_report_s"] * 1000, node.cfg["energy_report_s"] * 1000)
        self.power_seq = 0
        self.env_seq = 0
        self.heartbeats = 0

    def poll(self, now):
        if self._heartbeat.due(now):
            self.heartbeat()
        if self._readings.due(now):
            self.power()
            self.environment()
        if self._energy.due(now):
            self.energy()

    def set_period(self, ms):
        self._readings.restart(self.node.clock.ticks_ms(), ms)

    def report_now(self):
        self.power()
        self.environment()
        self.energy()
        self.heartbeat()

    def heartbeat(self):
        n = self.node
        self.heartbeats += 1
        n.outbox.push(p.encode_heartbeat(n.node_id, n.heartbeat_state(), FIRMWARE_VERSION[0], FIRMWARE_VERSION[1],
                                         n.uptime.seconds()))

    def power(self):
        n = self.node
        r = n.reading
        if r is None:
            return
        n.outbox.push(p.encode_power(n.node_id, r.volts, r.amps, r.watts, n.safety.status_byte(), self.power_seq))
        self.power_seq = (self.power_seq + 1) & 0xFF

    def environment(self):
        n = self.node
        h, t = n.dht.humidity, n.dht.temperature
        if h is None and not n.dht.faulty:
            return  # nothing measured yet
        n.outbox.push(p.encode_environment(n.node_id, h or 0, t or 0, n.cfg["humidity_limit"],
                                           n.cfg["humidity_hysteresis"], n.safety.status_byte(), self.env_seq))
        self.env_seq = (self.env_seq + 1) & 0xFF

    def energy(self):
        n = self.node
        n.outbox.push(p.encode_energy(n.node_id, n.energy.wh, n.uptime.seconds()))


class SeedReporter:
    """The original socket's frames: voltage, current, power as "<b6>.<b7>", humidity in b7."""

    def __init__(self, node):
        self.node = node
        self._readings = Every(node.clock, node.cfg["report_period_ms"], node.cfg["report_period_ms"])

    def poll(self, now):
        if self._readings.due(now):
            self.report_now()

    def set_period(self, ms):
        self._readings.restart(self.node.clock.ticks_ms(), ms)

    def report_now(self):
        n = self.node
        r = n.reading
        if r is not None:
            n.outbox.push(seed.encode_decimal(seed.VOLTAGE_ID, r.volts))
            n.outbox.push(seed.encode_decimal(seed.CURRENT_ID, r.amps))
            n.outbox.push(seed.encode_decimal(seed.POWER_ID, r.watts))
        if n.dht.humidity is not None:
            n.outbox.push(seed.encode_humidity(n.dht.humidity))

    heartbeats = 0

    def heartbeat(self):
        pass  # the legacy profile has none
