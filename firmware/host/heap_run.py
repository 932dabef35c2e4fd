"""The node for 10 simulated minutes in a fixed heap, on MicroPython's unix port:

    cd firmware && micropython -X heapsize=96K host/heap_run.py [minutes] [work directory]

The unix port holds its heap at exactly the size given, as the ESP32 does: it collects when an
allocation fails and raises MemoryError when the live data do not fit. The application runs as on
the board (app.run's asyncio tasks) on the simulated board of host/sim_node.py, with asyncio's clock
replaced by a simulated one, so the minutes pass in seconds; the scenario is host/heap_scenario.py,
as in test/firmware/vm-node-heap.test.ts. Prints the heap figures as one JSON line, then the
problems found, one a line; exit status 1 if there are any. MicroPython only (asyncio.core,
gc.mem_alloc); the figures are in firmware/README.md, "Memory".
"""
import gc
import json
import os
import sys

HERE = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
sys.path.insert(0, HERE + "/..")

import asyncio  # noqa: E402
from asyncio import core  # noqa: E402

from canplug import protocol, settings  # noqa: E402
from canplug.app import run  # noqa: E402
from canplug.hal.clocks import VirtualClock  # noqa: E402
from host import control, heap_scenario, sim_node  # noqa: E402

NODE = 5


class ScriptedPort:
    """The CAN seam: the scenario's frames in; the node's frames counted by kind (replies and events
    by their result and code), keeping as little as possible on the heap being measured."""

    def __init__(self):
        self.inbox = []
        self.sent = {protocol.POWER: 0, protocol.HEARTBEAT: 0, protocol.ENVIRONMENT: 0, protocol.ENERGY: 0,
                     protocol.REPLY: 0, protocol.EVENT: 0}
        self.results = []
        self.events = []
        self.peak_alloc = 0

    def send(self, can_id, data):
        base = can_id & 0x780
        self.sent[base] = self.sent.get(base, 0) + 1
        if base == protocol.REPLY:
            self.results.append(data[2])
        elif base == protocol.EVENT:
            self.events.append(data[0])
        return True

    def recv(self):
        used = gc.mem_alloc()  # sampled at every poll (10 ms): the heap's high-water mark
        if used > self.peak_alloc:
            self.peak_alloc = used
        if not self.inbox:
            return None
        can_id, data = self.inbox.pop(0)
        return can_id, data, False, False

    def service(self):
        pass


def _virtual_asyncio(clock):
    """asyncio on the simulated clock: its time source is the clock, and waiting moves the clock on."""
    def wait_io_event(dt):
        if dt > 0:
            clock.sleep_ms(dt)
    core.ticks = clock.ticks_ms
    core._io_queue.wait_io_event = wait_io_event


async def _serve(node, port, board, stopped):
    try:
        await run(node, port, board.led_pin)
    except Exception as e:  # main.py's last resort: relay open, then the board resets
        node.relay.set(False)
        stopped.append(repr(e))


async def _drive(node, board, port, minutes, figures):
    steps = heap_scenario.steps(NODE)
    for second in range(1, minutes * 60 + 1):
        for step in steps.get(second, ()):
            if step[0] == "frame":
                port.inbox.append((step[1], step[2]))
            else:
                control.apply(node, board.plant, step[1])
                sim_node.refill_tables(board)
                while sim_node.fill_tables(board):
                    pass
        await asyncio.sleep_ms(1000)
        if second % 10 == 0:
            gc.collect()
            figures["live_max"] = max(figures["live_max"], gc.mem_alloc())


def _problems(port, stopped, minutes, commands):
    problems = ["the application stopped: " + why for why in stopped]
    if port.sent[protocol.POWER] < minutes * 60 - 60:
        problems.append("power reports: %d" % port.sent[protocol.POWER])
    if port.sent[protocol.HEARTBEAT] < minutes * 60 - 5:
        problems.append("heartbeats: %d" % port.sent[protocol.HEARTBEAT])
    if len(port.results) != commands:
        problems.append("%d replies to %d commands" % (len(port.results), commands))
    if [r for r in port.results if r != protocol.R_OK] != [protocol.R_INTERLOCKED]:
        problems.append("reply results %r (one close refused while interlocked expected)" % port.results)
    for code in (protocol.EV_HUMIDITY_TRIP, protocol.EV_HUMIDITY_REARMED, protocol.EV_HUMIDITY_SENSOR_FAULT):
        if code not in port.events:
            problems.append("no event 0x%02x in %r" % (code, port.events))
    return problems


def main():
    minutes = int(sys.argv[1]) if len(sys.argv) > 1 else heap_scenario.MINUTES
    work = sys.argv[2] if len(sys.argv) > 2 else "/tmp/canplug-heap-run"
    try:
        os.mkdir(work)
    except OSError:
        pass  # there already
    config_path, state_path = work + "/config.json", work + "/state.json"
    for path in (config_path, state_path):
        try:
            os.remove(path)
        except OSError:
            pass
    settings.save_keys(config_path, {"node_id": NODE})
    clock = VirtualClock()
    _virtual_asyncio(clock)
    node, board = sim_node.make_node(settings.load(config_path), clock, config_path, state_path,
                                     {"humidity": 45, "load_w": 460})
    while sim_node.fill_tables(board):
        pass
    port = ScriptedPort()
    stopped = []
    figures = {"heap": gc.mem_alloc() + gc.mem_free(), "live_max": 0}

    async def everything():
        asyncio.create_task(_serve(node, port, board, stopped))
        await _drive(node, board, port, minutes, figures)

    asyncio.run(everything())
    gc.collect()
    figures["live_end"] = gc.mem_alloc()
    figures["free_end"] = gc.mem_free()
    figures["peak_alloc"] = port.peak_alloc
    figures["frames"] = {"power": port.sent[protocol.POWER], "heartbeat": port.sent[protocol.HEARTBEAT],
                         "reply": port.sent[protocol.REPLY], "event": port.sent[protocol.EVENT]}
    figures.update(sim_node.sampling_allocations(node.meter))  # the application has stopped
    commands = sum(1 for s in heap_scenario.steps(NODE).values() for step in s if step[0] == "frame")
    problems = _problems(port, stopped, minutes, commands)
    print(json.dumps(figures))
    for problem in problems:
        print("problem:", problem)
    sys.exit(1 if problems else 0)


main()
