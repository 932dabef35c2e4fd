"""machine.SPI and a chip-select machine.Pin for a simulated SPI device.

The device provides cs_falling(), cs_rising() and exchange(byte) -> byte."""


class ChipSelect:
    """machine.Pin driving the device's active-low CS: edges frame its transactions."""

    def __init__(self, chip):
        self._chip = chip
        self._level = 1

    def value(self, v=None):
        if v is None:
            return self._level
        v = 1 if v else 0
        if v == 0 and self._level == 1:
            self._chip.cs_falling()
        elif v == 1 and self._level == 0:
            self._chip.cs_rising()
        self._level = v


class SpiBus:
    """machine.SPI's surface (write, read, readinto, write_readinto), one byte exchanged at a time."""

    def __init__(self, chip):
        self._chip = chip

    def write(self, buf):
        for b in bytes(buf):
            self._chip.exchange(b)

    def read(self, n, write=0x00):
        return bytes(self._chip.exchange(write) for _ in range(n))

    def readinto(self, buf, write=0x00):
        for k in range(len(buf)):
            buf[k] = self._chip.exchange(write)

    def write_readinto(self, out, into):
        for k, b in enumerate(bytes(out)):
            into[k] = self._chip.exchange(b)
