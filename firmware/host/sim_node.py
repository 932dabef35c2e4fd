"""The node on the simulated board, as the MicroPython runs set it up: on the VM (host/vm_node.py)
and on MicroPython's unix port with a fixed heap (host/heap_run.py). Runs on CPython as well.

The ADCs read tables (canplug/hal/sim.py TableAdc): allocation-free like machine.ADC.read(), so
heap figures show the firmware's own allocations. ADC sampling runs on a virtual sample clock of its
own, as host/run.py does."""
import gc

from canplug.hal.clocks import VirtualClock
from canplug.hal.sim import SimBoard, TableAdc
from canplug.node import Node


def make_node(cfg, clock, config_path, state_path, plant):
    """-> (node, board); `plant`: SimPlant keywords (humidity, load_w, ...). Fill the tables next."""
    board = SimBoard(cfg, clock, conversion_us=12, sample_clock=VirtualClock(), **plant)
    slots, period_us = 2 * cfg["samples_per_cycle"], 1000000 // cfg["mains_hz"]
    board.adc_voltage, board.adc_current = [TableAdc(adc, board.plant, board.sample_clock, slots, period_us)
                                            for adc in (board.adc_voltage, board.adc_current)]
    return Node(board, cfg, config_path, state_path), board


def fill_tables(board):
    """One slice of both ADCs' tables; True while there is more."""
    more_v = board.adc_voltage.fill_step()
    more_i = board.adc_current.fill_step()
    return more_v or more_i


def refill_tables(board):
    """After the plant changed (load, voltage, power factor): fill_tables() until False again."""
    board.adc_voltage.refill()
    board.adc_current.refill()


def sampling_allocations(meter):
    """Bytes that one measurement window of `meter` allocates: while sampling (the target is nothing
    at all) and for the whole window, its maths and Reading included. MicroPython only
    (gc.mem_alloc); exact when nothing is collected meanwhile (the window allocates far less than
    a collection takes to be due)."""
    meter.measure_blocking()  # a first window, so that nothing is created lazily below
    gc.collect()
    before = gc.mem_alloc()
    meter.begin()
    for _ in range(meter.cycles):
        meter.sample_one_cycle()
    sampled = gc.mem_alloc()
    meter.finish()
    done = gc.mem_alloc()
    return {"sampling": sampled - before, "window": done - before,
            "samples_per_window": 2 * meter.n * meter.cycles, "late_cycles": meter.late_cycles}
