# MCP2515 stand-alone CAN controller over machine.SPI (Microchip DS20001801).
# Standard 11-bit frames are the protocol; 29-bit and remote frames are still read correctly.
from canplug.bit_timing import cnf_registers

# SPI instructions (datasheet table 12-1)
RESET = 0xC0
READ = 0x03
WRITE = 0x02
BIT_MODIFY = 0x05
READ_STATUS = 0xA0
RX_STATUS = 0xB0
LOAD_TX_BUFFER = 0x40   # | 0, 2, 4: TXB0/1/2 starting at SIDH
RTS = 0x80              # | 1 << n
READ_RX_BUFFER = 0x90   # | 0 RXB0, 4 RXB1, starting at SIDH; CS high clears RXnIF

# registers
RXF0SIDH = 0x00
RXF3SIDH = 0x10
TEC = 0x1C
REC = 0x1D
RXM0SIDH = 0x20
CANSTAT = 0x0E
CANCTRL = 0x0F
CNF3 = 0x28
CANINTE = 0x2B
CANINTF = 0x2C
EFLG = 0x2D
TXB_CTRL = (0x30, 0x40, 0x50)
RXB0CTRL = 0x60
RXB1CTRL = 0x70

MODE_NORMAL = 0x00
MODE_SLEEP = 0x20
MODE_LOOPBACK = 0x40
MODE_LISTEN_ONLY = 0x60
MODE_CONFIG = 0x80
MODE_MASK = 0xE0
ABAT = 0x10

RXB0CTRL_BUKT = 0x04
RXM_ANY = 0x60

INT_RX0 = 0x01
INT_RX1 = 0x02
INT_ERR = 0x20
INT_MERR = 0x80

EFLG_RX0OVR = 0x40
EFLG_RX1OVR = 0x80
EFLG_TXBO = 0x20
EFLG_TXEP = 0x10
EFLG_RXEP = 0x08

_TXREQ_STATUS_BITS = (0x04, 0x10, 0x40)  # READ STATUS: TXBnCTRL.TXREQ


class Mcp2515Error(Exception):
    pass


def _id_bytes(can_id, ext):
    """SIDH, SIDL, EID8, EID0 as the TX buffers and filters hold an identifier."""
    if ext:
        sid = can_id >> 18
        return bytes((sid >> 3, ((sid & 7) << 5) | 0x08 | ((can_id >> 16) & 3),
                      (can_id >> 8) & 0xFF, can_id & 0xFF))
    return bytes((can_id >> 3, (can_id & 7) << 5, 0, 0))


