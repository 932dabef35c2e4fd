"""The socket firmware's application on the MicroPython VM (test/helpers/vm-node.ts boots it).

What main.py does on the ESP32, on the simulated board of canplug/hal/sim.py: the configuration is
loaded (its problems listed, nothing started), the node's real asyncio tasks run on the VM's asyncio,
its CAN port is bridged to the VM's host (and from there to a gateway transport), and main.py's last
resort stands: an exception that escapes the application opens the relay and asks for a reset.
MicroPython only (it imports the VM host's module vm_host); never on the socket.
"""
import gc
import json
import time
from array import array

import asyncio
import vm_host

from canplug import settings
from canplug.app import run
from canplug.hal.clocks import VirtualClock
from canplug.hal.sim import SimBoard, SimPin
from canplug.node import Node
from canplug.power_meter import PowerMeter
from host import control


def _hex(data):
    return "".join("%02x" % b for b in data)  # not bytes.hex(): b"".hex() is b"" on MicroPython 1.27


class BridgePort:
    """The CAN seam (canplug/can_port.py) on the VM's host. `bus_off`: the controller neither sends
    nor receives (what bus-off is to the application; the MCP2515's recovery is its driver's)."""

    rx_depth = 64  # the host queues every frame; the MCP2515 of a board holds 2 (canplug/can_port.py)

    def __init__(self):
        self.bus_off = False
        self.sent = 0
        self.refused = 0
        self.peak_alloc = 0

    def send(self, can_id, data):
        if self.bus_off:
            self.refused += 1
            return False
        vm_host.can_send(can_id, _hex(data))
        self.sent += 1
        return True

    def recv(self):
        used = gc.mem_alloc()  # sampled at every poll (10 ms): the heap's high-water mark
        if used > self.peak_alloc:
            self.peak_alloc = used
        frame = vm_host.can_recv()
        while frame is not None and self.bus_off:
            frame = vm_host.can_recv()  # a controller off the bus hears nothing
        if frame is None:
            return None
        return frame[0], bytes.fromhex(frame[1]), bool(frame[2]), bool(frame[3])

    def service(self):
        pass


