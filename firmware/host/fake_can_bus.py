"""A simulated CAN bus at one bitrate, joining fake MCP2515s and plain peers (the gateway)."""

ACK_ERROR = "ack"
BITRATE_ERROR = "bitrate"


class FakeBus:
    def __init__(self, bitrate):
        self.bitrate = bitrate
        self.chips = []
        self.peers = []
        self.log = []  # every frame that made it onto the bus: (sender, id, data, ext, rtr)

    def attach(self, chip):
        self.chips.append(chip)
        chip.bus = self

    def add_peer(self, callback):
        """A peer receives every frame the chips send, and acknowledges it."""
        self.peers.append(callback)

    def transmit(self, sender, frame):
        """Puts a frame on the bus; None on success, else ACK_ERROR or BITRATE_ERROR."""
        others = [c for c in self.chips if c is not sender]
        if sender is not None and sender.bitrate() != self.bitrate:
            for c in others:
                c.bus_error(rx=True)  # everyone else sees error frames
            return BITRATE_ERROR
        in_step = []
        for c in others:
            if c.bitrate() == self.bitrate:
                in_step.append(c)
            elif c.mode_name() in ("normal", "listen-only"):
                c.bus_error(rx=True)  # a node at another bitrate sees only garbage
        ackers = [c for c in in_step if c.mode_name() == "normal"]
        if not ackers and (sender is None or not self.peers):
            return ACK_ERROR  # the transmitter's error frame destroys the frame for every receiver
        self.log.append((sender.name if sender else "peer",) + tuple(frame))
        for c in in_step:
            c.receive_from_bus(frame)
        if sender is not None:
            for peer in self.peers:
                peer(frame)
        return None

    def inject(self, can_id, data=b"", ext=False, rtr=False):
        """A peer sends a frame; True when a controller acknowledged it."""
        return self.transmit(None, (can_id, bytes(data), ext, rtr)) is None
