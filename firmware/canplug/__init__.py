# canplug smart-socket firmware (MicroPython on ESP32; also runs under CPython with the sim board).
FIRMWARE_VERSION = (1, 0)
