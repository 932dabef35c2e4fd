# Protocol v1 codec (design: protocol-and-interfaces.md section 1).
# Encoders take plain numbers so the node allocates nothing but the 8 data bytes;
# decode() returns dicts shaped like firmware/test-vectors.json.
import struct

PROTOCOL_VERSION = 1
MAX_NODE_ID = 63

DISCOVERY = 0x000
EVENT = 0x080
POWER = 0x180
COMMAND = 0x200
ENVIRONMENT = 0x280
ENERGY = 0x380
REPLY = 0x580
HEARTBEAT = 0x700
TRANSFER_TO_NODE = 0x780  # ISO-TP frames of a firmware transfer (isotp.py), the lowest priorities
TRANSFER_TO_GATEWAY = 0x7C0
_BASES = (EVENT, POWER, COMMAND, ENVIRONMENT, ENERGY, REPLY, HEARTBEAT, TRANSFER_TO_NODE)

DISCOVERY_ANNOUNCE = 0x01

# status byte
ST_RELAY = 0x01
ST_HUMIDITY_LATCHED = 0x02
ST_POWER_LATCHED = 0x04
ST_SENSOR_FAULT = 0x08

# heartbeat state
STATE_BOOT = 0
STATE_RUNNING = 1
STATE_FAULT = 2
_STATE_NAMES = ("boot", "running", "fault")

# event codes
EV_HUMIDITY_TRIP = 0x01
EV_HUMIDITY_REARMED = 0x02
EV_OVER_CURRENT = 0x03
EV_OVER_POWER = 0x04
EV_HUMIDITY_SENSOR_FAULT = 0x10
EV_CURRENT_SENSOR_FAULT = 0x11
EV_VOLTAGE_SENSOR_FAULT = 0x12
EV_REBOOTED = 0x20
# event flags (b1); the design leaves them open, this firmware defines one
EVF_SATURATED = 0x01  # the sensor clipped: the value is a lower bound

# opcodes
OP_SET_RELAY = 0x01
OP_REPORT_NOW = 0x02
OP_SET_HUMIDITY_LIMIT = 0x03
OP_RESET_LATCH = 0x04
OP_SET_REPORT_PERIOD = 0x05
OP_IDENTIFY = 0x06
OP_SET_POWER_LIMIT = 0x07
OP_SET_POWER_ON_STATE = 0x08

# reply results
R_OK = 0
R_INTERLOCKED = 1
R_BAD_ARGUMENT = 2
R_UNKNOWN_OPCODE = 3
R_FAILED = 4
_RESULT_NAMES = ("ok", "interlocked", "badArgument", "unknownOpcode", "failed")

RELAY_OPEN = 0
RELAY_CLOSE = 1
RELAY_TOGGLE = 2
_RELAY_ACTIONS = ("open", "close", "toggle")

POWER_ON_OFF = 0
POWER_ON_ON = 1
POWER_ON_RESTORE = 2
_POWER_ON_NAMES = ("off", "on", "restore")

REPORT_PERIOD_MIN_MS = 100
REPORT_PERIOD_MAX_MS = 60000


class FrameError(Exception):
    """A frame this protocol does not accept; reason is 'unknown' or 'malformed'."""

    def __init__(self, reason, detail):
        super().__init__(detail)  # MicroPython has no Exception.__init__ to call
        self.reason = reason
        self.detail = detail


class CommandError(Exception):
    """A command the node answers with a non-ok result code instead of acting on it."""

    def __init__(self, result, detail):
        super().__init__(detail)  # MicroPython has no Exception.__init__ to call
        self.result = result
        self.detail = detail


def _u16(v):
    v = int(round(v))
    return 0 if v < 0 else (0xFFFF if v > 0xFFFF else v)


def _i16(v):
    v = int(round(v))
    return -0x8000 if v < -0x8000 else (0x7FFF if v > 0x7FFF else v)


def _u32(v):
    v = int(round(v))
    return 0 if v < 0 else (0xFFFFFFFF if v > 0xFFFFFFFF else v)


def status_byte(relay, humidity_latched, power_latched, sensor_fault):
    return ((ST_RELAY if relay else 0) | (ST_HUMIDITY_LATCHED if humidity_latched else 0)
            | (ST_POWER_LATCHED if power_latched else 0) | (ST_SENSOR_FAULT if sensor_fault else 0))


