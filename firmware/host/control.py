"""The control lines of a simulated node (host/run.py on CPython, host/vm_node.py on the MicroPython VM):
one line changes the simulated world or asks for the node's status; one dict answers it."""

from canplug import FIRMWARE_VERSION

_STATES = ("boot", "running", "fault")
_NUMERIC = {"humidity": "humidity", "temperature": "temperature", "load": "load_w", "pf": "power_factor",
            "voltage": "voltage"}


def status(node):
    s, r = node.safety, node.reading
    return {"relay": s.relay.closed, "humidity_latched": s.humidity_latched, "power_latched": s.power_latched,
            "sensor_fault": s.sensor_fault(), "state": _STATES[node.heartbeat_state()],
            "humidity": node.dht.humidity, "temperature": node.dht.temperature,
            "volts": round(r.volts, 1) if r else None, "amps": round(r.amps, 3) if r else None,
            "watts": round(r.watts, 1) if r else None, "energy_wh": node.energy.wh,
            "late_cycles": node.meter.late_cycles, "firmware": "%d.%d" % FIRMWARE_VERSION}


def apply(node, plant, line):
    """One control line -> answer dict, or None for a blank line. `quit` is the caller's."""
    words = line.split()
    if not words:
        return None
    cmd, rest = words[0].lower(), words[1:]
    try:
        if cmd in _NUMERIC and len(rest) == 1:
            setattr(plant, _NUMERIC[cmd], float(rest[0]))
            return {"ok": True, cmd: float(rest[0])}
        if cmd == "dht" and rest in (["fail"], ["ok"]):
            plant.dht_failing = rest[0] == "fail"
            return {"ok": True, "dht": rest[0]}
        if cmd == "status" and not rest:
            answer = status(node)
            answer["ok"] = True
            return answer
    except ValueError:
        pass
    return {"ok": False, "error": "unknown control line %r" % line.strip()}
