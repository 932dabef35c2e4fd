# ESP32 entry point: MicroPython runs this after boot.py. Config in /config.json, state in /state.json.
import time

from canplug import settings
from canplug.app import asyncio, run
from canplug.hal.esp32 import Esp32Board
from canplug.node import Node
from canplug.offline_port import OfflinePort

CONFIG_PATH = "/config.json"
STATE_PATH = "/state.json"
WATCHDOG_MS = 8000


def _blink_forever(pin_number, why):
    import machine
    print("canplug: cannot start:", why)
    led = machine.Pin(pin_number, machine.Pin.OUT)
    while True:  # relay pin never configured: it stays as reset left it, and the config says how to fix it
        led.value(not led.value())
        time.sleep_ms(100)


def main():
    try:
        cfg = settings.load(CONFIG_PATH)
    except settings.ConfigError as e:
        for problem in e.errors:
            print("config:", problem)
        _blink_forever(settings.DEFAULT_PINS["led"], "%d problem(s) in %s" % (len(e.errors), CONFIG_PATH))
    board = Esp32Board(cfg)
    node = Node(board, cfg, CONFIG_PATH, STATE_PATH)
    port = board.can
    try:
        ids = node.can_ids()
        port.start(cfg["bitrate"], ids, self_test_id=ids[0])
    except Exception as e:  # no MCP2515, wrong wiring: keep protecting locally
        print("canplug: CAN unavailable:", e)
        port = OfflinePort(str(e))
        node.can_fault = True
    try:
        asyncio.run(run(node, port, board.led_pin, board.watchdog(WATCHDOG_MS)))
    except Exception as e:
        node.relay.set(False)
        print("canplug: stopped:", repr(e))
        time.sleep_ms(1000)
        board.restart()


main()