def encode_power(node, volts, amps, watts, status, seq):
    return POWER + node, struct.pack("<HHHBB", _u16(volts * 10), _u16(amps * 1000),
                                     _u16(watts * 10), status, seq & 0xFF)


def encode_environment(node, humidity, temperature, limit, hysteresis, status, seq):
    return ENVIRONMENT + node, struct.pack("<HhBBBB", _u16(humidity * 10), _i16(temperature * 10),
                                           limit, hysteresis, status, seq & 0xFF)


def encode_energy(node, wh, uptime_s):
    return ENERGY + node, struct.pack("<II", _u32(wh), _u32(uptime_s))


def encode_event(node, code, flags, value, uptime_s):
    return EVENT + node, struct.pack("<BBHI", code, flags, _u16(value), _u32(uptime_s))


def encode_reply(node, opcode, token, result, status, detail=0):
    return REPLY + node, struct.pack("<BBBBI", opcode, token & 0xFF, result, status, _u32(detail))


def encode_heartbeat(node, state, fw_major, fw_minor, uptime_s):
    return HEARTBEAT + node, struct.pack("<BBHI", state, PROTOCOL_VERSION,
                                         ((fw_major & 0xFF) << 8) | (fw_minor & 0xFF), _u32(uptime_s))


def encode_command(node, opcode, token, args=b""):
    data = bytearray(8)
    data[0] = opcode
    data[1] = token & 0xFF
    data[2:2 + len(args)] = args
    return COMMAND + node, bytes(data)


def encode_discovery(target=0):
    return DISCOVERY, bytes((DISCOVERY_ANNOUNCE, target))


def parse_command(data):
    """Command bytes -> (opcode, token, args); raises CommandError with the reply result code."""
    if len(data) != 8:
        raise CommandError(R_BAD_ARGUMENT, "command DLC %d, expected 8" % len(data))
    op, token = data[0], data[1]
    if op == OP_SET_RELAY:
        if data[2] > RELAY_TOGGLE:
            raise CommandError(R_BAD_ARGUMENT, "set relay argument %d is not 0, 1 or 2" % data[2])
        return op, token, (data[2],)
    if op in (OP_REPORT_NOW, OP_RESET_LATCH):
        return op, token, ()
    if op == OP_SET_HUMIDITY_LIMIT:
        return op, token, (data[2], data[3])
    if op in (OP_SET_REPORT_PERIOD, OP_SET_POWER_LIMIT):
        return op, token, (data[2] | (data[3] << 8),)
    if op == OP_IDENTIFY:
        return op, token, (data[2],)
    if op == OP_SET_POWER_ON_STATE:
        if data[2] > POWER_ON_RESTORE:
            raise CommandError(R_BAD_ARGUMENT, "power-on state %d is not 0, 1 or 2" % data[2])
        return op, token, (data[2],)
    raise CommandError(R_UNKNOWN_OPCODE, "command opcode 0x%02x is not defined" % op)


def split_id(can_id):
    """11-bit id -> (base, node), or None when it is not a v1 id."""
    if can_id == DISCOVERY:
        return DISCOVERY, 0
    if can_id & 0x7C0 == TRANSFER_TO_GATEWAY:
        return (TRANSFER_TO_GATEWAY, can_id & 0x3F) if can_id & 0x3F else None
    base = can_id & 0x780
    node = can_id & 0x07F
    if base not in _BASES or node < 1 or node > MAX_NODE_ID:
        return None
    return base, node


def decode_status(byte):
    return {"relay": bool(byte & ST_RELAY), "humidityLatched": bool(byte & ST_HUMIDITY_LATCHED),
            "powerLatched": bool(byte & ST_POWER_LATCHED), "sensorFault": bool(byte & ST_SENSOR_FAULT)}


