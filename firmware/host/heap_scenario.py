"""What happens in the heap runs' simulated minutes, besides the node's own reports every second:
commands over CAN, settings written to flash, a humidity trip and re-arm, a sensor fault, a load
change. One scenario for both runs: the MicroPython VM (test/firmware/vm-node-heap.test.ts) and
MicroPython's unix port with a fixed heap (host/heap_run.py)."""
import json

from canplug import protocol as p

MINUTES = 10


def steps(node_id):
    """{second: [("frame", can_id, data) | ("control", line), ...]}; the frames are commands with
    tokens 1, 2, ... in time order."""
    at = {}
    commands = [(5, p.OP_SET_RELAY, (p.RELAY_CLOSE,))]
    commands += [(s, p.OP_REPORT_NOW, ()) for s in range(30, MINUTES * 60, 30)]
    commands += [
        (60, p.OP_SET_HUMIDITY_LIMIT, (75, 5)),
        (90, p.OP_SET_REPORT_PERIOD, (500 & 0xFF, 500 >> 8)),
        (120, p.OP_SET_POWER_LIMIT, (2000 & 0xFF, 2000 >> 8)),
        (150, p.OP_SET_REPORT_PERIOD, (1000 & 0xFF, 1000 >> 8)),
        (205, p.OP_SET_RELAY, (p.RELAY_CLOSE,)),  # refused: interlocked since 200
        (270, p.OP_RESET_LATCH, ()),
        (275, p.OP_SET_RELAY, (p.RELAY_CLOSE,)),
        (300, p.OP_SET_POWER_ON_STATE, (p.POWER_ON_RESTORE,)),
        (400, p.OP_IDENTIFY, (5,)),
        (545, p.OP_SET_RELAY, (p.RELAY_CLOSE,)),
    ]
    commands.sort(key=lambda c: c[0])
    for token, (second, opcode, args) in enumerate(commands, 1):
        can_id, data = p.encode_command(node_id, opcode, token, bytes(args))
        at.setdefault(second, []).append(("frame", can_id, data))
    for second, line in ((200, "humidity 85"), (260, "humidity 50"), (450, "load 900"), (500, "dht fail"),
                         (530, "dht ok")):
        at.setdefault(second, []).append(("control", line))
    return at


def as_json(node_id):
    """steps() in time order, for the VM test: {"second", "id", "data" (hex)} for a frame,
    {"second", "control"} for a control line."""
    out = []
    for second, todo in sorted(steps(node_id).items()):
        for step in todo:
            if step[0] == "frame":
                out.append({"second": second, "id": step[1], "data": "".join("%02x" % b for b in step[2])})
            else:
                out.append({"second": second, "control": step[1]})
    return json.dumps(out)
