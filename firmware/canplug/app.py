# The firmware's tasks on asyncio (MicroPython's asyncio on the socket, CPython's on a host),
# after the original design's three: measure, protect, communicate; plus the status LED.
# Protection never waits on the CAN path: it switches the relay pin itself and only appends
# the news to the outbox, which the communicate task drains.
try:
    import asyncio
except ImportError:  # MicroPython before 1.21
    import uasyncio as asyncio

from canplug.humidity import RETRY_MS

CAN_POLL_MS = 10
TRANSFER_POLL_MS = 2  # while an update's frames come in: the controller holds only two
UPDATE_IDLE_MS = 50
CAN_SERVICE_MS = 100
LED_MS = 125


async def _sleep_ms(ms):
    await asyncio.sleep(ms / 1000)


async def measure(node):
    """Voltage, current, power and energy; over-current and over-power trips."""
    node.calibrate()  # the relay is still open: this is the no-load zero point
    clock = node.clock
    last = clock.ticks_ms()
    while True:
        node.meter.begin()
        for _ in range(node.meter.cycles):
            node.meter.sample_one_cycle()  # one mains period, then let the others run
            await asyncio.sleep(0)
        reading = node.meter.finish()
        if reading is not None:  # None: the loop was held up for the whole window
            now = clock.ticks_ms()
            node.on_power(reading, clock.ticks_diff(now, last))
            last = now
        await _sleep_ms(node.cfg["measure_period_ms"])


async def protect(node):
    """Humidity and the relay: the interlock, sensor faults, the power-on state."""
    while not node.calibrated:
        await _sleep_ms(20)
    while True:
        ok = node.poll_humidity()
        if node.booting and (ok or node.dht.faulty):
            node.apply_power_on_state()
        await _sleep_ms(node.cfg["dht_period_ms"] if ok else RETRY_MS)


async def communicate(node, port, watchdog=None):
    """Commands in, replies, events and reports out, CAN error handling."""
    clock = node.clock
    last_service = clock.ticks_ms()
    while True:
        frame = port.recv()
        while frame is not None:
            node.handle_frame(*frame)
            frame = port.recv()
        now = clock.ticks_ms()
        node.reporter.poll(now)
        node.flush(port)
        if clock.ticks_diff(now, last_service) >= CAN_SERVICE_MS:
            last_service = now
            port.service()
            if watchdog is not None:
                watchdog.feed()
        await _sleep_ms(TRANSFER_POLL_MS if node.updating() else CAN_POLL_MS)


async def update(node):
    """Firmware updates: the signature check and the read-back run here in steps (update.py)."""
    while True:
        busy = node.poll_updates(node.clock.ticks_ms())
        await _sleep_ms(0 if busy else UPDATE_IDLE_MS)


async def indicate(node, led, active_high=True):
    while True:
        level = node.led_level(node.clock.ticks_ms())
        led.value(level if active_high else 1 - level)
        await _sleep_ms(LED_MS)


async def run(node, port, led=None, watchdog=None):
    node.use_port(port)
    node.announce_boot()
    tasks = [asyncio.create_task(communicate(node, port, watchdog)),
             asyncio.create_task(measure(node)),
             asyncio.create_task(protect(node)),
             asyncio.create_task(update(node))]
    if led is not None:
        tasks.append(asyncio.create_task(indicate(node, led, node.cfg["led_active_high"])))
    await asyncio.gather(*tasks)
