"""A Node on the simulated board with a virtual clock and a recording CAN port."""
import os
import shutil
import tempfile

from canplug import protocol as p
from canplug import settings
from canplug.hal.clocks import VirtualClock
from canplug.hal.sim import SimBoard
from canplug.node import Node


class RecordingPort:
    rx_depth = 4

    def __init__(self):
        self.sent = []
        self.up = True

    def send(self, can_id, data):
        if not self.up:
            return False
        self.sent.append((can_id, bytes(data)))
        return True

    def recv(self):
        return None

    def service(self):
        pass


class Harness:
    def __init__(self, test, config=None, directory=None, **plant_kw):
        if directory is None:
            directory = tempfile.mkdtemp()
            test.addCleanup(shutil.rmtree, directory, True)
        self.dir = directory
        self.config_path = os.path.join(directory, "config.json")
        self.state_path = os.path.join(directory, "state.json")
        if config is not None:
            settings.save_keys(self.config_path, config)
        self.cfg = settings.load(self.config_path)
        self.clock = VirtualClock(start_us=(1 << 30) * 1000 - 5000000)  # ticks_ms wraps 5 s in
        self.board = SimBoard(self.cfg, self.clock, conversion_us=12, **plant_kw)
        self.plant = self.board.plant
        self.node = Node(self.board, self.cfg, self.config_path, self.state_path)
        self.port = RecordingPort()
        self.node.use_port(self.port)

    def boot(self):
        """What app.run() does before its loops: announce, calibrate, first humidity poll."""
        self.node.announce_boot()
        self.node.calibrate()
        self.node.poll_humidity()
        self.node.apply_power_on_state()
        self.flush()

    def measure(self, times=1):
        for _ in range(times):
            before = self.clock.ticks_ms()
            reading = self.node.meter.measure_blocking()
            self.clock.advance_ms(150)
            self.node.on_power(reading, self.clock.ticks_diff(self.clock.ticks_ms(), before))
        self.flush()
        return self.node.reading

    def poll_humidity(self, humidity=None):
        if humidity is not None:
            self.plant.humidity = humidity
        self.clock.advance_ms(2000)
        ok = self.node.poll_humidity()
        self.flush()
        return ok

    def flush(self):
        self.node.flush(self.port)

    def command(self, opcode, token, *args):
        can_id, data = p.encode_command(self.node.node_id, opcode, token, bytes(args))
        self.port.sent.clear()
        self.node.handle_frame(can_id, data)
        self.flush()
        return self.reply()

    def reply(self):
        replies = self.messages("reply")
        return replies[-1] if replies else None

    def messages(self, kind=None):
        out = []
        for can_id, data in self.port.sent:
            m = p.decode(can_id, data)
            if kind is None or m["type"] == kind:
                out.append(m)
        return out

    def events(self):
        return [(m["code"], m["value"], m["flags"]) for m in self.messages("event")]

    def advance(self, ms, step_ms=10):
        """Lets the reporter run for `ms` of virtual time."""
        for _ in range(ms // step_ms):
            self.clock.advance_ms(step_ms)
            self.node.reporter.poll(self.clock.ticks_ms())
        self.flush()
