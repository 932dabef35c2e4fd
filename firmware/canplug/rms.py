# True RMS and real power from interleaved ADC samples over whole mains cycles.
#
# Samples come in the order v0 i0 v1 i1 ... evenly spaced over one period, so each current
# sample sits halfway between two voltage samples; the voltage at that instant is their mean
# (v[n] wraps to v[0]: the window is a whole cycle). Without this the half-slot delay is a
# phase error of pi/n (4.5 degrees at 40 samples per cycle): 14 % off at power factor 0.5.
# Averaging two samples pi/n either side scales the fundamental by cos(pi/n) (0.3 % at n = 40);
# finish() divides that back out.
#
# The DC offset (sensor bias, ~2.45 V for the ACS712) is removed as the window mean before
# squaring. Squaring raw counts, as the original firmware did, reads the bias as current.
# Sums are integers of (count - reference), exact on MicroPython's ints and small enough to
# stay small ints; the reference follows the mean from window to window.
import math

ADC_MAX = 4095


class WaveStats:
    def __init__(self, n, ref_v=2048, ref_i=2048):
        self._interp_gain = 1.0 / math.cos(math.pi / n)
        self.ref_v = ref_v
        self.ref_i = ref_i
        self.reset()

    def reset(self):
        self.n = 0
        self.sv = self.svv = self.si = self.sii = self.svi2 = 0
        self.min_v = self.min_i = ADC_MAX
        self.max_v = self.max_i = 0

    def add_cycle(self, buf_v, buf_i, n):
        rv, ri = self.ref_v, self.ref_i
        sv = svv = si = sii = svi2 = 0
        first = buf_v[0] - rv
        for k in range(n):
            dv = buf_v[k] - rv
            di = buf_i[k] - ri
            dv_next = buf_v[k + 1] - rv if k + 1 < n else first
            sv += dv
            svv += dv * dv
            si += di
            sii += di * di
            svi2 += (dv + dv_next) * di  # twice the voltage interpolated to the current sample
        self.n += n
        self.sv += sv
        self.svv += svv
        self.si += si
        self.sii += sii
        self.svi2 += svi2
        self.min_v = min(self.min_v, min(buf_v[k] for k in range(n)))
        self.max_v = max(self.max_v, max(buf_v[k] for k in range(n)))
        self.min_i = min(self.min_i, min(buf_i[k] for k in range(n)))
        self.max_i = max(self.max_i, max(buf_i[k] for k in range(n)))

    def finish(self):
        """-> (mean_v, rms_v, mean_i, rms_i, mean_vi) in counts, AC parts only; re-centres refs."""
        n = self.n
        mv = self.sv / n
        mi = self.si / n
        rms_v = math.sqrt(max(0.0, self.svv / n - mv * mv))
        rms_i = math.sqrt(max(0.0, self.sii / n - mi * mi))
        p = (self.svi2 / (2 * n) - mv * mi) * self._interp_gain
        mean_v, mean_i = self.ref_v + mv, self.ref_i + mi
        self.ref_v, self.ref_i = int(round(mean_v)), int(round(mean_i))
        return mean_v, rms_v, mean_i, rms_i, p

    def clipped_v(self):
        return self.min_v <= 0 or self.max_v >= ADC_MAX

    def clipped_i(self):
        return self.min_i <= 0 or self.max_i >= ADC_MAX


def sample_cycle(clock, read_v, read_i, buf_v, buf_i, n, period_us):
    """Reads v and i alternately, 2n reads evenly spread over one period.

    Gives up and returns False as soon as a read comes more than one slot late (a GC pause,
    an interrupt, a busy host): the samples would no longer be evenly spread."""
    ticks_us, ticks_diff, sleep_us = clock.ticks_us, clock.ticks_diff, clock.sleep_us
    slots = 2 * n
    slot_us = period_us // slots
    t0 = ticks_us()
    for j in range(slots):
        due = j * period_us // slots
        wait = due - ticks_diff(ticks_us(), t0)
        if wait > 0:
            sleep_us(wait)
        elif wait < -slot_us:
            return False
        if j & 1:
            buf_i[j >> 1] = read_i()
        else:
            buf_v[j >> 1] = read_v()
    return True
