"""cansend notation (`181#FD08...`, `123#R`, 8-digit ids for 29-bit) <-> (id, data, ext, rtr)."""
import json
import os

VECTORS_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "test-vectors.json")


def load_vectors():
    with open(VECTORS_PATH) as f:
        return json.load(f)


def parse_frame(text):
    ident, _, payload = text.partition("#")
    if len(ident) not in (3, 8):
        raise ValueError("not a frame in cansend notation: %r" % text)
    ext = len(ident) == 8
    if payload == "R":
        return int(ident, 16), b"", ext, True
    return int(ident, 16), bytes.fromhex(payload), ext, False


def format_frame(can_id, data):
    # not bytes.hex(): on MicroPython 1.27 b"".hex() is b"", not ""
    return "%03X#%s" % (can_id, "".join("%02X" % b for b in bytes(data)))
