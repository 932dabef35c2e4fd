# ISO 15765-2 (ISO-TP) on classic CAN, normal addressing, every frame padded to 8 bytes: the firmware
# transfer's frames (docs/protocol.md, "Firmware transfer"). The node receives long messages
# (first frame, consecutive frames, answering with flow control) and sends only single frames.
import binascii
import struct

PADDING = 0xCC
MAX_SHORT_LENGTH = 4095
SF_MAX = 7
FS_CONTINUE = 0
FS_WAIT = 1
FS_OVERFLOW = 2
_FLOW_NAMES = ("continue", "wait", "overflow")
N_CR_MS = 1000  # ISO 15765-2's N_Cr: a consecutive frame later than this ends the reception (the default)

# what went wrong with a reception (the node tells the gateway why: see update.py)
ERR_SEQUENCE = "sequence"
ERR_TIMEOUT = "timeout"


def _hex(data):
    return binascii.hexlify(data).decode()


def decode_pdu(d):
    """8 data bytes -> dict shaped like firmware/test-vectors.json; raises ValueError(detail)."""
    kind, low = d[0] >> 4, d[0] & 0x0F
    if kind == 0:
        if not 1 <= low <= SF_MAX:
            raise ValueError("single frame length %d is not 1..7" % low)
        return {"kind": "single", "data": _hex(d[1:1 + low])}
    if kind == 1:
        short = (low << 8) | d[1]
        if short:
            if short <= SF_MAX:
                raise ValueError("first frame length %d fits a single frame" % short)
            return {"kind": "first", "length": short, "data": _hex(d[2:])}
        length = struct.unpack(">I", d[2:6])[0]
        if length <= MAX_SHORT_LENGTH:
            raise ValueError("escaped first frame length %d fits 12 bits" % length)
        return {"kind": "first", "length": length, "data": _hex(d[6:])}
    if kind == 2:
        return {"kind": "consecutive", "seq": low, "data": _hex(d[1:])}
    if kind == 3:
        if low > FS_OVERFLOW:
            raise ValueError("flow status %d is not 0, 1 or 2" % low)
        return {"kind": "flow", "status": _FLOW_NAMES[low], "blockSize": d[1], "stMin": d[2]}
    raise ValueError("frame type %d is not single, first, consecutive or flow control" % kind)


def single_frame(payload):
    data = bytearray(8)
    for i in range(8):
        data[i] = PADDING
    data[0] = len(payload)
    data[1:1 + len(payload)] = payload
    return bytes(data)


def flow_control(status, block_size, st_min):
    return bytes((0x30 | status, block_size, st_min, PADDING, PADDING, PADDING, PADDING, PADDING))


class Receiver:
    """Reassembles one message at a time. `on_start(length, first_bytes)` decides: it returns a sink
    (write(chunk), end(), abort()) to stream the message into, or None to refuse it (flow control
    "overflow"). `on_single(payload)` gets single-frame messages, `on_error(kind)` a broken
    reception. `send(data)` queues a frame on the node's transfer id."""

    def __init__(self, clock, send, block_size, on_start, on_single, on_error, st_min=0, n_cr_ms=N_CR_MS):
        self._clock = clock
        self.n_cr_ms = n_cr_ms
        self._send = send
        self.block_size = block_size
        self.st_min = st_min
        self._on_start, self._on_single, self._on_error = on_start, on_single, on_error
        self._sink = None
        self._remaining = 0
        self._seq = 0
        self._in_block = 0
        self._last = 0

    @property
    def busy(self):
        return self._sink is not None

    def frame(self, d):
        """One frame from the gateway on this node's transfer id (any DLC: anything but 8 is ignored)."""
        if len(d) != 8:
            return
        kind = d[0] >> 4
        if kind == 0:
            n = d[0] & 0x0F
            if 1 <= n <= SF_MAX:
                self._abort(ERR_SEQUENCE)  # a new message ends one in progress (ISO 15765-2)
                self._on_single(bytes(d[1:1 + n]))
        elif kind == 1:
            self._first(d)
        elif kind == 2:
            self._consecutive(d)

    def cancel(self):
        """Drops the message being received, quietly (the update it belonged to has ended)."""
        if self._sink is not None:
            sink, self._sink = self._sink, None
            sink.abort()

    def poll(self, now):
        """Ends a reception whose next consecutive frame is overdue."""
        if self._sink is not None and self._clock.ticks_diff(now, self._last) > self.n_cr_ms:
            self._abort(ERR_TIMEOUT)

    def _first(self, d):
        self._abort(ERR_SEQUENCE)
        short = ((d[0] & 0x0F) << 8) | d[1]
        if short:
            length, head = short, bytes(d[2:])
        else:
            length, head = struct.unpack(">I", d[2:6])[0], bytes(d[6:])
        if length <= SF_MAX or (not short and length <= MAX_SHORT_LENGTH):
            return  # malformed: ignored, as a receiver must
        head = head[:length]
        sink = self._on_start(length, head)
        if sink is None:
            self._send(flow_control(FS_OVERFLOW, 0, 0))
            return
        self._sink, self._remaining, self._seq = sink, length - len(head), 1
        sink.write(head)
        self._grant()

    def _consecutive(self, d):
        if self._sink is None:
            return  # nothing in progress: ignored
        if d[0] & 0x0F != self._seq:
            self._abort(ERR_SEQUENCE)  # a frame was lost, repeated or reordered
            return
        chunk = bytes(d[1:1 + min(7, self._remaining)])
        self._remaining -= len(chunk)
        self._seq = (self._seq + 1) & 0x0F
        self._last = self._clock.ticks_ms()
        sink = self._sink
        if self._remaining == 0:
            self._sink = None
            sink.write(chunk)
            sink.end()
            return
        sink.write(chunk)
        self._in_block += 1
        if self._in_block >= self.block_size:
            self._grant()

    def _grant(self):
        self._in_block = 0
        self._last = self._clock.ticks_ms()
        self._send(flow_control(FS_CONTINUE, self.block_size, self.st_min))

    def _abort(self, kind):
        if self._sink is not None:
            sink, self._sink = self._sink, None
            sink.abort()
            self._on_error(kind)
