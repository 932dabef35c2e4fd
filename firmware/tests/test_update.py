"""A firmware update on the node, request by request: what it accepts, what it refuses and why, the
relay while it runs, and the boot step and trial that follow (docs/protocol.md, "Firmware transfer")."""
import os
import unittest

import boot_slots
from canplug import protocol as p
from canplug import update as u
from tests import update_rig as rig
from tests.node_harness import Harness

CLOSE = 1


def reboot(test, h, **kw):
    """What a reset does: the boot step, then the node of the slot it picked, on the same flash."""
    slot, trial = boot_slots.select(h.dir)
    after = Harness(test, directory=h.dir, humidity=45.0, **kw)
    after.boot()
    after.measure()
    return slot, trial, after


class TransferTest(unittest.TestCase):
    def setUp(self):
        self.h = rig.factory_node(self)
        self.gw = rig.Gateway(self.h)
        self.files = rig.firmware_files()

    def test_the_node_says_how_much_it_can_take(self):
        info = self.gw.info()
        self.assertEqual(info["state"], u.S_IDLE)
        self.assertEqual(info["block_size"], self.h.port.rx_depth - 1)
        self.assertGreater(info["free_kib"], 0)
        self.assertEqual(info["last"], 0)

    def test_a_signed_bundle_is_staged_verified_and_pending_after_commit(self):
        self.assertEqual(self.gw.install(self.files), [u.OK] * (len(self.files) + 2))
        state = boot_slots.read_state(self.h.dir)
        self.assertEqual((state["active"], state["pending"]["slot"], state["pending"]["version"]), ("", "a", "1.1"))
        self.assertIsNone(boot_slots.check_slot(self.h.dir, "a"))
        self.assertEqual(self.gw.info()["state"], u.S_INSTALLING)
        self.gw.settle()
        self.h.clock.advance_ms(u.RESET_DELAY_MS)
        self.gw.settle()
        self.assertEqual(self.h.board.restarts, 1, "the node resets itself into the boot step")
        for path, data in self.files:
            with open(os.path.join(self.h.dir, "fw", "a", path), "rb") as f:
                self.assertEqual(f.read(), data, path)

    def test_the_relay_takes_its_power_on_state_and_stays_there_during_the_update(self):
        self.assertEqual(self.h.command(p.OP_SET_RELAY, 1, CLOSE)["result"], "ok")
        self.assertEqual(self.gw.begin(self.files), (u.OK, 0))
        self.assertFalse(self.h.plant.relay_closed(), "power-on state off: opened for the update")
        self.assertEqual(self.h.command(p.OP_SET_RELAY, 2, CLOSE)["result"], "interlocked")
        self.assertEqual(self.h.command(p.OP_SET_RELAY, 3, 2)["result"], "interlocked", "toggle would close")
        self.assertEqual(self.h.command(p.OP_SET_RELAY, 4, 0)["result"], "ok", "opening is always allowed")
        self.assertEqual(self.gw.result(bytes((u.REQ_ABORT,))), (u.OK, 0))
        self.assertEqual(self.h.command(p.OP_SET_RELAY, 5, CLOSE)["result"], "ok", "an aborted update lets go")

    def test_the_update_code_is_loaded_by_an_update_and_dropped_after_one_that_ended(self):
        import sys
        loaded = dict((name, module) for name, module in sys.modules.items() if name.startswith("canplug."))
        self.addCleanup(sys.modules.update, loaded)  # the other tests hold these very modules
        h = Harness(self, humidity=45.0)
        self.assertIsNone(h.node.updater, "not loaded by a node that is not updating")
        gw = rig.Gateway(h)
        gw.info()
        self.assertIsNotNone(h.node.updater)
        self.assertEqual(gw.result(bytes((u.REQ_ABORT,))), (u.OK, 0))
        h.clock.advance_ms(u.IDLE_TIMEOUT_MS + 1)
        gw.settle()
        self.assertIsNone(h.node.updater, "its heap comes back")
        self.assertNotIn("canplug.ed25519", sys.modules)

    def test_power_on_state_on_keeps_the_load_on_unless_an_interlock_is_latched(self):
        h = rig.factory_node(self, config=None)
        h.command(p.OP_SET_POWER_ON_STATE, 1, 1)
        gw = rig.Gateway(h)
        self.assertEqual(gw.begin(self.files), (u.OK, 0))
        self.assertTrue(h.plant.relay_closed())
        h.poll_humidity(90.0)
        self.assertFalse(h.plant.relay_closed(), "protection keeps running during the update")
        self.assertTrue(h.node.safety.humidity_latched)

    def test_protection_runs_while_the_signature_is_checked(self):
        raw = rig.manifest_bytes(self.files)
        payload = bytes((u.REQ_BEGIN,)) + rig.sign(rig.SEED, raw) + raw
        for frame in rig.frames_of(payload):
            self.h.node.handle_frame(self.gw.id, frame)
        self.assertEqual(self.h.node.updater.state, u.S_VERIFYING)
        self.assertTrue(self.h.node.poll_updates(self.h.clock.ticks_ms()), "one step at a time")
        self.assertEqual(self.h.command(p.OP_SET_RELAY, 1, CLOSE)["result"], "ok")
        self.h.poll_humidity(90.0)
        self.assertFalse(self.h.plant.relay_closed())
        self.gw.settle()
        self.assertEqual(self.h.node.updater.state, u.S_RECEIVING)


