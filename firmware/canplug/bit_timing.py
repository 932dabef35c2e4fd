# MCP2515 bit timing (datasheet section 5): CNF1..CNF3 for the supported crystals and bitrates.
#
#   time quantum TQ = 2 * (BRP + 1) / Fosc
#   bit time        = (1 sync + PropSeg + PS1 + PS2) * TQ, 8..25 TQ
#   rules: PropSeg + PS1 >= PS2, PS2 >= 2 (information processing time), PS2 > SJW
#
# Sample point 87.5 % (CiA 301's recommendation) where 16 TQ fit; 75 % with 8 TQ, the most
# an 8-TQ bit allows with PS2 >= 2. SJW is 1 TQ: crystals are accurate to 100 ppm.
#
# Trap: the registers only divide the crystal. A module with a 16 MHz crystal configured
# with the 8 MHz row runs the bus at twice the rate (125k becomes 250k) and sees only errors.

CNF_TABLE = {
    # (crystal Hz, bitrate): (CNF1, CNF2, CNF3)      BRP, TQ/bit: sync+prop+ps1+ps2
    (8000000, 125000): (0x01, 0xAE, 0x01),   # BRP 1, 16 = 1+7+6+2
    (8000000, 250000): (0x00, 0xAE, 0x01),   # BRP 0, 16 = 1+7+6+2
    (8000000, 500000): (0x00, 0x8A, 0x01),   # BRP 0,  8 = 1+3+2+2
    (16000000, 125000): (0x03, 0xAE, 0x01),  # BRP 3, 16 = 1+7+6+2
    (16000000, 250000): (0x01, 0xAE, 0x01),  # BRP 1, 16 = 1+7+6+2
    (16000000, 500000): (0x00, 0xAE, 0x01),  # BRP 0, 16 = 1+7+6+2
    (16000000, 1000000): (0x00, 0x8A, 0x01),  # BRP 0,  8 = 1+3+2+2
}
# 1 Mbit/s on an 8 MHz crystal would need 4 TQ per bit (TQ is at least 2 oscillator periods):
# below the MCP2515's minimum, so it is refused rather than configured out of spec.

BITRATES = (125000, 250000, 500000, 1000000)
CRYSTALS = (8000000, 16000000)


def cnf_registers(crystal_hz, bitrate):
    try:
        return CNF_TABLE[(crystal_hz, bitrate)]
    except KeyError:
        if crystal_hz == 8000000 and bitrate == 1000000:
            raise ValueError("1 Mbit/s needs a 16 MHz crystal: 8 MHz gives 4 time quanta per bit, "
                             "the MCP2515 needs at least 8")
        raise ValueError("no bit timing for a %d Hz crystal at %d bit/s" % (crystal_hz, bitrate))


def describe(crystal_hz, cnf1, cnf2, cnf3):
    """What the registers make of a crystal: dict with bitrate, sample point and segment sizes."""
    brp = cnf1 & 0x3F
    sjw = (cnf1 >> 6) + 1
    prop = (cnf2 & 0x07) + 1
    ps1 = ((cnf2 >> 3) & 0x07) + 1
    ps2 = (cnf3 & 0x07) + 1 if cnf2 & 0x80 else max(ps1, 2)  # BTLMODE=0: PS2 = max(PS1, IPT)
    tq_per_bit = 1 + prop + ps1 + ps2
    return {
        "bitrate": crystal_hz / (2 * (brp + 1) * tq_per_bit),
        "sample_point": (1 + prop + ps1) / tq_per_bit,
        "tq_per_bit": tq_per_bit,
        "prop": prop, "ps1": ps1, "ps2": ps2, "sjw": sjw,
    }
