# True RMS and real power from interleaved ADC samples over whole mains cycles, once per window.
#
# Samples come in the order v0 i0 v1 i1 ... evenly spaced over one period, so each current
# sample sits halfway between two voltage samples; the voltage at that instant is their mean
# (v[n] wraps to v[0]: each cycle is a whole period). Without this the half-slot delay is a
# phase error of pi/n (4.5 degrees at 40 samples per cycle): 14 % off at power factor 0.5.
# Averaging two samples pi/n either side scales the fundamental by cos(pi/n) (0.3 % at n = 40);
# measure() divides that back out.
#
# The DC offset (sensor bias, ~2.45 V for the ACS712) is removed as the window mean before
# squaring. Squaring raw counts, as the original firmware did, reads the bias as current.
# Sums are integers of (count - reference), exact on MicroPython's ints; the reference follows
# the mean from window to window, which keeps them small.
import math

ADC_MAX = 4095


class WaveStats:
    """The maths of one window: `cycles` whole periods of `n` samples each, at the start of the
    buffers (raw ADC counts). Run once per window, after sampling: the sampler only stores counts."""

    def __init__(self, n, ref_v=2048, ref_i=2048):
        self.n = n
        self._interp_gain = 1.0 / math.cos(math.pi / n)
        self.ref_v = ref_v
        self.ref_i = ref_i
        self.clipped_v = self.clipped_i = False

    def measure(self, buf_v, buf_i, cycles):
        """-> (mean_v, rms_v, mean_i, rms_i, mean_vi) in counts, AC parts only; sets clipped_v and
        clipped_i (samples at the ADC's ends) and re-centres the references."""
        n = self.n
        rv, ri = self.ref_v, self.ref_i
        sv = svv = si = sii = svi2 = 0
        lo_v = lo_i = ADC_MAX
        hi_v = hi_i = 0
        for start in range(0, cycles * n, n):
            last = start + n - 1
            first = buf_v[start] - rv
            for k in range(start, last + 1):
                v, i = buf_v[k], buf_i[k]
                if v < lo_v:
                    lo_v = v
                if v > hi_v:
                    hi_v = v
                if i < lo_i:
                    lo_i = i
                if i > hi_i:
                    hi_i = i
                dv = v - rv
                di = i - ri
                dv_next = buf_v[k + 1] - rv if k < last else first
                sv += dv
                svv += dv * dv
                si += di
                sii += di * di
                svi2 += (dv + dv_next) * di  # twice the voltage interpolated to the current sample
        self.clipped_v = lo_v <= 0 or hi_v >= ADC_MAX
        self.clipped_i = lo_i <= 0 or hi_i >= ADC_MAX
        count = cycles * n
        mv = sv / count
        mi = si / count
        rms_v = math.sqrt(max(0.0, svv / count - mv * mv))
        rms_i = math.sqrt(max(0.0, sii / count - mi * mi))
        p = (svi2 / (2 * count) - mv * mi) * self._interp_gain
        mean_v, mean_i = rv + mv, ri + mi
        self.ref_v, self.ref_i = int(round(mean_v)), int(round(mean_i))
        return mean_v, rms_v, mean_i, rms_i, p