class RefusalTest(unittest.TestCase):
    def setUp(self):
        self.h = rig.factory_node(self)
        self.gw = rig.Gateway(self.h)
        self.files = rig.firmware_files()

    def assert_nothing_staged(self):
        self.assertFalse(os.path.exists(os.path.join(self.h.dir, "fw", "a", "canplug")))
        self.assertIsNone(boot_slots.read_state(self.h.dir)["pending"])
        self.assertFalse(self.h.node.relay_held())

    def test_a_wrong_signature(self):
        self.assertEqual(self.gw.begin(self.files, seed=rig.OTHER_SEED), (u.BAD_SIGNATURE, 0))
        self.assert_nothing_staged()
        self.assertEqual(self.gw.file(0, self.files[0][1]), (u.OUT_OF_ORDER, 0))

    def test_an_unsigned_bundle(self):
        raw = rig.manifest_bytes(self.files)
        self.assertEqual(self.gw.result(bytes((u.REQ_BEGIN,)) + bytes(64) + raw), (u.BAD_SIGNATURE, 0))
        self.assert_nothing_staged()

    def test_no_update_key_on_the_node(self):
        os.remove(os.path.join(self.h.dir, boot_slots.KEY_FILE))
        self.assertEqual(self.gw.begin(self.files), (u.NO_KEY, 0))
        self.assert_nothing_staged()

    def test_paths_outside_the_firmware_and_manifests_without_the_key(self):
        self.assertEqual(self.gw.begin(self.files + [("main.py", b"print('owned')\n")]), (u.NOT_ALLOWED, 0))
        self.assertEqual(self.gw.begin(self.files + [("canplug/../config.json", b"{}")]), (u.NOT_ALLOWED, 0))
        without_key = [(path, data) for path, data in self.files if path != boot_slots.KEY_FILE]
        self.assertEqual(self.gw.begin(without_key), (u.BAD_MANIFEST, 0))
        self.assertEqual(self.gw.begin(None, manifest=b"not json"), (u.BAD_MANIFEST, 0))
        self.assert_nothing_staged()

    def test_a_full_flash(self):
        h = rig.factory_node(self, flash_bytes=40 * 1024)
        gw = rig.Gateway(h)
        free = h.node.update_service().flash_free()
        self.assertEqual(gw.begin(rig.firmware_files(extra=b"y" * 60000)), (u.NO_SPACE, free))
        self.assertEqual(gw.info()["free_kib"], free // 1024)
        self.assertFalse(os.path.exists(os.path.join(h.dir, "fw", "a", "canplug")))
        self.assertFalse(h.node.relay_held())

    def test_a_corrupted_frame_fails_that_file_and_the_commit(self):
        self.assertEqual(self.gw.begin(self.files), (u.OK, 0))

        def flip(frames):
            frames[5] = frames[5][:3] + bytes((frames[5][3] ^ 0x20,)) + frames[5][4:]
            return frames

        app = self.files[rig.APP][1]
        self.assertEqual(self.gw.file(rig.APP, app, mangle=flip), (u.FILE_CORRUPT, rig.APP))
        self.assertEqual(self.gw.file(0, self.files[0][1]), (u.OK, 0))
        self.assertEqual(self.gw.result(bytes((u.REQ_COMMIT,))), (u.FILES_MISSING, rig.APP))
        self.assertEqual(self.gw.file(rig.APP, app), (u.OK, rig.APP), "the gateway may send it again")
        self.assertIsNone(boot_slots.read_state(self.h.dir)["pending"])

    def test_a_lost_frame_and_a_silent_gateway(self):
        self.assertEqual(self.gw.begin(self.files), (u.OK, 0))
        app = self.files[rig.APP][1]
        self.assertEqual(self.gw.file(rig.APP, app, mangle=lambda f: f[:4] + f[5:]), (u.TRANSFER_BROKEN, rig.APP))
        frames = rig.frames_of(bytes((u.REQ_FILE, rig.APP)) + app)
        self.h.port.sent.clear()
        for frame in frames[:3]:
            self.h.node.handle_frame(self.gw.id, frame)
        self.h.clock.advance_ms(1500)
        self.gw.settle()
        self.assertIn(bytes((u.ANS_RESULT, u.REQ_FILE, u.TRANSFER_TIMEOUT, rig.APP, 0, 0, 0)), self.gw.answers())
        self.h.clock.advance_ms(u.IDLE_TIMEOUT_MS)
        self.gw.settle()
        self.assertEqual(self.h.node.updater.state, u.S_IDLE, "an abandoned update ends by itself")
        self.assert_nothing_staged()

    def test_a_staged_file_damaged_before_the_commit(self):
        self.assertEqual(self.gw.begin(self.files), (u.OK, 0))
        for i, (_, data) in enumerate(self.files):
            self.assertEqual(self.gw.file(i, data), (u.OK, i))
        with open(os.path.join(self.h.dir, "fw", "a", "canplug", "app.py"), "ab") as f:
            f.write(b"#")
        self.assertEqual(self.gw.result(bytes((u.REQ_COMMIT,))), (u.STAGED_DAMAGED, rig.APP))
        self.assert_nothing_staged()


class BootAndTrialTest(unittest.TestCase):
    def installed(self):
        h = rig.factory_node(self)
        gw = rig.Gateway(h)
        self.assertEqual(gw.install(rig.firmware_files()), [u.OK] * 6)
        return h

    def test_the_new_firmware_confirms_itself_once_it_has_shown_it_works(self):
        h = self.installed()
        slot, trial, after = reboot(self, h)
        self.assertEqual((slot, trial), ("a", True))
        gw = rig.Gateway(after)
        self.assertEqual(gw.info()["state"], u.S_TRIAL)
        self.assertEqual(gw.begin(rig.firmware_files("1.2"), "1.2"), (u.BUSY, 0), "no update on top of an unconfirmed one")
        after.advance(2000)
        gw.settle()
        self.assertEqual(boot_slots.read_state(h.dir)["trial"]["slot"], "a", "no CAN reply yet")
        after.command(p.OP_REPORT_NOW, 9)
        gw.settle()
        state = boot_slots.read_state(h.dir)
        self.assertEqual((state["active"], state["trial"], state["last"]["result"]), ("a", None, "installed"))
        self.assertEqual(gw.info()["last"], u.LAST_CODES["installed"])
        self.assertEqual(boot_slots.select(h.dir), ("a", False), "it stays")

    def test_a_firmware_that_does_not_confirm_in_time_is_rolled_back(self):
        h = self.installed()
        _, _, after = reboot(self, h)
        after.clock.advance_ms(after.cfg["update_confirm_s"] * 1000)
        rig.Gateway(after).settle()
        self.assertEqual(after.board.restarts, 1)
        self.assertEqual(boot_slots.select(h.dir), ("", False))
        state = boot_slots.read_state(h.dir)
        self.assertEqual((state["active"], state["last"]["result"], state["last"]["version"]), ("", "rolled back", "1.1"))

    def test_a_reset_before_confirming_is_a_rollback_too(self):
        h = self.installed()
        self.assertEqual(boot_slots.select(h.dir), ("a", True))
        self.assertEqual(boot_slots.select(h.dir), ("", False))

    def test_a_pending_slot_damaged_on_flash_is_not_booted(self):
        h = self.installed()
        with open(os.path.join(h.dir, "fw", "a", "canplug", "__init__.py"), "w") as f:
            f.write("broken")
        self.assertEqual(boot_slots.select(h.dir), ("", False))
        last = boot_slots.read_state(h.dir)["last"]
        self.assertEqual((last["result"], last["reason"]), ("refused", "file canplug/__init__.py damaged"))

    def test_files_the_running_firmware_has_are_copied_on_the_node_instead_of_sent(self):
        h = self.installed()
        _, _, after = reboot(self, h)
        after.advance(2000)
        after.command(p.OP_REPORT_NOW, 9)
        gw = rig.Gateway(after)
        gw.settle()
        files = rig.firmware_files("1.2")  # only canplug/__init__.py differs from 1.1
        self.assertEqual(gw.install(files, "1.2", copy=True), [u.OK] * 3)
        self.assertEqual(gw.copied, [1, 2, 3])
        self.assertIsNone(boot_slots.check_slot(h.dir, "b"), "the copies are checked like sent files")
        self.assertEqual(boot_slots.select(h.dir), ("b", True))

    def test_the_next_update_goes_to_the_other_slot_and_can_roll_back_to_the_first(self):
        h = self.installed()
        _, _, after = reboot(self, h)
        after.advance(2000)
        after.command(p.OP_REPORT_NOW, 9)
        rig.Gateway(after).settle()
        # the key of slot a is the one in the bundle: the same test key
        gw = rig.Gateway(after)
        self.assertEqual(gw.install(rig.firmware_files("1.2"), "1.2"), [u.OK] * 6)
        self.assertEqual(boot_slots.read_state(h.dir)["pending"]["slot"], "b")
        self.assertEqual(boot_slots.select(h.dir), ("b", True))
        self.assertEqual(boot_slots.select(h.dir), ("a", False), "back to 1.1, not to the factory firmware")


if __name__ == "__main__":
    unittest.main()
