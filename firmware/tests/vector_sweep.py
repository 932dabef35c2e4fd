"""What the firmware's codecs make of every shared test vector and of every 11-bit id with every DLC,
one line each, so that test/firmware/unittest-suite.test.ts can compare CPython and MicroPython line
by line. Run from firmware/: `/usr/bin/python3 -m tests.vector_sweep`.

A line is `<frame> <codec> -> <message>` with keys sorted and numbers printed one way on both
interpreters, or `-> FrameError <reason>`, or `-> <ExceptionType>` for anything else (a bug)."""
from canplug import protocol as p
from canplug import seed
from tests.frames import format_frame, load_vectors, parse_frame


def canonical(value):
    if isinstance(value, dict):
        return "{" + ", ".join("%s: %s" % (k, canonical(value[k])) for k in sorted(value)) + "}"
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float):
        return "%.4f" % value
    if isinstance(value, int):
        return "%d" % value
    return repr(value)


def outcome(decode, can_id, data, ext=False, rtr=False):
    try:
        return canonical(decode(can_id, data, ext, rtr))
    except p.FrameError as e:
        return "FrameError %s" % e.reason
    except Exception as e:  # what the VM found: a different exception escaping the codec
        return type(e).__name__


def lines():
    vectors = load_vectors()
    for profile, decode in (("v1", p.decode), ("seed", seed.decode_reading)):
        for kind in ("valid", "invalid"):
            for v in vectors[profile][kind]:
                yield "%s %s %s -> %s" % (v["frame"], profile, kind, outcome(decode, *parse_frame(v["frame"])))
    for can_id in range(0x800):
        for dlc in range(9):
            data = bytes((can_id + 7 * k + dlc) & 0xFF for k in range(dlc))
            frame = format_frame(can_id, data)
            yield "%s v1 -> %s" % (frame, outcome(p.decode, can_id, data))
            yield "%s seed -> %s" % (frame, outcome(seed.decode_reading, can_id, data))
        yield "%03X#R v1 -> %s" % (can_id, outcome(p.decode, can_id, b"", False, True))


def main():
    count = 0
    for line in lines():
        print(line)
        count += 1
    print("sweep done: %d lines" % count)


if __name__ == "__main__":
    main()