class Mcp2515:
    """One MCP2515 on an SPI bus. `clock` gives sleep_ms/sleep_us/ticks_ms/ticks_diff."""

    def __init__(self, spi, cs, clock, crystal_hz=8000000):
        self._spi = spi
        self._cs = cs
        self._clock = clock
        self.crystal_hz = crystal_hz
        self._txp = [0, 0, 0]
        self._config = None
        self._bus_off_since = None
        self.rx_overflows = 0
        self.bus_off_count = 0
        self.restarts = 0
        cs.value(1)

    # --- SPI instructions -------------------------------------------------------------

    def _transfer(self, out, n_in=0):
        self._cs.value(0)
        try:
            self._spi.write(out)
            return self._spi.read(n_in) if n_in else None
        finally:
            self._cs.value(1)

    def reset(self):
        self._transfer(bytes((RESET,)))
        self._clock.sleep_ms(2)  # oscillator start-up timer: 128 clocks after reset, plus margin
        stat = self.read(CANSTAT)[0]
        if stat & MODE_MASK != MODE_CONFIG:
            raise Mcp2515Error("no MCP2515 answers on SPI (CANSTAT 0x%02x after reset); check wiring and CS" % stat)

    def read(self, addr, n=1):
        return self._transfer(bytes((READ, addr)), n)

    def write(self, addr, data):
        self._transfer(bytes((WRITE, addr)) + bytes(data))

    def bit_modify(self, addr, mask, value):
        self._transfer(bytes((BIT_MODIFY, addr, mask, value)))

    def read_status(self):
        return self._transfer(bytes((READ_STATUS,)), 1)[0]

    def rx_status(self):
        return self._transfer(bytes((RX_STATUS,)), 1)[0]

    # --- configuration ----------------------------------------------------------------

    def mode(self):
        return self.read(CANSTAT)[0] & MODE_MASK

    def set_mode(self, mode, attempts=50):
        """Requests a mode and waits until CANSTAT confirms it (a frame in flight finishes first)."""
        self.bit_modify(CANCTRL, MODE_MASK, mode)
        for _ in range(attempts):
            if self.mode() == mode:
                return
            self._clock.sleep_us(200)
        raise Mcp2515Error("MCP2515 did not enter mode 0x%02x (CANSTAT says 0x%02x)" % (mode, self.mode()))

    def set_bitrate(self, bitrate):
        cnf1, cnf2, cnf3 = cnf_registers(self.crystal_hz, bitrate)
        self.write(CNF3, bytes((cnf3, cnf2, cnf1)))  # CNF3, CNF2, CNF1 are adjacent

    def set_filters(self, ids):
        """Accepts only these standard ids (1..6 of them); masks compare all 11 bits, no data bytes."""
        if not 1 <= len(ids) <= 6:
            raise ValueError("1 to 6 ids, got %d" % len(ids))
        full = _id_bytes(0x7FF, False)
        self.write(RXM0SIDH, full + full)
        rxb0 = [ids[0], ids[1 % len(ids)]]
        rest = list(ids[2:]) or list(ids)
        rxb1 = [rest[k % len(rest)] for k in range(4)]  # unused filters repeat an id: never match anything else
        self.write(RXF0SIDH, b"".join(_id_bytes(i, False) for i in rxb0 + rxb1[:1]))
        self.write(RXF3SIDH, b"".join(_id_bytes(i, False) for i in rxb1[1:]))
        self.bit_modify(RXB0CTRL, RXM_ANY, 0)
        self.bit_modify(RXB1CTRL, RXM_ANY, 0)

    def accept_all(self):
        self.bit_modify(RXB0CTRL, RXM_ANY, RXM_ANY)
        self.bit_modify(RXB1CTRL, RXM_ANY, RXM_ANY)

    def start(self, bitrate, ids=None, mode=MODE_NORMAL):
        """Full set-up from reset; remembered so that bus-off recovery can repeat it."""
        self._config = (bitrate, ids, mode)
        self.reset()
        self.set_bitrate(bitrate)
        if ids:
            self.set_filters(ids)
        else:
            self.accept_all()
        self.bit_modify(RXB0CTRL, RXB0CTRL_BUKT, RXB0CTRL_BUKT)  # RXB0 full: roll over into RXB1
        self.write(CANINTE, bytes((INT_RX0 | INT_RX1 | INT_ERR,)))
        self.write(CANINTF, b"\x00")
        self._txp = [0, 0, 0]
        self._bus_off_since = None
        self.set_mode(mode)

    def loopback_self_test(self, can_id):
        """Sends one frame to itself in loopback mode; proves SPI, registers and the filters."""
        bitrate, ids, mode = self._config
        self.set_mode(MODE_LOOPBACK)
        try:
            probe = b"\xca\x9b"
            if not self.send(can_id, probe):
                return False
            for _ in range(20):
                frame = self.recv()
                if frame is not None:
                    return frame[0] == can_id and frame[1] == probe
                self._clock.sleep_us(200)
            return False
        finally:
            self.set_mode(mode)

    # --- frames -----------------------------------------------------------------------

    def send(self, can_id, data, ext=False, rtr=False):
        """Queues a frame in a free TX buffer; False when all three are busy.

        TXP is lowered for each buffer loaded behind pending ones, so frames leave in the order
        they were queued (the chip otherwise picks the highest buffer number first)."""
        status = self.read_status()
        pending = [n for n in range(3) if status & _TXREQ_STATUS_BITS[n]]
        free = [n for n in range(3) if n not in pending]
        if not free:
            return False
        priority = 3
        if pending:
            priority = min(self._txp[n] for n in pending) - 1
            if priority < 0:
                return False
        n = free[0]
        dlc = len(data) | (0x40 if rtr else 0)
        self._transfer(bytes((LOAD_TX_BUFFER | (n << 1),)) + _id_bytes(can_id, ext) + bytes((dlc,)) + bytes(data))
        if self._txp[n] != priority:
            self.bit_modify(TXB_CTRL[n], 0x03, priority)
            self._txp[n] = priority
        self._transfer(bytes((RTS | (1 << n),)))
        return True

    def recv(self):
        """The oldest waiting frame as (id, data, ext, rtr), or None."""
        status = self.rx_status()
        if status & 0x40:
            instruction = READ_RX_BUFFER
        elif status & 0x80:
            instruction = READ_RX_BUFFER | 0x04
        else:
            return None
        raw = self._transfer(bytes((instruction,)), 13)
        sidl = raw[1]
        sid = (raw[0] << 3) | (sidl >> 5)
        ext = bool(sidl & 0x08)
        if ext:
            can_id = (sid << 18) | ((sidl & 3) << 16) | (raw[2] << 8) | raw[3]
            rtr = bool(raw[4] & 0x40)
        else:
            can_id = sid
            rtr = bool(sidl & 0x10)
        length = min(raw[4] & 0x0F, 8)
        return can_id, bytes(raw[5:5 + length]) if not rtr else b"", ext, rtr

    # --- errors -----------------------------------------------------------------------

    def error_state(self):
        tec, rec = self.read(TEC, 2)
        return tec, rec, self.read(EFLG)[0]

    def service(self, restart_after_ms=1000):
        """Housekeeping for the main loop: counts and clears RX overflows, recovers from bus-off.

        The MCP2515 leaves bus-off by itself after 128 x 11 recessive bits; if the bus never
        gives it those (a short, a wrong bitrate), it is reset and configured again."""
        tec, rec, eflg = self.error_state()
        if eflg & (EFLG_RX0OVR | EFLG_RX1OVR):
            self.rx_overflows += 1
            self.bit_modify(EFLG, EFLG_RX0OVR | EFLG_RX1OVR, 0)
        self.bit_modify(CANINTF, INT_ERR | INT_MERR, 0)
        now = self._clock.ticks_ms()
        if eflg & EFLG_TXBO:
            if self._bus_off_since is None:
                self._bus_off_since = now
                self.bus_off_count += 1
                self.bit_modify(CANCTRL, ABAT, ABAT)  # stale frames would go out after recovery
            elif self._clock.ticks_diff(now, self._bus_off_since) >= restart_after_ms and self._config:
                self.restarts += 1
                self.start(*self._config)
        else:
            if self._bus_off_since is not None:
                self.bit_modify(CANCTRL, ABAT, 0)
            self._bus_off_since = None
        return tec, rec, eflg