class TableAdc:
    """The simulated sensor (SimAdc) sampled ahead into a table: read() then allocates nothing, as
    machine.ADC.read() on the board. The VM's heap is only collected between the scheduler's turns
    (the port cannot scan the WebAssembly stack), so SimAdc's floats would fill it within one turn.
    `refresh()` after the plant changes; the relay picks one of two tables."""

    PERIODS = 8  # noise varies over 8 mains periods, then repeats

    def __init__(self, sim_adc, plant, clock, slots, period_us):
        self._sim, self._plant, self._clock = sim_adc, plant, clock
        self._slots, self._period_us = slots, period_us
        self._tables = (array("H", [0] * (slots * self.PERIODS)), array("H", [0] * (slots * self.PERIODS)))
        self.refresh()

    def refresh(self):
        """Starts filling the tables again; refresh_step() fills them a slice at a time."""
        self._next = 0

    def refresh_step(self, count=16):
        """Fills `count` entries; False once the tables are complete. In slices, so that the VM's host
        can collect SimAdc's garbage between calls (refresh_tables() below)."""
        p = self._plant
        size = len(self._tables[0])
        saved_clock, saved_pin = p.clock, p.relay_pin
        p.clock = ahead = VirtualClock()
        end = min(size * 2, self._next + count)
        for j in range(self._next, end):
            closed, k = j // size, j % size
            p.relay_pin = SimPin(1 if (closed == 1) == p.relay_active_high else 0)
            ahead.us = k * self._period_us // self._slots
            self._tables[closed][k] = self._sim.read()
        p.clock, p.relay_pin = saved_clock, saved_pin
        self._next = end
        return end < size * 2

    def read(self):
        t = self._clock.ticks_us() % (self._period_us * self.PERIODS)
        return self._tables[1 if self._plant.relay_closed() else 0][t * self._slots // self._period_us]


node = board = port = None


def boot(config_path, state_path, plant_json):
    """main.py on the simulated board; False (and the problems printed) for a bad config.json."""
    global node, board, port
    try:
        cfg = settings.load(config_path)
    except settings.ConfigError as e:
        for problem in e.errors:
            print("config:", problem)
        print("canplug: cannot start: %d problem(s) in %s" % (len(e.errors), config_path))
        return False
    # ADC sampling on virtual time, as host/run.py does: the VM's ticks_us counts whole milliseconds.
    board = SimBoard(cfg, time, conversion_us=12, sample_clock=VirtualClock(), **json.loads(plant_json))
    slots, period_us = 2 * cfg["samples_per_cycle"], 1000000 // cfg["mains_hz"]
    board.adc_voltage, board.adc_current = [TableAdc(adc, board.plant, board.sample_clock, slots, period_us)
                                            for adc in (board.adc_voltage, board.adc_current)]
    node = Node(board, cfg, config_path, state_path)
    board.on_restart = vm_host.reset  # machine.reset(): the host boots the node again from its flash
    port = BridgePort()
    return True


def start():
    """After boot() and refresh_tables(): the application's tasks."""
    asyncio.create_task(_serve())


async def _serve():
    try:
        await run(node, port, board.led_pin)
    except Exception as e:  # main.py's last resort: relay open, then the board resets
        node.relay.set(False)
        print("canplug: stopped:", repr(e))
        vm_host.reboot(repr(e))


def command(line):
    """A control line (host/control.py), or `bus-off on|off`; the answer as JSON."""
    words = line.split()
    if words and words[0] == "bus-off" and words[1:] in (["on"], ["off"]):
        port.bus_off = words[1] == "on"
        return json.dumps({"ok": True, "bus_off": port.bus_off})
    answer = control.apply(node, board.plant, line)
    board.adc_voltage.refresh()  # load, voltage or power factor may have changed
    board.adc_current.refresh()
    return json.dumps(answer)


def refresh_tables():
    """One slice of the ADC tables; True while there is more (the host calls it until False)."""
    more_v = board.adc_voltage.refresh_step()
    more_i = board.adc_current.refresh_step()
    return more_v or more_i


def collect():
    """Asks for a collection: this port runs it when the call returns to JavaScript."""
    gc.collect()


def heap():
    """Heap figures in bytes: allocated now, and the high-water mark seen by the CAN poll."""
    return json.dumps({"alloc": gc.mem_alloc(), "peak_alloc": port.peak_alloc})


class _TableAdc:
    """machine.ADC.read() that allocates nothing, as on the board: counts from a fixed table."""

    def __init__(self, counts):
        self._counts = counts
        self._k = 0

    def read(self):
        self._k = (self._k + 1) % len(self._counts)
        return self._counts[self._k]


def sampling_allocations():
    """Bytes the power meter allocates per measurement window and per sample, with ADC reads that
    allocate nothing: the firmware's own cost, not the simulator's. Nothing is collected during a
    call on this port, so mem_alloc() differences are exact."""
    counts = array("H", [2048 + (k * 37) % 400 for k in range(97)])
    cfg = node.cfg
    out = {}
    for n in (20, 40):
        local = dict(cfg)
        local["samples_per_cycle"] = n
        meter = PowerMeter(VirtualClock(), _TableAdc(counts), _TableAdc(counts), local)
        meter.measure_blocking()  # first window: lazily created state
        before = gc.mem_alloc()
        meter.begin()
        for _ in range(meter.cycles):
            meter.sample_one_cycle()
        sampled = gc.mem_alloc()
        meter.finish()
        out[n] = (sampled - before, gc.mem_alloc() - before)
    per_sample = (out[40][0] - out[20][0]) / (20 * 2 * cfg["cycles_per_measurement"])
    return json.dumps({"window": out[40][1], "sampling": out[40][0], "per_sample": per_sample,
                       "samples_per_window": 2 * 40 * cfg["cycles_per_measurement"]})
