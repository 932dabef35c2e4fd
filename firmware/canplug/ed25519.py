# Ed25519 signature verification (RFC 8032, section 5.1) in pure Python with Python's big integers:
# MicroPython has no Ed25519. Only verification: the node never signs. It runs in steps
# (verify_steps) so that the socket's other tasks (protection, CAN) keep running between them.
from canplug.sha512 import Sha512

P = 2 ** 255 - 19
L = 2 ** 252 + 27742317777372353535851937790883648493  # the order of the base point
D = 37095705934669439343138083508754565189542113879843219016388785533085940283555  # -121665/121666 mod P
D2 = 2 * D % P
SQRT_M1 = 19681161376707505956807079304988542015446066515923890162744021073123829784752  # 2^((P-1)/4)
_BX = 15112221349535400772501151409588531511454012693041857206046113283949847762202
_BY = 46316835694926478169428394003475163141307993866256225615783033603165251855960  # 4/5 mod P
B = (_BX, _BY, 1, _BX * _BY % P)  # the base point in extended coordinates (X, Y, Z, T)
IDENTITY = (0, 1, 1, 0)

BITS_PER_STEP = 16  # scalar bits per step of verify_steps(): a few milliseconds each on the VM
HASH_BYTES_PER_STEP = 512


def point_add(p, q):
    """RFC 8032 5.1.4, extended coordinates; also right for doubling, but point_double is cheaper."""
    x1, y1, z1, t1 = p
    x2, y2, z2, t2 = q
    a = (y1 - x1) * (y2 - x2) % P
    b = (y1 + x1) * (y2 + x2) % P
    c = t1 * D2 * t2 % P
    d = z1 * 2 * z2 % P
    e, f, g, h = b - a, d - c, d + c, b + a
    return e * f % P, g * h % P, f * g % P, e * h % P


def point_double(p):
    x1, y1, z1, _ = p
    a = x1 * x1 % P
    b = y1 * y1 % P
    c = 2 * z1 * z1 % P
    h = a + b
    e = h - (x1 + y1) * (x1 + y1) % P
    g = a - b
    f = c + g
    return e * f % P, g * h % P, f * g % P, e * h % P


def point_negate(p):
    x, y, z, t = p
    return (P - x) % P, y, z, (P - t) % P


def encode_point(p):
    x, y, z, _ = p
    zi = pow(z, P - 2, P)
    x, y = x * zi % P, y * zi % P
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


def decode_point(s):
    """32 bytes -> point, or None when they do not encode a point (RFC 8032 5.1.3)."""
    if len(s) != 32:
        return None
    y = int.from_bytes(s, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    if y >= P:
        return None
    u = (y * y - 1) % P
    v = (D * y * y + 1) % P
    x = u * pow(v, 3, P) * pow(u * pow(v, 7, P), (P - 5) // 8, P) % P
    vxx = v * x * x % P
    if vxx == (P - u) % P:
        x = x * SQRT_M1 % P
    elif vxx != u:
        return None
    if x == 0 and sign:
        return None
    if x & 1 != sign:
        x = P - x
    return x, y, 1, x * y % P


def verify_steps(public_key, message, signature):
    """A generator: each next() does a bounded piece of the work and yields None; the last value it
    yields is True (a valid signature of `message` by `public_key`) or False. Cofactorless check
    [S]B = R + [k]A, as RFC 8032 5.1.7 allows and OpenSSL does."""
    if len(signature) != 64 or len(public_key) != 32:
        yield False
        return
    r_bytes = signature[:32]
    s = int.from_bytes(signature[32:], "little")
    if s >= L:
        yield False
        return
    a = decode_point(public_key)
    if a is None:
        yield False
        return
    yield None
    hasher = Sha512(r_bytes)
    hasher.update(public_key)
    for start in range(0, len(message), HASH_BYTES_PER_STEP):
        hasher.update(message[start:start + HASH_BYTES_PER_STEP])
        yield None
    k = int.from_bytes(hasher.digest(), "little") % L
    # [S]B + [k](-A) by one double-and-add over both scalars (Straus); both are below L < 2^253
    minus_a = point_negate(a)
    table = (None, B, minus_a, point_add(B, minus_a))
    q = IDENTITY
    for bit in range(252, -1, -1):
        q = point_double(q)
        pick = ((s >> bit) & 1) | (((k >> bit) & 1) << 1)
        if pick:
            q = point_add(q, table[pick])
        if bit % BITS_PER_STEP == 0:
            yield None
    yield encode_point(q) == bytes(r_bytes)


def verify(public_key, message, signature):
    """verify_steps() run to the end in one go (tests, host tools)."""
    result = None
    for result in verify_steps(public_key, message, signature):
        pass
    return result
