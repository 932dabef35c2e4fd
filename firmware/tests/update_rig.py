"""What the firmware update tests share: an Ed25519 signer (test-only: the node never signs), bundles
signed like `canplug firmware build` signs them, and a gateway that speaks the transfer to a Harness node."""
import binascii
import hashlib
import json
import os

import boot_slots
from canplug import ed25519 as e
from canplug import protocol as p
from canplug import update as u
from canplug.sha512 import Sha512
from tests.node_harness import Harness
from tests.test_isotp import frames_of

SEED = bytes(range(32))  # the test's signing key
OTHER_SEED = bytes(range(1, 33))


def _mul(k, point):
    result = e.IDENTITY
    while k:
        if k & 1:
            result = e.point_add(result, point)
        point = e.point_double(point)
        k >>= 1
    return result


def _secret(seed):
    h = Sha512(seed).digest()
    a = int.from_bytes(h[:32], "little")
    a = (a & ((1 << 254) - 8)) | (1 << 254)  # RFC 8032 5.1.5 clamping
    return a, h[32:]


def public_key(seed):
    return e.encode_point(_mul(_secret(seed)[0], e.B))


def sign(seed, message):
    """RFC 8032 5.1.6."""
    a, prefix = _secret(seed)
    pk = e.encode_point(_mul(a, e.B))
    r = int.from_bytes(Sha512(prefix + message).digest(), "little") % e.L
    rb = e.encode_point(_mul(r, e.B))
    k = int.from_bytes(Sha512(rb + pk + message).digest(), "little") % e.L
    return rb + ((r + k * a) % e.L).to_bytes(32, "little")


def key_file(seed=SEED):
    return binascii.hexlify(public_key(seed)).decode() + "\n"


APP = 1  # index of canplug/app.py in firmware_files()


def firmware_files(version="1.1", extra=b""):
    """A small stand-in for the firmware package, as (path, contents) in manifest order (MicroPython's
    dicts keep no order); the update key rides along as in a real bundle."""
    return [
        ("canplug/__init__.py", ("FIRMWARE_VERSION = (%s)\n" % version.replace(".", ", ")).encode()),
        ("canplug/app.py", b"# the app\n" + b"x = 1\n" * 300 + extra),
        ("canplug/hal/__init__.py", b""),
        (boot_slots.KEY_FILE, key_file().encode()),
    ]


def manifest_bytes(files, version="1.1"):
    entries = [{"path": path, "size": len(data), "sha256": binascii.hexlify(hashlib.sha256(data).digest()).decode()}
               for path, data in files]
    manifest = {"format": 1, "version": version, "created": "2026-01-01T00:00:00Z",
                "total_size": sum(len(d) for _, d in files), "files": entries}
    return json.dumps(manifest).encode()


class Gateway:
    """Sends requests to the node the way src/gateway/firmware-session.ts does and reads its answers."""

    def __init__(self, harness):
        self.h = harness
        self.node = harness.node
        self.id = p.TRANSFER_TO_NODE + self.node.node_id
        self.copied = []

    def send(self, payload, mangle=None):
        frames = frames_of(payload)
        if mangle:
            frames = mangle(frames)
        self.h.port.sent.clear()
        for frame in frames:
            self.node.handle_frame(self.id, frame)
        self.settle()
        return self.answers()

    def settle(self, limit=100000):
        """Runs the update task's steps until nothing is left to do at once."""
        for _ in range(limit):
            if not self.node.poll_updates(self.h.clock.ticks_ms()):
                break
        self.h.flush()

    def answers(self):
        out = []
        for can_id, data in self.h.port.sent:
            if can_id == p.TRANSFER_TO_GATEWAY + self.node.node_id and data[0] >> 4 == 0:
                out.append(bytes(data[1:1 + data[0]]))
        return out

    def result(self, payload, mangle=None):
        """(code, detail) of the node's result for this request."""
        for answer in self.send(payload, mangle):
            if answer[0] == u.ANS_RESULT and answer[1] == payload[0]:
                return answer[2], int.from_bytes(answer[3:7], "little")
        return None

    def info(self):
        answer = self.send(bytes((u.REQ_QUERY,)))[0]
        return {"state": answer[1], "block_size": answer[2], "st_min": answer[3],
                "free_kib": answer[4] | (answer[5] << 8), "last": answer[6]}

    def begin(self, files, version="1.1", seed=SEED, manifest=None):
        raw = manifest if manifest is not None else manifest_bytes(files, version)
        return self.result(bytes((u.REQ_BEGIN,)) + sign(seed, raw) + raw)

    def file(self, index, data, mangle=None):
        return self.result(bytes((u.REQ_FILE, index)) + data, mangle)

    def install(self, files, version="1.1", copy=False):
        """BEGIN, every file, COMMIT: the result codes in order (a file's detail is its index). With
        `copy`, each file is first offered as a copy of the running firmware's, and sent only if refused."""
        results = [self.begin(files, version)]
        for i, (_, data) in enumerate(files):
            if copy and self.result(bytes((u.REQ_COPY, i))) == (u.OK, i):
                self.copied.append(i)
                continue
            results.append(self.file(i, data))
        results.append(self.result(bytes((u.REQ_COMMIT,))))
        return [code for code, _ in results]


def factory_node(test, directory=None, **kw):
    """A node running the hand-flashed firmware, with the test's update key installed at the root."""
    h = Harness(test, directory=directory, humidity=45.0, **kw)
    with open(os.path.join(h.dir, boot_slots.KEY_FILE), "w") as f:
        f.write(key_file())
    h.boot()
    h.measure()
    return h
