import json
import os
import shutil
import tempfile
import unittest

from canplug import settings, storage

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class SettingsTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.path = os.path.join(self.dir, "config.json")

    def write(self, text):
        with open(self.path, "w") as f:
            f.write(text)

    def test_every_problem_is_reported_at_once(self):
        self.write(json.dumps({"node_id": 0, "mains_hz": 55, "colour": "red", "pins": {"relay": 40},
                               "over_current_limit_a": "10"}))
        with self.assertRaises(settings.ConfigError) as e:
            settings.load(self.path)
        text = "\n".join(e.exception.errors)
        for expected in ("node_id: 0", "mains_hz: 55", "colour: unknown key", "pins.relay: 40",
                         "over_current_limit_a: '10'"):
            self.assertIn(expected, text)
        self.assertEqual(len(e.exception.errors), 5)

    def test_a_broken_file_is_refused_not_replaced_by_defaults(self):
        self.write('{"node_id": 3,')
        with self.assertRaises(settings.ConfigError):
            settings.load(self.path)

    def test_no_file_means_defaults_and_the_profile_picks_the_bitrate(self):
        self.assertEqual(settings.load(self.path)["bitrate"], 125000)
        self.write('{"protocol": "seed"}')
        self.assertEqual(settings.load(self.path)["bitrate"], 250000, "what the original Pi app used")

    def test_combinations_the_hardware_cannot_do_are_refused(self):
        _, errors = settings.validate({"bitrate": 1000000, "crystal_hz": 8000000})
        self.assertIn("16 MHz crystal", errors[0])
        _, errors = settings.validate({"humidity_limit": 30, "humidity_hysteresis": 30})
        self.assertIn("never re-arms", errors[0])

    def test_the_example_config_is_valid_and_complete(self):
        with open(os.path.join(ROOT, "config.example.json")) as f:
            example = json.load(f)
        cfg, errors = settings.validate(example)
        self.assertEqual(errors, [])
        self.assertEqual(sorted(example), sorted(settings.DEFAULTS))


class AtomicStorageTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.path = os.path.join(self.dir, "state.json")

    def test_write_replaces_the_file_and_leaves_no_temp_file(self):
        storage.write_json(self.path, {"energy_wh": 1})
        storage.write_json(self.path, {"energy_wh": 2})
        self.assertEqual(storage.read_json(self.path), {"energy_wh": 2})
        self.assertEqual(os.listdir(self.dir), ["state.json"])

    def test_power_cut_between_remove_and_rename_is_recovered_from_the_temp_file(self):
        storage.write_json(self.path + ".tmp", {"energy_wh": 7})  # the FAT fallback's window
        self.assertEqual(storage.read_json(self.path), {"energy_wh": 7})

    def test_a_torn_temp_file_does_not_shadow_the_good_file(self):
        storage.write_json(self.path, {"energy_wh": 5})
        with open(self.path + ".tmp", "w") as f:
            f.write('{"energy_')
        self.assertEqual(storage.read_json(self.path), {"energy_wh": 5})


if __name__ == "__main__":
    unittest.main()
