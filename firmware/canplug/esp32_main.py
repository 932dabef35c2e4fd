# The firmware's start on the ESP32, called by main.py once the boot step (boot_slots.py) has picked the
# slot: config, board, node, CAN, then the tasks. It lives in the slot, so an update can change it;
# main.py only calls run(config_path, state_path).
import time

from canplug import settings
from canplug.app import asyncio, run as run_tasks
from canplug.hal.esp32 import Esp32Board
from canplug.node import Node
from canplug.offline_port import OfflinePort

WATCHDOG_MS = 8000


def _blink_forever(pin_number, why):
    import machine
    print("canplug: cannot start:", why)
    led = machine.Pin(pin_number, machine.Pin.OUT)
    while True:  # relay pin never configured: it stays as reset left it, and the config says how to fix it
        led.value(not led.value())
        time.sleep_ms(100)


def run(config_path, state_path):
    try:
        cfg = settings.load(config_path)
    except settings.ConfigError as e:
        for problem in e.errors:
            print("config:", problem)
        _blink_forever(settings.DEFAULT_PINS["led"], "%d problem(s) in %s" % (len(e.errors), config_path))
    board = Esp32Board(cfg)
    node = Node(board, cfg, config_path, state_path)
    port = board.can
    try:
        ids = node.can_ids()
        port.start(cfg["bitrate"], ids, self_test_id=ids[0])
    except Exception as e:  # no MCP2515, wrong wiring: keep protecting locally
        print("canplug: CAN unavailable:", e)
        port = OfflinePort(str(e))
        node.can_fault = True
    try:
        asyncio.run(run_tasks(node, port, board.led_pin, board.watchdog(WATCHDOG_MS)))
    except Exception as e:
        node.relay.set(False)
        print("canplug: stopped:", repr(e))
        time.sleep_ms(1000)
        board.restart()
