# The CAN seam. A port has:
#   send(can_id, data) -> bool      False when the controller cannot take the frame now
#   recv() -> (id, data, ext, rtr) or None
#   service()                       periodic housekeeping (errors, bus-off recovery)
#   rx_depth                        frames it holds between two polls without losing one
# On the socket it is an MCP2515; on a development machine host/pycan_port.py (python-can).
from canplug import mcp2515


class Mcp2515Port:
    rx_depth = 2  # RXB0 rolling over into RXB1

    def __init__(self, driver, int_pin=None, restart_ms=1000):
        self.driver = driver
        self._int = int_pin
        self._restart_ms = restart_ms
        self.sent = 0
        self.received = 0

    def start(self, bitrate, ids, self_test_id=None):
        """Configures the controller; with self_test_id, first proves it in loopback mode."""
        self.driver.start(bitrate, ids)
        if self_test_id is not None and not self.driver.loopback_self_test(self_test_id):
            raise mcp2515.Mcp2515Error("loopback self-test failed")

    def send(self, can_id, data):
        ok = self.driver.send(can_id, data)
        if ok:
            self.sent += 1
        return ok

    def recv(self):
        if self._int is not None and self._int.value() == 1:
            return None  # INT is active low: nothing received (and no error) since the last look
        frame = self.driver.recv()
        if frame is not None:
            self.received += 1
        return frame

    def service(self):
        self.driver.service(self._restart_ms)
