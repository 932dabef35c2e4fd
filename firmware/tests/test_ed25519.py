"""Ed25519 verification and SHA-512 on the node, against RFC 8032 section 7.1 and FIPS 180-4's examples.
The same checks run under CPython and on the MicroPython VM (npm test); test/firmware/ed25519-cross.test.ts
also checks the verifier against signatures made by node:crypto (OpenSSL)."""
import binascii
import unittest

from canplug import ed25519
from canplug.sha512 import Sha512


def h(text):
    return binascii.unhexlify(text)


# RFC 8032, 7.1: TEST 1, TEST 2, TEST 3 (public key, message, signature)
RFC8032 = (
    ("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"),
    ("3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"),
    ("fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
     "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"),
)


class Sha512Test(unittest.TestCase):
    def test_fips_180_examples(self):
        self.assertEqual(Sha512(b"abc").digest(), h(
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
            "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"))
        two_blocks = b"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"
        self.assertEqual(Sha512(two_blocks).digest(), h(
            "8e959b75dae313da8cf4f72814fc143f8f7779c6eb9f7fa17299aeadb6889018"
            "501d289e4900f7e4331b99dec4b5433ac7d329eeb6dd26545e96e55b874be909"))
        self.assertEqual(Sha512(b"").digest(), h(
            "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
            "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"))

    def test_pieces_give_the_digest_of_the_whole(self):
        data = bytes(range(256)) * 3
        whole = Sha512(data).digest()
        for size in (1, 7, 127, 128, 129, 300):
            s = Sha512()
            for start in range(0, len(data), size):
                s.update(data[start:start + size])
            self.assertEqual(s.digest(), whole, size)

    def test_matches_hashlib_at_every_padding_boundary(self):
        try:
            import hashlib
            reference = hashlib.sha512
        except (ImportError, AttributeError):
            self.skipTest("no hashlib.sha512 to compare with (MicroPython has none: why this module exists)")
        for n in list(range(0, 260)) + [1000, 4096]:
            data = bytes((i * 7 + n) & 0xFF for i in range(n))
            self.assertEqual(Sha512(data).digest(), reference(data).digest(), n)


class Ed25519Test(unittest.TestCase):
    def test_constants_are_what_rfc_8032_defines(self):
        p = ed25519.P
        self.assertEqual(ed25519.D * 121666 % p, (p - 121665) % p)
        self.assertEqual(ed25519.SQRT_M1 * ed25519.SQRT_M1 % p, p - 1)
        x, y = ed25519.B[0], ed25519.B[1]
        self.assertEqual(y * 5 % p, 4)
        self.assertEqual((-x * x + y * y) % p, (1 + ed25519.D * x * x * y * y) % p, "B is on the curve")
        self.assertEqual(ed25519.encode_point(ed25519.B), h("5866666666666666666666666666666666666666666666666666666666666666"))

    def test_rfc_8032_vectors_verify(self):
        for pk, msg, sig in RFC8032:
            self.assertTrue(ed25519.verify(h(pk), h(msg), h(sig)), pk)

    def test_anything_changed_fails(self):
        pk, msg, sig = (h(x) for x in RFC8032[2])
        self.assertFalse(ed25519.verify(pk, msg + b"\x00", sig), "message extended")
        self.assertFalse(ed25519.verify(pk, b"\xaf\x83", sig), "message bit flipped")
        for i in (0, 31, 32, 63):
            bad = bytearray(sig)
            bad[i] ^= 0x01
            self.assertFalse(ed25519.verify(pk, msg, bytes(bad)), "signature byte %d" % i)
        other = h(RFC8032[1][0])
        self.assertFalse(ed25519.verify(other, msg, sig), "another key")

    def test_malformed_inputs_fail_without_raising(self):
        pk, msg, sig = (h(x) for x in RFC8032[0])
        self.assertFalse(ed25519.verify(pk, msg, sig[:63]))
        self.assertFalse(ed25519.verify(pk[:31], msg, sig))
        self.assertFalse(ed25519.verify(pk, msg, b"\x00" * 64))
        # S >= L is refused (a malleable signature: S + L would otherwise verify too)
        s = int.from_bytes(sig[32:], "little") + ed25519.L
        self.assertFalse(ed25519.verify(pk, msg, sig[:32] + s.to_bytes(32, "little")))
        # a y >= p is not an encoding of a point
        self.assertFalse(ed25519.verify(b"\xff" * 31 + b"\x7f", msg, sig))
        self.assertIsNone(ed25519.decode_point(b"\xff" * 31 + b"\x7f"))

    def test_verification_runs_in_bounded_steps(self):
        pk, msg, sig = (h(x) for x in RFC8032[1])
        steps = list(ed25519.verify_steps(pk, msg, sig))
        self.assertEqual(steps[-1], True)
        self.assertTrue(all(s is None for s in steps[:-1]))
        self.assertGreater(len(steps), 255 // ed25519.BITS_PER_STEP)


if __name__ == "__main__":
    unittest.main()
