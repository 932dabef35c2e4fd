# Legacy profile "seed": the original 2021 socket's frames (design: "Legacy profile").
# One socket per bus, no addressing; readings are printed as "<b6>.<b7>" by the original Pi app.
SEED_COMMAND_ID = 0x001
VOLTAGE_ID = 0x001
CURRENT_ID = 0x002
POWER_ID = 0x003
HUMIDITY_ID = 0x004
_QUANTITIES = {VOLTAGE_ID: "voltage", CURRENT_ID: "current", POWER_ID: "power", HUMIDITY_ID: "humidity"}

CLOSE_FRAME = b"\x01\x00\x00\x00\x00\x00\x00\x00"
OPEN_FRAME = b"\x00\x00\x00\x00\x00\x00\x00\x00"


def relay_command(data):
    """True to close, False to open, None for anything else (the original compared the whole frame)."""
    data = bytes(data)
    if data == CLOSE_FRAME:
        return True
    if data == OPEN_FRAME:
        return False
    return None


def encode_decimal(can_id, value):
    # One decimal digit only: "<b6>.<b7>" would read [2, 5] and [2, 50] alike and cannot say 2.05.
    # Values above 255.9 saturate: the legacy format has no room for them.
    tenths = int(round(value * 10))
    tenths = 0 if tenths < 0 else (2559 if tenths > 2559 else tenths)
    data = bytearray(8)
    data[6] = tenths // 10
    data[7] = tenths % 10
    return can_id, bytes(data)


def encode_humidity(humidity):
    data = bytearray(8)
    h = int(round(humidity))
    data[7] = 0 if h < 0 else (255 if h > 255 else h)
    return HUMIDITY_ID, bytes(data)


def decode_reading(can_id, data, ext=False, rtr=False):
    """Reading frame -> {'type': 'seed', 'quantity', 'value'}; raises protocol.FrameError."""
    from canplug.protocol import FrameError
    quantity = None if (ext or rtr) else _QUANTITIES.get(can_id)
    if quantity is None:
        raise FrameError("unknown", "id 0x%x is not a seed id" % can_id)
    if len(data) != 8:
        raise FrameError("malformed", "seed id 0x%x: DLC %d, expected 8" % (can_id, len(data)))
    if quantity == "humidity":
        value = data[7]
    else:
        value = float("%d.%d" % (data[6], data[7]))
    return {"type": "seed", "quantity": quantity, "value": value}
