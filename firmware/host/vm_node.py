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
import asyncio
import vm_host

from canplug import settings
from canplug.app import run
from canplug.power_meter import PowerMeter
from host import control, sim_node


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
    # The VM's ticks_us counts whole milliseconds: ADC sampling runs on a virtual clock of its own.
    # Its ADCs read tables: SimAdc's floats would fill this port's heap within one scheduler turn
    # (it collects only between calls from its host, as it cannot scan the WebAssembly stack).
    node, board = sim_node.make_node(cfg, time, config_path, state_path, json.loads(plant_json))
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
    if words and words[0] != "status":  # load, voltage or power factor may have changed
        sim_node.refill_tables(board)
    return json.dumps(answer)


def refresh_tables():
    """One slice of the ADC tables; True while there is more (the host calls it until False)."""
    return sim_node.fill_tables(board)


def collect():
    """Asks for a collection: this port runs it when the call returns to JavaScript."""
    gc.collect()


def heap():
    """Heap figures in bytes: allocated now, and the high-water mark seen by the CAN poll."""
    return json.dumps({"alloc": gc.mem_alloc(), "peak_alloc": port.peak_alloc})


def sampling_allocations():
    """sim_node.sampling_allocations() of a meter on this board's clock and ADCs, as JSON: a meter of
    its own, so that the running node's window is not disturbed. This port collects nothing during
    a call, so the gc.mem_alloc() differences are exact."""
    meter = PowerMeter(board.sample_clock, board.adc_voltage, board.adc_current, node.cfg)
    return json.dumps(sim_node.sampling_allocations(meter))