def _command_message(node, data):
    try:
        op, token, args = parse_command(data)
    except CommandError as e:
        raise FrameError("malformed", e.detail)
    if op == OP_SET_RELAY:
        cmd = {"op": "setRelay", "action": _RELAY_ACTIONS[args[0]]}
    elif op == OP_REPORT_NOW:
        cmd = {"op": "reportNow"}
    elif op == OP_SET_HUMIDITY_LIMIT:
        cmd = {"op": "setHumidityLimit", "limit": args[0], "hysteresis": args[1]}
    elif op == OP_RESET_LATCH:
        cmd = {"op": "resetLatch"}
    elif op == OP_SET_REPORT_PERIOD:
        cmd = {"op": "setReportPeriod", "ms": args[0]}
    elif op == OP_IDENTIFY:
        cmd = {"op": "identify", "seconds": args[0]}
    elif op == OP_SET_POWER_LIMIT:
        cmd = {"op": "setPowerLimit", "watts": args[0]}
    else:
        cmd = {"op": "setPowerOnState", "state": _POWER_ON_NAMES[args[0]]}
    return {"type": "command", "node": node, "token": token, "command": cmd}


def decode(can_id, data, ext=False, rtr=False):
    """Any v1 frame -> message dict; raises FrameError('unknown' | 'malformed', detail)."""
    if ext:
        raise FrameError("unknown", "29-bit id 0x%x" % can_id)
    if rtr:
        raise FrameError("malformed", "remote frame 0x%x" % can_id)
    parts = split_id(can_id)
    if parts is None:
        raise FrameError("unknown", "id 0x%x is not a protocol v1 id" % can_id)
    base, node = parts
    expected = 2 if base == DISCOVERY else 8
    if len(data) != expected:
        raise FrameError("malformed", "id 0x%x: DLC %d, expected %d" % (can_id, len(data), expected))
    if base == DISCOVERY:
        if data[0] != DISCOVERY_ANNOUNCE:
            raise FrameError("malformed", "discovery request 0x%02x is not announce" % data[0])
        if data[1] > MAX_NODE_ID:
            raise FrameError("malformed", "discovery target %d is over %d" % (data[1], MAX_NODE_ID))
        return {"type": "discovery", "target": data[1]}
    if base == COMMAND:
        return _command_message(node, data)
    if base == EVENT:
        code, flags, value, uptime = struct.unpack("<BBHI", data)
        return {"type": "event", "node": node, "code": code, "flags": flags, "value": value, "uptime": uptime}
    if base == POWER:
        v, i, p, status, seq = struct.unpack("<HHHBB", data)
        return {"type": "power", "node": node, "voltage": v / 10, "current": i / 1000, "power": p / 10,
                "status": decode_status(status), "seq": seq}
    if base == ENVIRONMENT:
        h, t, limit, hyst, status, seq = struct.unpack("<HhBBBB", data)
        return {"type": "environment", "node": node, "humidity": h / 10, "temperature": t / 10,
                "humidityLimit": limit, "hysteresis": hyst, "status": decode_status(status), "seq": seq}
    if base == ENERGY:
        wh, uptime = struct.unpack("<II", data)
        return {"type": "energy", "node": node, "energyWh": wh, "uptime": uptime}
    if base in (TRANSFER_TO_NODE, TRANSFER_TO_GATEWAY):
        from canplug import isotp  # here, not at the top: the node itself never decodes these (heap)
        try:
            pdu = isotp.decode_pdu(data)
        except ValueError as e:
            raise FrameError("malformed", "transfer frame: %s" % e)
        return {"type": "transfer", "node": node, "direction": "toNode" if base == TRANSFER_TO_NODE else "toGateway",
                "pdu": pdu}
    if base == REPLY:
        op, token, result, status, detail = struct.unpack("<BBBBI", data)
        if result >= len(_RESULT_NAMES):
            raise FrameError("malformed", "reply result code %d is not defined" % result)
        return {"type": "reply", "node": node, "opcode": op, "token": token, "result": _RESULT_NAMES[result],
                "status": decode_status(status), "detail": detail}
    state, proto, fw, uptime = struct.unpack("<BBHI", data)
    if state >= len(_STATE_NAMES):
        raise FrameError("malformed", "heartbeat state %d is not defined" % state)
    return {"type": "heartbeat", "node": node, "state": _STATE_NAMES[state], "protocol": proto,
            "firmware": "%d.%d" % (fw >> 8, fw & 0xFF), "uptime": uptime}
