import unittest

from canplug.bit_timing import BITRATES, CNF_TABLE, CRYSTALS, cnf_registers, describe


class BitTimingTest(unittest.TestCase):
    def test_every_supported_pair_gives_the_exact_bitrate_within_datasheet_rules(self):
        for (crystal, bitrate), cnf in CNF_TABLE.items():
            with self.subTest(crystal=crystal, bitrate=bitrate):
                t = describe(crystal, *cnf)
                self.assertEqual(t["bitrate"], bitrate)
                self.assertTrue(8 <= t["tq_per_bit"] <= 25)
                self.assertGreaterEqual(t["prop"] + t["ps1"], t["ps2"])
                self.assertGreaterEqual(t["ps2"], 2)
                self.assertGreater(t["ps2"], t["sjw"])
                self.assertTrue(0.75 <= t["sample_point"] <= 0.875)
                self.assertTrue(cnf[1] & 0x80, "BTLMODE: PS2 comes from CNF3")

    def test_all_bitrates_are_available_with_a_16_mhz_crystal_and_all_but_1m_with_8(self):
        for crystal in CRYSTALS:
            for bitrate in BITRATES:
                if (crystal, bitrate) == (8000000, 1000000):
                    with self.assertRaises(ValueError) as e:
                        cnf_registers(crystal, bitrate)
                    self.assertIn("16 MHz", str(e.exception))
                else:
                    self.assertEqual(describe(crystal, *cnf_registers(crystal, bitrate))["bitrate"], bitrate)

    def test_default_125k_at_8mhz_matches_the_pinned_registers(self):
        self.assertEqual(cnf_registers(8000000, 125000), (0x01, 0xAE, 0x01))

    def test_16mhz_crystal_configured_as_8mhz_runs_at_twice_the_rate(self):
        for bitrate in (125000, 250000, 500000):
            cnf = cnf_registers(8000000, bitrate)
            self.assertEqual(describe(16000000, *cnf)["bitrate"], 2 * bitrate)


if __name__ == "__main__":
    unittest.main()
