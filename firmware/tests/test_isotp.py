"""The node's ISO-TP receiver: flow control per block, streaming into a sink, and what ends a reception."""
import struct
import unittest

from canplug import isotp
from canplug.hal.clocks import VirtualClock


def frames_of(message):
    """What the gateway's sender (src/can/isotp.ts segment()) puts on the bus."""
    pad = bytes((isotp.PADDING,)) * 8
    if len(message) <= 7:
        return [(bytes((len(message),)) + message + pad)[:8]]
    if len(message) <= isotp.MAX_SHORT_LENGTH:
        first, head = bytes((0x10 | (len(message) >> 8), len(message) & 0xFF)), 6
    else:
        first, head = b"\x10\x00" + struct.pack(">I", len(message)), 2
    out = [first + message[:head]]
    seq = 1
    for at in range(head, len(message), 7):
        out.append((bytes((0x20 | seq,)) + message[at:at + 7] + pad)[:8])
        seq = (seq + 1) & 0x0F
    return out


class Sink:
    def __init__(self):
        self.data = b""
        self.state = "open"

    def write(self, chunk):
        self.data += chunk

    def end(self):
        self.state = "ended"

    def abort(self):
        self.state = "aborted"


class Rig:
    def __init__(self, block_size=2, accept=True, n_cr_ms=isotp.N_CR_MS):
        self.clock = VirtualClock()
        self.sent, self.singles, self.errors, self.sinks = [], [], [], []
        self.accept = accept

        def on_start(length, head):
            if not self.accept:
                return None
            sink = Sink()
            sink.length = length
            self.sinks.append(sink)
            return sink

        self.rx = isotp.Receiver(self.clock, self.sent.append, block_size, on_start, self.singles.append,
                                 self.errors.append, n_cr_ms=n_cr_ms)

    def flow_controls(self):
        return [isotp.decode_pdu(f) for f in self.sent]


class ReceiverTest(unittest.TestCase):
    def test_single_frames_are_handed_over_whole(self):
        rig = Rig()
        rig.rx.frame(frames_of(b"\x01")[0])
        self.assertEqual(rig.singles, [b"\x01"])
        self.assertEqual(rig.sent, [])

    def test_a_long_message_streams_with_flow_control_after_each_block(self):
        for length, block in ((8, 2), (100, 2), (100, 1), (4095, 8), (5000, 2)):
            rig = Rig(block_size=block)
            message = bytes((i * 13) & 0xFF for i in range(length))
            frames = frames_of(message)
            for f in frames:
                rig.rx.frame(f)
            self.assertEqual(rig.sinks[0].data, message, length)
            self.assertEqual(rig.sinks[0].state, "ended")
            consecutive = len(frames) - 1
            expected_fc = 1 + (consecutive - 1) // block  # after the first frame, then after each full block but the last
            self.assertEqual(len(rig.sent), expected_fc, (length, block))
            self.assertEqual(rig.flow_controls()[0], {"kind": "flow", "status": "continue", "blockSize": block, "stMin": 0})

    def test_a_lost_frame_aborts_with_a_sequence_error(self):
        rig = Rig()
        frames = frames_of(bytes(50))
        for f in frames[:3] + frames[4:]:
            rig.rx.frame(f)
        self.assertEqual(rig.sinks[0].state, "aborted")
        self.assertEqual(rig.errors, [isotp.ERR_SEQUENCE])
        self.assertFalse(rig.rx.busy)

    def test_a_silent_sender_times_out_after_n_cr(self):
        for n_cr in (isotp.N_CR_MS, 5000):  # the default, and update_frame_timeout_ms as configured
            rig = Rig(n_cr_ms=n_cr)
            frames = frames_of(bytes(50))
            rig.rx.frame(frames[0])
            rig.clock.advance_ms(n_cr)
            rig.rx.poll(rig.clock.ticks_ms())
            self.assertEqual(rig.errors, [])
            rig.clock.advance_ms(1)
            rig.rx.poll(rig.clock.ticks_ms())
            self.assertEqual(rig.errors, [isotp.ERR_TIMEOUT])
            self.assertEqual(rig.sinks[0].state, "aborted")

    def test_a_refused_message_gets_overflow_and_its_frames_are_ignored(self):
        rig = Rig(accept=False)
        for f in frames_of(bytes(50)):
            rig.rx.frame(f)
        self.assertEqual(rig.flow_controls(), [{"kind": "flow", "status": "overflow", "blockSize": 0, "stMin": 0}])
        self.assertEqual((rig.singles, rig.errors), ([], []))

    def test_a_new_first_frame_ends_the_message_in_progress(self):
        rig = Rig()
        first = frames_of(bytes(50))
        rig.rx.frame(first[0])
        rig.rx.frame(first[1])
        for f in frames_of(b"x" * 20):
            rig.rx.frame(f)
        self.assertEqual([s.state for s in rig.sinks], ["aborted", "ended"])
        self.assertEqual(rig.sinks[1].data, b"x" * 20)
        self.assertEqual(rig.errors, [isotp.ERR_SEQUENCE])

    def test_malformed_frames_are_ignored(self):
        rig = Rig()
        for f in (b"\x01\x01", b"\x08" + bytes(7), b"\x10\x05" + bytes(6), b"\x10\x00\x00\x00\x01\x00\x00\x00",
                  b"\x21" + bytes(7), b"\x40" + bytes(7)):
            rig.rx.frame(f)
        self.assertEqual((rig.singles, rig.errors, rig.sinks, rig.sent), ([], [], [], []))


if __name__ == "__main__":
    unittest.main()
