# The socket's real hardware (MicroPython on ESP32). Pins come from config["pins"]; see README.
import time

import dht
import machine

from canplug import mcp2515
from canplug.can_port import Mcp2515Port


def _adc(gpio):
    adc = machine.ADC(machine.Pin(gpio))
    adc.atten(machine.ADC.ATTN_11DB)  # about 0.15..3.1 V full range
    try:
        adc.width(machine.ADC.WIDTH_12BIT)  # older ports; newer ones read 12 bits anyway
    except AttributeError:
        pass
    return adc


class Esp32Board:
    def __init__(self, cfg):
        pins = cfg["pins"]
        # The relay first, driven open: GPIO 15 is a strapping pin that floats high at reset.
        open_level = 0 if cfg["relay_active_high"] else 1
        self.relay_pin = machine.Pin(pins["relay"], machine.Pin.OUT, value=open_level)
        self.led_pin = machine.Pin(pins["led"], machine.Pin.OUT, value=0 if cfg["led_active_high"] else 1)
        self.clock = time  # ticks_ms, ticks_us, ticks_diff, ticks_add, sleep_ms, sleep_us
        self.sample_clock = time
        self.adc_voltage = _adc(pins["zmpt101b"])
        self.adc_current = _adc(pins["acs712"])
        sensor = dht.DHT22 if cfg["dht_type"] == "dht22" else dht.DHT11
        self.dht = sensor(machine.Pin(pins["dht"], machine.Pin.IN, machine.Pin.PULL_UP))
        self.reset_cause = machine.reset_cause()
        spi = machine.SPI(pins["spi_id"], baudrate=cfg["spi_baudrate"], polarity=0, phase=0,
                          sck=machine.Pin(pins["sck"]), mosi=machine.Pin(pins["mosi"]), miso=machine.Pin(pins["miso"]))
        cs = machine.Pin(pins["cs"], machine.Pin.OUT, value=1)
        int_pin = machine.Pin(pins["int"], machine.Pin.IN, machine.Pin.PULL_UP)
        driver = mcp2515.Mcp2515(spi, cs, time, cfg["crystal_hz"])
        self.can = Mcp2515Port(driver, int_pin, cfg["can_restart_ms"])

    def watchdog(self, timeout_ms):
        return machine.WDT(timeout=timeout_ms)

    def restart(self):
        machine.reset()
