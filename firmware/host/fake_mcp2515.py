"""A register-level MCP2515 for host tests and the host runner (Microchip DS20001801).

It executes the SPI instruction set byte by byte while CS is low, against a 128-byte register
file: auto-incrementing READ/WRITE, BIT MODIFY (mask forced to 0xFF on registers that do not
support it), READ STATUS, RX STATUS, LOAD TX BUFFER, RTS, READ RX BUFFER (RXnIF cleared when
CS rises), RESET. Frames leave through RTS onto a FakeBus and come in through the mask/filter
logic with RXB0 -> RXB1 rollover. Modes: configuration, normal, listen-only, loopback, sleep.
Bit timing is taken from CNF1..3 and the crystal: a node at another bitrate than the bus only
makes errors, which is how the 16-MHz-crystal-configured-as-8-MHz trap shows up here.

Deliberately independent of canplug.mcp2515: its own register map, written from the datasheet.
"""
from host.fake_can_bus import ACK_ERROR
from host.fake_spi import ChipSelect, SpiBus

CANSTAT, CANCTRL = 0x0E, 0x0F
BFPCTRL, TXRTSCTRL = 0x0C, 0x0D
TEC, REC = 0x1C, 0x1D
CNF3, CNF2, CNF1 = 0x28, 0x29, 0x2A
CANINTE, CANINTF, EFLG = 0x2B, 0x2C, 0x2D
TXB = (0x30, 0x40, 0x50)    # TXBnCTRL; SIDH at +1 ... D7 at +13
RXB = (0x60, 0x70)          # RXBnCTRL; same layout
FILTERS = (0x00, 0x04, 0x08, 0x10, 0x14, 0x18)
MASKS = (0x20, 0x24)

MODE_NAMES = {0x00: "normal", 0x20: "sleep", 0x40: "loopback", 0x60: "listen-only", 0x80: "configuration"}
_BIT_MODIFIABLE = set(TXB) | set(RXB) | {CNF1, CNF2, CNF3, CANINTE, CANINTF, EFLG, CANCTRL, BFPCTRL, TXRTSCTRL}
_CONFIG_ONLY = set(range(0x00, 0x0C)) | set(range(0x10, 0x1C)) | set(range(0x20, 0x28)) | {CNF1, CNF2, CNF3, TXRTSCTRL}
_FILTER_MASK_REGS = set(range(0x00, 0x0C)) | set(range(0x10, 0x1C)) | set(range(0x20, 0x28))
_GARBAGE = 0xA5  # registers the datasheet leaves undefined after reset


class _IntPin:
    """The active-low INT output: low while an enabled interrupt flag is set."""

    def __init__(self, chip):
        self._chip = chip

    def value(self, v=None):
        return 0 if self._chip.regs[CANINTE] & self._chip.regs[CANINTF] else 1


