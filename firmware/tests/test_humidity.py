import unittest

from canplug.hal.clocks import VirtualClock
from canplug.hal.sim import SimDht, SimPlant
from canplug.humidity import HumidityReader


class _ScriptedDht:
    """dht stand-in that returns a script of (humidity, temperature) or exceptions."""

    def __init__(self, script):
        self._script = list(script)
        self._value = None

    def measure(self):
        step = self._script.pop(0)
        if isinstance(step, Exception):
            raise step
        self._value = step

    def humidity(self):
        return self._value[0]

    def temperature(self):
        return self._value[1]


class HumidityReaderTest(unittest.TestCase):
    def test_reads_the_dht_module_api(self):
        plant = SimPlant(VirtualClock(), humidity=47.4, temperature=21.6)
        reader = HumidityReader(SimDht(plant))
        self.assertTrue(reader.poll())
        self.assertEqual((reader.humidity, reader.temperature), (47, 22))

    def test_three_failures_in_a_row_are_a_fault_and_two_good_reads_clear_it(self):
        reader = HumidityReader(_ScriptedDht([OSError(110), (50, 20), OSError(110), Exception("checksum error"),
                                              OSError(110), (50, 20), (51, 20)]))
        results = [reader.poll() for _ in range(5)]
        self.assertEqual(results, [False, True, False, False, False])
        self.assertTrue(reader.faulty)
        reader.poll()
        self.assertTrue(reader.faulty, "one good read is not enough")
        reader.poll()
        self.assertFalse(reader.faulty)

    def test_implausible_values_count_as_failures_and_keep_the_last_good_reading(self):
        reader = HumidityReader(_ScriptedDht([(40, 20), (130, 20), (40, 99), (0, 0)]))
        reader.poll()
        self.assertEqual([reader.poll() for _ in range(3)], [False, False, False])
        self.assertTrue(reader.faulty)
        self.assertEqual(reader.humidity, 40)
        self.assertIn("stuck", reader.last_error)

    def test_dht22_accepts_frost(self):
        reader = HumidityReader(_ScriptedDht([(60.5, -12.3)]), kind="dht22")
        self.assertTrue(reader.poll())


if __name__ == "__main__":
    unittest.main()
