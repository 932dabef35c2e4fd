"""The firmware codec against the shared vectors the gateway's codec is tested with."""
import binascii
import unittest

from canplug import isotp
from canplug import protocol as p
from canplug import seed
from tests import vector_sweep
from tests.frames import format_frame, load_vectors, parse_frame

VECTORS = load_vectors()


def status_of(message):
    s = message["status"]
    return p.status_byte(s["relay"], s["humidityLatched"], s["powerLatched"], s["sensorFault"])


def encode_as_node(m):
    """Encodes a vector message with the same encoder calls the node makes."""
    kind = m["type"]
    if kind == "power":
        return p.encode_power(m["node"], m["voltage"], m["current"], m["power"], status_of(m), m["seq"])
    if kind == "environment":
        return p.encode_environment(m["node"], m["humidity"], m["temperature"], m["humidityLimit"],
                                    m["hysteresis"], status_of(m), m["seq"])
    if kind == "energy":
        return p.encode_energy(m["node"], m["energyWh"], m["uptime"])
    if kind == "event":
        return p.encode_event(m["node"], m["code"], m["flags"], m["value"], m["uptime"])
    if kind == "reply":
        result = ["ok", "interlocked", "badArgument", "unknownOpcode", "failed"].index(m["result"])
        return p.encode_reply(m["node"], m["opcode"], m["token"], result, status_of(m), m["detail"])
    if kind == "heartbeat":
        major, minor = (int(x) for x in m["firmware"].split("."))
        state = ["boot", "running", "fault"].index(m["state"])
        return p.encode_heartbeat(m["node"], state, major, minor, m["uptime"])
    if kind == "discovery":
        return p.encode_discovery(m["target"])
    if kind == "transfer" and m["direction"] == "toGateway":  # the node sends single frames and flow control
        pdu, can_id = m["pdu"], p.TRANSFER_TO_GATEWAY + m["node"]
        if pdu["kind"] == "single":
            return can_id, isotp.single_frame(binascii.unhexlify(pdu["data"]))
        if pdu["kind"] == "flow":
            status = ("continue", "wait", "overflow").index(pdu["status"])
            return can_id, isotp.flow_control(status, pdu["blockSize"], pdu["stMin"])
    return None


class V1VectorTest(unittest.TestCase):
    def test_decodes_every_valid_vector_to_its_meaning(self):
        for v in VECTORS["v1"]["valid"]:
            with self.subTest(v["name"]):
                can_id, data, ext, rtr = parse_frame(v["frame"])
                self.assertEqual(p.decode(can_id, data, ext, rtr), v["message"])

    def test_node_encodes_every_node_frame_byte_exact(self):
        encoded = 0
        for v in VECTORS["v1"]["valid"]:
            frame = encode_as_node(v["message"])
            if frame is None:
                continue
            with self.subTest(v["name"]):
                self.assertEqual(format_frame(*frame), v["frame"])
                encoded += 1
        self.assertGreaterEqual(encoded, 15)

    def test_refuses_every_invalid_vector_with_its_reason(self):
        for v in VECTORS["v1"]["invalid"]:
            with self.subTest(v["name"]):
                with self.assertRaises(p.FrameError) as caught:
                    p.decode(*parse_frame(v["frame"]))
                self.assertEqual(caught.exception.reason, v["reason"])
                self.assertTrue(caught.exception.detail)

    def test_command_encoder_round_trips_the_command_vectors(self):
        for v in VECTORS["v1"]["valid"]:
            if v["message"]["type"] != "command":
                continue
            can_id, data, _, _ = parse_frame(v["frame"])
            with self.subTest(v["name"]):
                self.assertEqual(p.encode_command(can_id - p.COMMAND, data[0], data[1], data[2:]), (can_id, data))

    def test_node_tells_unknown_opcode_from_bad_argument(self):
        # The gateway calls both "malformed"; the node must answer 3 and 2 respectively.
        with self.assertRaises(p.CommandError) as unknown:
            p.parse_command(parse_frame("201#0901000000000000")[1])
        self.assertEqual(unknown.exception.result, p.R_UNKNOWN_OPCODE)
        with self.assertRaises(p.CommandError) as bad:
            p.parse_command(parse_frame("201#0101030000000000")[1])
        self.assertEqual(bad.exception.result, p.R_BAD_ARGUMENT)

    def test_values_out_of_range_saturate_instead_of_wrapping(self):
        _, data = p.encode_power(1, 7000.0, 70.0, -3.0, 0, 256)
        self.assertEqual(format_frame(0x181, data), "181#FFFFFFFF00000000")

    def test_every_id_and_dlc_decodes_or_raises_frame_error(self):
        # Every 11-bit id with every DLC (and as a remote frame), both codecs: a message or a
        # FrameError, never another exception (on MicroPython one escaped here before).
        count = 0
        for line in vector_sweep.lines():
            result = line.split(" -> ")[1]
            self.assertTrue(result.startswith(("{", "FrameError ")), line)
            count += 1
        self.assertGreater(count, 0x800 * 19)


class SeedVectorTest(unittest.TestCase):
    def test_decodes_and_encodes_every_reading_vector(self):
        for v in VECTORS["seed"]["valid"]:
            can_id, data, ext, rtr = parse_frame(v["frame"])
            with self.subTest(v["name"]):
                message = v["message"]
                self.assertEqual(seed.decode_reading(can_id, data, ext, rtr), message)
                if message["quantity"] == "humidity":
                    frame = seed.encode_humidity(message["value"])
                else:
                    frame = seed.encode_decimal(can_id, message["value"])
                self.assertEqual(format_frame(*frame), v["frame"])

    def test_relay_commands_compare_the_whole_frame(self):
        for v in VECTORS["seed"]["commands"]:
            with self.subTest(v["name"]):
                self.assertIs(seed.relay_command(parse_frame(v["frame"])[1]), v["on"])
        self.assertIsNone(seed.relay_command(bytes.fromhex("0100000000000001")))
        self.assertIsNone(seed.relay_command(bytes.fromhex("01")))

    def test_refuses_invalid_vectors(self):
        for v in VECTORS["seed"]["invalid"]:
            with self.subTest(v["name"]):
                with self.assertRaises(p.FrameError) as caught:
                    seed.decode_reading(*parse_frame(v["frame"]))
                self.assertEqual(caught.exception.reason, v["reason"])

    def test_legacy_decimal_keeps_one_digit_and_saturates(self):
        self.assertEqual(seed.encode_decimal(seed.CURRENT_ID, 2.06)[1][6:], bytes((2, 1)))
        self.assertEqual(seed.encode_decimal(seed.POWER_ID, 2300.0)[1][6:], bytes((255, 9)))


if __name__ == "__main__":
    unittest.main()
