"""The MCP2515 driver against the register-level fake: every byte goes through its SPI."""
import unittest

from canplug import mcp2515 as m
from canplug.hal.clocks import VirtualClock
from host.fake_can_bus import FakeBus
from host.fake_mcp2515 import FakeMcp2515

NODE = 5
NODE_IDS = [0x200 + NODE, 0x000]


class _Floating:
    """An SPI bus with nothing on it: MISO floats high."""

    def write(self, buf):
        pass

    def read(self, n, write=0):
        return b"\xff" * n


class _Pin:
    def value(self, v=None):
        return 1


def instruction_name(byte):
    if byte & 0xF8 == 0x40:
        return "LOAD TX BUFFER"
    if byte & 0xF8 == 0x80:
        return "RTS"
    if byte & 0xF9 == 0x90:
        return "READ RX BUFFER"
    return byte


def make_node(bus, crystal_hz=8000000, configured_crystal=8000000, ids=NODE_IDS, bitrate=125000):
    chip = FakeMcp2515(crystal_hz=crystal_hz)
    bus.attach(chip)
    driver = m.Mcp2515(chip.spi, chip.cs, VirtualClock(), configured_crystal)
    driver.start(bitrate, ids)
    return chip, driver


class DriverSetupTest(unittest.TestCase):
    def setUp(self):
        self.bus = FakeBus(125000)
        self.seen = []
        self.bus.add_peer(self.seen.append)
        self.chip, self.driver = make_node(self.bus)

    def test_start_configures_bitrate_rollover_interrupts_and_normal_mode(self):
        self.assertEqual(self.chip.bitrate(), 125000)
        self.assertEqual(self.chip.mode_name(), "normal")
        self.assertEqual(self.chip.regs[0x60] & 0x04, 0x04, "BUKT")
        self.assertEqual(self.chip.regs[0x2B], 0x23)

    def test_reset_without_a_chip_on_the_bus_says_so(self):
        driver = m.Mcp2515(_Floating(), _Pin(), VirtualClock())
        with self.assertRaises(m.Mcp2515Error) as e:
            driver.reset()
        self.assertIn("wiring", str(e.exception))

    def test_mode_changes_wait_for_canstat_to_confirm(self):
        self.chip.mode_delay_reads = 3
        self.driver.set_mode(m.MODE_LISTEN_ONLY)
        self.assertEqual(self.chip.mode_name(), "listen-only")
        self.chip.refuse_mode_change = True
        with self.assertRaises(m.Mcp2515Error):
            self.driver.set_mode(m.MODE_CONFIG)

    def test_sends_standard_extended_and_remote_frames(self):
        self.assertTrue(self.driver.send(0x185, b"\x01\x02\x03\x04\x05\x06\x07\x08"))
        self.assertTrue(self.driver.send(0x1ABCDEF5, b"\x09", ext=True))
        self.assertTrue(self.driver.send(0x705, b"", rtr=True))
        self.assertEqual(self.seen, [(0x185, bytes(range(1, 9)), False, False),
                                     (0x1ABCDEF5, b"\x09", True, False), (0x705, b"", False, True)])

    def test_frames_queued_behind_a_busy_bus_leave_in_queue_order(self):
        self.chip.hold_transmissions = True
        for k in range(3):
            self.assertTrue(self.driver.send(0x185, bytes((k,))))
        self.assertFalse(self.driver.send(0x185, b"\x03"), "all three buffers are busy")
        self.chip.release()
        self.assertEqual([f[1] for f in self.seen], [b"\x00", b"\x01", b"\x02"])
        self.assertTrue(self.driver.send(0x185, b"\x04"))

    def test_receives_only_its_command_id_and_discovery(self):
        for can_id in (0x206, 0x185, 0x001, 0x205 ^ 0x400):
            self.bus.inject(can_id, b"\x01\x00")
        self.bus.inject(0x205, b"\x01\x00", ext=True)
        self.assertIsNone(self.driver.recv())
        self.bus.inject(0x205, b"\x01\x07\x01\x00\x00\x00\x00\x00")
        self.assertEqual(self.driver.recv(), (0x205, b"\x01\x07\x01\x00\x00\x00\x00\x00", False, False))
        self.bus.inject(0x000, b"\x01\x00")
        self.assertEqual(self.driver.recv(), (0x000, b"\x01\x00", False, False))
        self.assertIsNone(self.driver.recv())

    def test_a_second_frame_rolls_over_into_rxb1_and_a_third_overflows(self):
        for k in range(3):
            self.bus.inject(0x205, bytes((k,)))
        self.assertEqual(self.chip.regs[0x2C] & 0x03, 0x03, "both RX buffers full")
        self.assertEqual([self.driver.recv()[1] for _ in range(2)], [b"\x00", b"\x01"])
        self.assertIsNone(self.driver.recv())
        self.driver.service()
        self.assertEqual(self.driver.rx_overflows, 1)
        self.assertEqual(self.chip.regs[0x2D] & 0xC0, 0, "overflow flag cleared")

    def test_reads_remote_and_extended_frames_when_accepting_everything(self):
        self.driver.set_mode(m.MODE_CONFIG)
        self.driver.accept_all()
        self.driver.set_mode(m.MODE_NORMAL)
        self.bus.inject(0x123, b"", rtr=True)
        self.bus.inject(0x12345678, b"\xaa", ext=True)
        self.assertEqual(self.driver.recv(), (0x123, b"", False, True))
        self.assertEqual(self.driver.recv(), (0x12345678, b"\xaa", True, False))

    def test_seed_profile_filter_takes_only_id_1(self):
        chip, driver = make_node(self.bus, ids=[0x001])
        self.bus.inject(0x205, b"\x01")
        self.bus.inject(0x000, b"\x01\x00")
        self.bus.inject(0x001, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        self.assertEqual(driver.recv()[0], 0x001)
        self.assertIsNone(driver.recv())

    def test_listen_only_receives_without_acknowledging_or_sending(self):
        self.driver.set_mode(m.MODE_LISTEN_ONLY)
        self.assertFalse(self.bus.inject(0x205, b"\x01"), "nobody acknowledged: the frame is destroyed")
        self.assertIsNone(self.driver.recv())
        make_node(self.bus, ids=[0x206])  # another node that acknowledges
        self.assertTrue(self.bus.inject(0x205, b"\x02"))
        self.assertEqual(self.driver.recv()[:2], (0x205, b"\x02"))
        self.driver.send(0x185, b"\x01")
        self.assertEqual(self.seen, [])

    def test_loopback_self_test_passes_without_touching_the_bus(self):
        self.assertTrue(self.driver.loopback_self_test(0x205))
        self.assertEqual(self.bus.log, [])
        self.assertEqual(self.chip.mode_name(), "normal")

    def test_driver_uses_the_whole_spi_instruction_set(self):
        self.driver.send(0x185, b"\x01")
        self.bus.inject(0x205, b"\x01")
        self.driver.recv()
        self.driver.service()
        used = set(instruction_name(b) for b in self.chip.instructions)
        self.assertEqual(used, {m.RESET, m.READ, m.WRITE, m.BIT_MODIFY, m.READ_STATUS, m.RX_STATUS,
                                "LOAD TX BUFFER", "RTS", "READ RX BUFFER"})


class DriverBusFaultTest(unittest.TestCase):
    def test_16mhz_module_configured_as_8mhz_runs_at_twice_the_rate_and_hears_nothing(self):
        bus = FakeBus(125000)
        heard = []
        bus.add_peer(heard.append)
        chip, driver = make_node(bus, crystal_hz=16000000, configured_crystal=8000000)
        self.assertEqual(chip.bitrate(), 250000)
        self.assertFalse(bus.inject(0x205, b"\x01"))
        self.assertIsNone(driver.recv())
        driver.send(0x185, b"\x01")
        self.assertEqual(heard, [])
        tec, rec, eflg = driver.error_state()
        self.assertEqual((tec, rec), (8, 1))

    def test_bus_off_aborts_pending_frames_and_restarts_the_controller(self):
        bus = FakeBus(125000)
        bus.add_peer(lambda frame: None)
        chip, driver = make_node(bus)
        clock = driver._clock
        chip.hold_transmissions = True
        driver.send(0x185, b"\x01")
        for _ in range(32):
            chip.bus_error(tx=True)
        tec, rec, eflg = driver.service()
        self.assertTrue(eflg & m.EFLG_TXBO)
        self.assertEqual(driver.bus_off_count, 1)
        self.assertFalse(chip.regs[0x30] & 0x08, "pending frame aborted")
        clock.advance_ms(999)
        driver.service()
        self.assertEqual(driver.restarts, 0)
        clock.advance_ms(1)
        driver.service()
        self.assertEqual(driver.restarts, 1)
        chip.hold_transmissions = False
        self.assertEqual(driver.error_state(), (0, 0, 0))
        self.assertEqual(chip.mode_name(), "normal")
        self.assertTrue(driver.send(0x185, b"\x02"))
        self.assertEqual(bus.log[-1][1:3], (0x185, b"\x02"))
        bus.inject(0x205, b"\x01")
        self.assertEqual(driver.recv()[0], 0x205, "filters configured again")

    def test_bus_off_that_clears_by_itself_needs_no_restart(self):
        bus = FakeBus(125000)
        bus.add_peer(lambda frame: None)
        chip, driver = make_node(bus)
        for _ in range(32):
            chip.bus_error(tx=True)
        driver.service()
        chip.recover_from_bus_off()
        driver.service()
        self.assertEqual(chip.regs[0x0F] & 0x10, 0, "ABAT released")
        self.assertTrue(driver.send(0x185, b"\x01"))
        self.assertEqual(bus.log[-1][1], 0x185)
        self.assertEqual(driver.restarts, 0)


if __name__ == "__main__":
    unittest.main()
