"""Power cut at every single change an update makes to the flash, from the first staged byte to the new
firmware confirming itself: each time the next boot finds a complete firmware (the old one or the new
one, never a mix), the node starts on it, and finishing the interrupted story ends in one of the two.
Runs under CPython and on the MicroPython VM; test/firmware/firmware-update-vm.test.ts cuts the power
of whole VM nodes, and test/vcan/firmware-update.vcan.ts of host-runner processes."""
import builtins
import os
import unittest

import boot_slots
from canplug import bundle, staging, storage, update
from canplug import protocol as p
from tests import update_rig as rig
from tests.node_harness import Harness

MODULES = (boot_slots, bundle, staging, update, storage)


class PowerCut(Exception):
    pass


class _CountingOs:
    """The module `os` as the firmware uses it, with every change to the flash counted."""

    def __init__(self, flash):
        self._flash = flash

    def __getattr__(self, name):
        return getattr(os, name)

    def rename(self, a, b):
        self._flash.change("rename %s" % a)
        os.rename(a, b)

    def remove(self, path):
        self._flash.change("remove %s" % path)
        os.remove(path)

    def mkdir(self, path):
        self._flash.change("mkdir %s" % path)
        os.mkdir(path)

    def rmdir(self, path):
        self._flash.change("rmdir %s" % path)
        os.rmdir(path)


class _CountingFile:
    def __init__(self, flash, f, path):
        self._flash, self._f, self._path = flash, f, path
        flash.files.append(f)

    def write(self, data):
        self._flash.change("write %s" % self._path)
        n = self._f.write(data)
        self._f.flush()  # what was written before the cut is on the flash
        return n

    def close(self):
        self._f.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._f.close()


class Flash:
    """Counts changes to the flash; the `cut_at`-th one never happens: the power is gone."""

    def __init__(self, cut_at=None):
        self.cut_at = cut_at
        self.changes = []
        self.files = []

    def change(self, what):
        if len(self.changes) + 1 == self.cut_at:
            raise PowerCut(what)
        self.changes.append(what)

    def open(self, path, mode="r"):
        if "w" in mode or "a" in mode:
            self.change("open %s" % path)
            return _CountingFile(self, builtins.open(path, mode), path)
        return builtins.open(path, mode)

    def __enter__(self):
        counting_os = _CountingOs(self)
        for module in MODULES:
            module.os = counting_os
            module.open = self.open
        return self

    def __exit__(self, *exc):
        for module in MODULES:
            module.os = os
            module.open = builtins.open
        for f in self.files:
            f.close()  # left open by the cut; closing writes nothing more (every write was flushed)


def _story(test, h):
    """The whole update as the gateway and the node live it: transfer, commit, reset, boot step,
    trial, confirmation. Every flash change in here is a possible cut."""
    gw = rig.Gateway(h)
    test.assertEqual(gw.install(rig.firmware_files()), [update.OK] * 6)
    h.clock.advance_ms(update.RESET_DELAY_MS)
    gw.settle()
    boot_slots.select(h.dir)
    _run_until_confirmed(test, h.dir)


def _run_until_confirmed(test, directory):
    """One boot of the node on the flash as it is: it runs, shows its heartbeat, sensors and a CAN reply."""
    after = Harness(test, directory=directory, humidity=45.0)
    after.boot()
    after.measure()
    after.advance(2000)
    after.command(p.OP_REPORT_NOW, 7)
    rig.Gateway(after).settle()


def _version_of(directory, slot):
    if slot == "":
        return "1.0"
    with open(os.path.join(directory, "fw", slot, "canplug", "__init__.py")) as f:
        return "1.1" if "(1, 1)" in f.read() else "?"


class PowerCutTest(unittest.TestCase):
    def test_a_cut_at_every_flash_change_leaves_a_socket_that_boots_old_or_new_firmware(self):
        h = rig.factory_node(self)
        with Flash() as dry:
            _story(self, h)
        total = len(dry.changes)
        self.assertGreater(total, 30, "the story changes the flash often enough to be worth cutting")
        outcomes = {}
        for cut_at in range(1, total + 1):
            h = rig.factory_node(self)
            with Flash(cut_at) as flash:
                try:
                    _story(self, h)
                    self.fail("cut %d never happened" % cut_at)
                except PowerCut as cut:
                    where = str(cut)
            # Power back: the boot step must find a complete firmware, and the node must start on it
            # and carry on: whatever was interrupted ends with one firmware, confirmed or rolled back.
            slot, _ = boot_slots.select(h.dir)
            self.assertIn(slot, ("", "a"), where)
            if slot:
                self.assertIsNone(boot_slots.check_slot(h.dir, slot), "cut before %s: incomplete slot booted" % where)
            _run_until_confirmed(self, h.dir)
            state = boot_slots.read_state(h.dir)
            self.assertIsNone(state["trial"], where)
            version = _version_of(h.dir, state["active"])
            self.assertIn(version, ("1.0", "1.1"), where)
            outcomes[version] = outcomes.get(version, 0) + 1
        self.assertEqual(sum(outcomes.values()), total)
        self.assertGreater(outcomes.get("1.0", 0), 0, "cuts before the commit keep the old firmware")
        self.assertGreater(outcomes.get("1.1", 0), 0, "cuts after the commit end with the new one")


if __name__ == "__main__":
    unittest.main()
