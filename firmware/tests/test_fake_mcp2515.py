"""The fake MCP2515 itself, driven by raw SPI bytes: the driver's tests are only as good as it."""
import unittest

from host.fake_can_bus import FakeBus
from host.fake_mcp2515 import FakeMcp2515


def spi(chip, out, n_in=0):
    chip.cs.value(0)
    chip.spi.write(bytes(out))
    data = chip.spi.read(n_in)
    chip.cs.value(1)
    return data


class FakeMcp2515Test(unittest.TestCase):
    def setUp(self):
        self.chip = FakeMcp2515()
        self.bus = FakeBus(125000)
        self.bus.attach(self.chip)

    def test_powers_up_in_configuration_mode_with_canctrl_0x87(self):
        self.assertEqual(spi(self.chip, [0x03, 0x0E], 2), bytes((0x80, 0x87)))

    def test_write_and_read_auto_increment_across_registers(self):
        spi(self.chip, [0x02, 0x28, 0x05, 0xB1, 0x03])  # CNF3, CNF2, CNF1
        self.assertEqual(spi(self.chip, [0x03, 0x28], 3), bytes((0x05, 0xB1, 0x03)))

    def test_canstat_and_canctrl_are_mirrored_at_every_xe_and_xf(self):
        self.assertEqual(spi(self.chip, [0x03, 0x5E], 2), bytes((0x80, 0x87)))

    def test_filters_read_zero_and_ignore_writes_outside_configuration_mode(self):
        spi(self.chip, [0x02, 0x00, 0x40, 0x20])
        spi(self.chip, [0x02, 0x0F, 0x00])  # normal mode
        self.assertEqual(spi(self.chip, [0x03, 0x00], 2), b"\x00\x00")
        spi(self.chip, [0x02, 0x00, 0x11])
        spi(self.chip, [0x02, 0x0F, 0x80])
        self.assertEqual(spi(self.chip, [0x03, 0x00], 2), bytes((0x40, 0x20)))

    def test_bit_modify_changes_only_masked_bits_where_supported_else_writes_the_byte(self):
        spi(self.chip, [0x02, 0x2B, 0xF0])
        spi(self.chip, [0x05, 0x2B, 0x0C, 0xFF])  # CANINTE supports bit modify
        self.assertEqual(spi(self.chip, [0x03, 0x2B], 1)[0], 0xFC)
        spi(self.chip, [0x02, 0x31, 0xF0])
        spi(self.chip, [0x05, 0x31, 0x0C, 0x03])  # TXB0SIDH does not: mask forced to 0xFF
        self.assertEqual(spi(self.chip, [0x03, 0x31], 1)[0], 0x03)

    def test_read_status_repeats_while_clocked(self):
        self.assertEqual(spi(self.chip, [0xA0], 3), b"\x00\x00\x00")

    def test_reset_restores_configuration_mode_from_normal(self):
        spi(self.chip, [0x02, 0x0F, 0x00])
        self.assertEqual(self.chip.mode_name(), "normal")
        spi(self.chip, [0xC0])
        self.assertEqual(self.chip.mode_name(), "configuration")

    def _receive_one(self, can_id, data):
        spi(self.chip, [0x02, 0x28, 0x01, 0xAE, 0x01])  # CNF3, CNF2, CNF1: 125 kbit/s at 8 MHz
        spi(self.chip, [0x02, 0x60, 0x60])  # RXB0: any message
        spi(self.chip, [0x02, 0x0F, 0x00])
        self.assertTrue(self.bus.inject(can_id, data))

    def test_read_rx_buffer_clears_the_flag_only_when_cs_rises(self):
        self._receive_one(0x123, b"\x11\x22")
        self.chip.cs.value(0)
        self.chip.spi.write(b"\x92")  # READ RX BUFFER, RXB0 from D0
        self.assertEqual(self.chip.spi.read(2), b"\x11\x22")
        self.assertEqual(self.chip.regs[0x2C] & 0x01, 0x01)
        self.chip.cs.value(1)
        self.assertEqual(self.chip.regs[0x2C] & 0x01, 0x00)

    def test_rx_status_reports_buffer_type_and_filter(self):
        self._receive_one(0x123, b"")
        self.assertEqual(spi(self.chip, [0xB0], 1)[0], 0x40)
        self.assertEqual(self.chip.int_pin.value(), 1, "no interrupt enabled")
        spi(self.chip, [0x02, 0x2B, 0x01])
        self.assertEqual(self.chip.int_pin.value(), 0)

    def test_load_tx_buffer_data_variant_and_rts_put_the_frame_on_the_bus(self):
        seen = []
        self.bus.add_peer(seen.append)
        spi(self.chip, [0x02, 0x28, 0x01, 0xAE, 0x01])
        spi(self.chip, [0x40, 0x24, 0x60, 0x00, 0x00, 0x02, 0xAA, 0xBB])  # id 0x123, DLC 2
        spi(self.chip, [0x41, 0xCC])  # TXB0 from D0
        spi(self.chip, [0x02, 0x0F, 0x00])
        spi(self.chip, [0x81])
        self.assertEqual(seen, [(0x123, b"\xcc\xbb", False, False)])
        self.assertEqual(self.chip.regs[0x2C] & 0x04, 0x04, "TX0IF")

    def test_a_lone_node_without_ack_stops_counting_at_error_passive(self):
        chip = FakeMcp2515()
        FakeBus(125000).attach(chip)
        spi(chip, [0x02, 0x28, 0x01, 0xAE, 0x01])
        spi(chip, [0x02, 0x0F, 0x00])
        spi(chip, [0x40, 0x24, 0x60, 0x00, 0x00, 0x00])
        for _ in range(40):
            spi(chip, [0x81])
        self.assertEqual(spi(chip, [0x03, 0x1C], 1)[0], 128)
        self.assertEqual(chip.regs[0x2D] & 0x30, 0x10, "TXEP, not bus-off")


if __name__ == "__main__":
    unittest.main()