class FakeMcp2515:
    def __init__(self, crystal_hz=8000000, name="mcp2515"):
        self.crystal_hz = crystal_hz
        self.name = name
        self.bus = None
        self.spi = SpiBus(self)
        self.cs = ChipSelect(self)
        self.int_pin = _IntPin(self)
        self.instructions = []        # every instruction byte executed, for coverage checks
        self.mode_delay_reads = 0     # CANSTAT reads before a requested mode takes effect
        self.refuse_mode_change = False
        self.hold_transmissions = False  # bus busy: RTS only marks buffers pending
        self.regs = bytearray(128)
        self._selected = False
        self._reset_registers()

    # --- register file ----------------------------------------------------------------

    def _reset_registers(self):
        for a in range(128):
            self.regs[a] = _GARBAGE
        for a in (BFPCTRL, TXRTSCTRL, TEC, REC, CNF3, CNF2, CNF1, CANINTE, CANINTF, EFLG) + TXB + RXB:
            self.regs[a] = 0
        self.regs[CANCTRL] = 0x87
        self.regs[CANSTAT] = 0x80
        self._pending_mode = None
        self._mode_wait = 0
        self._rx_status_last = 0

    def mode(self):
        return self.regs[CANSTAT] & 0xE0

    def mode_name(self):
        return MODE_NAMES.get(self.mode(), "?")

    def _canonical(self, addr):
        addr &= 0x7F
        low = addr & 0x0F
        return CANSTAT if low == 0x0E else (CANCTRL if low == 0x0F else addr)

    def _read_reg(self, addr):
        addr = self._canonical(addr)
        if addr == CANSTAT:
            self._advance_mode()
        if addr in _FILTER_MASK_REGS and self.mode() != 0x80:
            return 0  # masks and filters read as 0 outside configuration mode
        return self.regs[addr]

    def _write_reg(self, addr, value, mask=0xFF):
        addr = self._canonical(addr)
        if addr in _CONFIG_ONLY and self.mode() != 0x80:
            return
        writable = self._writable_bits(addr)
        mask &= writable
        self.regs[addr] = (self.regs[addr] & ~mask & 0xFF) | (value & mask)
        if addr == CANCTRL:
            self._canctrl_written()
        elif addr in TXB and self.regs[addr] & 0x08:
            self._try_transmit()

    def _writable_bits(self, addr):
        if addr == CANSTAT or addr in (TEC, REC):
            return 0x00
        if addr == EFLG:
            return 0xC0
        if addr in TXB:
            return 0x0B
        if addr == RXB[0]:
            return 0x64
        if addr == RXB[1]:
            return 0x60
        if RXB[0] < addr <= RXB[0] + 13 or RXB[1] < addr <= RXB[1] + 13:
            return 0x00
        return 0xFF

    # --- SPI --------------------------------------------------------------------------

    def cs_falling(self):
        self._selected = True
        self._state = "instruction"
        self._rx_read = None

    def cs_rising(self):
        if self._rx_read is not None:
            self.regs[CANINTF] &= ~(1 << self._rx_read) & 0xFF
        self._selected = False

    def exchange(self, byte):
        if not self._selected:
            return 0xFF  # SO is high impedance while CS is high
        state = self._state
        if state == "instruction":
            return self._instruction(byte)
        if state in ("read_addr", "write_addr"):
            self._addr = byte & 0x7F
            self._state = "read" if state == "read_addr" else "write"
            return 0xFF
        if state == "read":
            value = self._read_reg(self._addr)
            self._addr = (self._addr + 1) & 0x7F
            return value
        if state == "write":
            self._write_reg(self._addr, byte)
            self._addr = (self._addr + 1) & 0x7F
            return 0xFF
        if state == "status":
            return self._status_byte()
        if state == "rx_status":
            return self._rx_status_byte()
        if state == "modify_addr":
            self._addr, self._state = byte & 0x7F, "modify_mask"
            return 0xFF
        if state == "modify_mask":
            self._mask, self._state = byte, "modify_data"
            return 0xFF
        if state == "modify_data":
            addr = self._canonical(self._addr)
            self._write_reg(addr, byte, self._mask if addr in _BIT_MODIFIABLE else 0xFF)
            self._state = "done"
            return 0xFF
        return 0xFF

    def _instruction(self, byte):
        self.instructions.append(byte)
        if byte == 0xC0:
            self._reset_registers()
            self._state = "done"
        elif byte == 0x03:
            self._state = "read_addr"
        elif byte == 0x02:
            self._state = "write_addr"
        elif byte == 0x05:
            self._state = "modify_addr"
        elif byte == 0xA0:
            self._state = "status"
        elif byte == 0xB0:
            self._state = "rx_status"
        elif byte & 0xF8 == 0x40 and byte & 0x07 <= 5:     # LOAD TX BUFFER
            n, data_only = (byte & 0x07) >> 1, byte & 0x01
            self._addr = TXB[n] + (6 if data_only else 1)
            self._state = "write"
        elif byte & 0xF8 == 0x80:                          # RTS
            for n in range(3):
                if byte & (1 << n):
                    self.regs[TXB[n]] |= 0x08
            self._try_transmit()
            self._state = "done"
        elif byte & 0xF9 == 0x90:                          # READ RX BUFFER
            n, data_only = (byte >> 2) & 1, (byte >> 1) & 1
            self._addr = RXB[n] + (6 if data_only else 1)
            self._rx_read = n
            self._state = "read"
        else:
            self._state = "done"
        return 0xFF

    def _status_byte(self):
        f, r = self.regs[CANINTF], self.regs
        return ((f & 0x01) | ((f >> 1) & 0x01) << 1 | ((r[TXB[0]] >> 3) & 1) << 2 | ((f >> 2) & 1) << 3
                | ((r[TXB[1]] >> 3) & 1) << 4 | ((f >> 3) & 1) << 5 | ((r[TXB[2]] >> 3) & 1) << 6 | ((f >> 4) & 1) << 7)

    def _rx_status_byte(self):
        f = self.regs[CANINTF]
        return ((f & 0x01) << 6) | ((f & 0x02) << 6) | self._rx_status_last

    # --- modes ------------------------------------------------------------------------

    def _canctrl_written(self):
        if self.regs[CANCTRL] & 0x10:  # ABAT: abort everything pending
            for base in TXB:
                if self.regs[base] & 0x08:
                    self.regs[base] = (self.regs[base] & ~0x08 & 0xFF) | 0x40
        requested = self.regs[CANCTRL] & 0xE0
        if requested != self.mode() and requested in MODE_NAMES:
            self._pending_mode = requested
            self._mode_wait = self.mode_delay_reads
            self._advance_mode(counting=False)

    def _advance_mode(self, counting=True):
        if self._pending_mode is None or self.refuse_mode_change:
            return
        if any(self.regs[b] & 0x08 for b in TXB) and self.mode() == 0x00:
            return  # the mode changes only once pending transmissions are done
        if counting and self._mode_wait > 0:
            self._mode_wait -= 1
            return
        if self._mode_wait > 0:
            return
        self.regs[CANSTAT] = (self.regs[CANSTAT] & 0x1F) | self._pending_mode
        self._pending_mode = None
        self._try_transmit()

    def bitrate(self):
        brp = self.regs[CNF1] & 0x3F
        prop = (self.regs[CNF2] & 0x07) + 1
        ps1 = ((self.regs[CNF2] >> 3) & 0x07) + 1
        ps2 = (self.regs[CNF3] & 0x07) + 1 if self.regs[CNF2] & 0x80 else max(ps1, 2)
        return self.crystal_hz / (2 * (brp + 1) * (1 + prop + ps1 + ps2))

    # --- transmit ---------------------------------------------------------------------

    def _frame_in(self, base):
        r = self.regs
        sidh, sidl, eid8, eid0, dlc = r[base + 1:base + 6]
        ext = bool(sidl & 0x08)
        can_id = (sidh << 3) | (sidl >> 5)
        if ext:
            can_id = (can_id << 18) | ((sidl & 3) << 16) | (eid8 << 8) | eid0
        length = min(dlc & 0x0F, 8)
        return can_id, bytes(r[base + 6:base + 6 + length]), ext, bool(dlc & 0x40)

    def _try_transmit(self):
        if self.hold_transmissions or self.mode() not in (0x00, 0x40) or self.regs[EFLG] & 0x20:
            return
        while True:
            pending = [n for n in range(3) if self.regs[TXB[n]] & 0x08]
            if not pending:
                return
            n = max(pending, key=lambda k: (self.regs[TXB[k]] & 0x03, k))  # TXP, then higher buffer
            frame = self._frame_in(TXB[n])
            if self.mode() == 0x40:
                self.receive_from_bus(frame, loopback=True)
            else:
                error = self.bus.transmit(self, frame) if self.bus else ACK_ERROR
                if error:
                    self.bus_error(tx=True, ack=error == ACK_ERROR)
                    return  # stays pending; the chip would retry
                self.regs[TEC] = max(0, self.regs[TEC] - 1)
            self.regs[TXB[n]] &= ~0x08 & 0xFF
            self.regs[CANINTF] |= 0x04 << n

    def release(self):
        """The bus becomes free: pending buffers go out in the chip's priority order."""
        self.hold_transmissions = False
        self._try_transmit()

    # --- receive ----------------------------------------------------------------------

    def _matches(self, filter_base, mask_base, frame):
        can_id, data, ext, _ = frame
        r = self.regs
        fsidl = r[filter_base + 1]
        if bool(fsidl & 0x08) != ext:
            return False
        f_id = (r[filter_base] << 3) | (fsidl >> 5)
        m_id = (r[mask_base] << 3) | (r[mask_base + 1] >> 5)
        if ext:
            f_id = (f_id << 18) | ((fsidl & 3) << 16) | (r[filter_base + 2] << 8) | r[filter_base + 3]
            m_id = (m_id << 18) | ((r[mask_base + 1] & 3) << 16) | (r[mask_base + 2] << 8) | r[mask_base + 3]
            return (can_id ^ f_id) & m_id == 0
        if (can_id ^ f_id) & m_id:
            return False
        # standard frames: the EID bits of mask and filter apply to data bytes 0 and 1
        d0, d1 = (data + b"\x00\x00")[0], (data + b"\x00\x00")[1]
        return ((d0 ^ r[filter_base + 2]) & r[mask_base + 2]) == 0 and ((d1 ^ r[filter_base + 3]) & r[mask_base + 3]) == 0

    def receive_from_bus(self, frame, loopback=False):
        mode = self.mode()
        if loopback != (mode == 0x40) or mode not in (0x00, 0x60, 0x40):
            return
        r = self.regs
        rxb0_any = r[RXB[0]] & 0x60 == 0x60
        hit0 = 0 if rxb0_any else next((k for k in (0, 1) if self._matches(FILTERS[k], MASKS[0], frame)), None)
        if hit0 is not None:
            if not r[CANINTF] & 0x01:
                self._store(0, frame, hit0)
            elif r[RXB[0]] & 0x04 and not r[CANINTF] & 0x02:
                self._store(1, frame, hit0, rollover=True)
            else:
                r[EFLG] |= 0x80 if r[RXB[0]] & 0x04 else 0x40
            return
        rxb1_any = r[RXB[1]] & 0x60 == 0x60
        hit1 = 2 if rxb1_any else next((k for k in (2, 3, 4, 5) if self._matches(FILTERS[k], MASKS[1], frame)), None)
        if hit1 is None:
            return
        if r[CANINTF] & 0x02:
            r[EFLG] |= 0x80
        else:
            self._store(1, frame, hit1)

    def _store(self, n, frame, filter_hit, rollover=False):
        can_id, data, ext, rtr = frame
        r, base = self.regs, RXB[n]
        if ext:
            sid = can_id >> 18
            r[base + 1:base + 5] = bytes((sid >> 3, ((sid & 7) << 5) | 0x08 | ((can_id >> 16) & 3),
                                          (can_id >> 8) & 0xFF, can_id & 0xFF))
            r[base + 5] = len(data) | (0x40 if rtr else 0)
        else:
            r[base + 1:base + 5] = bytes((can_id >> 3, ((can_id & 7) << 5) | (0x10 if rtr else 0), 0, 0))
            r[base + 5] = len(data)
        r[base + 6:base + 6 + len(data)] = data
        if n == 0:
            r[base] = (r[base] & 0x64) | (0x08 if rtr else 0) | filter_hit
        else:
            r[base] = (r[base] & 0x60) | (0x08 if rtr else 0) | filter_hit
        r[CANINTF] |= 1 << n
        kind = (0x10 if ext else 0) | (0x08 if rtr else 0)
        self._rx_status_last = kind | ((6 + filter_hit) if rollover else filter_hit)
        if self.regs[REC]:
            self.regs[REC] -= 1

    # --- errors -----------------------------------------------------------------------

    def bus_error(self, tx=False, rx=False, ack=False):
        r = self.regs
        if ack and r[TEC] >= 128:
            return  # an error-passive transmitter missing its ACK does not count it (ISO 11898-1)
        if tx and not r[EFLG] & 0x20:
            if r[TEC] + 8 > 255:
                r[TEC] = 255
                r[EFLG] |= 0x20  # bus-off
            else:
                r[TEC] += 8
        if rx:
            r[REC] = min(r[REC] + 1, 255)
        self._update_eflg()

    def _update_eflg(self):
        r = self.regs
        tec, rec = r[TEC], r[REC]
        flags = r[EFLG] & 0xE0
        flags |= (0x01 if tec >= 96 or rec >= 96 else 0) | (0x02 if rec >= 96 else 0) | (0x04 if tec >= 96 else 0)
        flags |= (0x08 if rec >= 128 else 0) | (0x10 if tec >= 128 else 0)
        if flags != r[EFLG]:
            r[CANINTF] |= 0x20  # ERRIF
        r[EFLG] = flags

    def recover_from_bus_off(self):
        """128 occurrences of 11 recessive bits: the chip rejoins the bus by itself."""
        self.regs[EFLG] &= ~0x20 & 0xFF
        self.regs[TEC] = 0
        self.regs[REC] = 0
        self._update_eflg()
        self._try_transmit()
