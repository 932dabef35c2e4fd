"""The firmware's CAN seam on a development machine: python-can (SocketCAN, or 'virtual' in tests).

Also: a simulated MCP2515 between the two, so the real driver runs byte by byte against the
register-level fake while frames travel over python-can (run.py --mcp2515)."""
import can

from canplug.can_port import Mcp2515Port
from canplug.mcp2515 import Mcp2515
from host.fake_can_bus import FakeBus
from host.fake_mcp2515 import FakeMcp2515


class PythonCanPort:
    rx_depth = 64  # the socket buffer holds hundreds; a board with an MCP2515 holds 2 (run.py --mcp2515 has that)

    def __init__(self, bus, ids=None):
        self.bus = bus
        if ids:
            # what the MCP2515's masks and filters do on the socket
            bus.set_filters([{"can_id": i, "can_mask": 0x7FF, "extended": False} for i in ids])
        self.sent = 0
        self.send_failures = 0

    def send(self, can_id, data):
        try:
            self.bus.send(can.Message(arbitration_id=can_id, data=bytes(data), is_extended_id=False), timeout=0.05)
        except can.CanError:
            self.send_failures += 1  # e.g. the interface's queue is full or it is down
            return False
        self.sent += 1
        return True

    def recv(self):
        while True:
            msg = self.bus.recv(timeout=0)
            if msg is None:
                return None
            if not msg.is_error_frame:
                return msg.arbitration_id, bytes(msg.data), msg.is_extended_id, msg.is_remote_frame

    def service(self):
        pass  # SocketCAN handles bus-off itself (ip link set ... restart-ms)


class SimulatedMcp2515Port(Mcp2515Port):
    """The firmware's Mcp2515Port over a FakeMcp2515 whose bus side is a python-can bus."""

    def __init__(self, bus, clock, crystal_hz, bitrate, restart_ms=1000):
        self._pycan = bus
        self._fake_bus = FakeBus(bitrate)
        self.chip = FakeMcp2515(crystal_hz, name="node")
        self._fake_bus.attach(self.chip)
        self._fake_bus.add_peer(self._to_pycan)
        Mcp2515Port.__init__(self, Mcp2515(self.chip.spi, self.chip.cs, clock, crystal_hz),
                             self.chip.int_pin, restart_ms)

    def _to_pycan(self, frame):
        can_id, data, ext, rtr = frame
        self._pycan.send(can.Message(arbitration_id=can_id, data=data, is_extended_id=ext, is_remote_frame=rtr))

    def recv(self):
        # feed the chip only while it has a free receive buffer, as a real bus paced by polling would
        while self.chip.regs[0x2C] & 0x03 != 0x03:
            msg = self._pycan.recv(timeout=0)
            if msg is None:
                break
            if not msg.is_error_frame:
                self._fake_bus.inject(msg.arbitration_id, bytes(msg.data), msg.is_extended_id, msg.is_remote_frame)
        return Mcp2515Port.recv(self)
