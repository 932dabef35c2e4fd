# DHT11/DHT22 through MicroPython's dht module: retries, range checks, fault detection.
# The sensor may be read at most once a second; a failed read is retried after RETRY_MS
# instead of the full period, and `fail_limit` failures in a row make it a fault.

RETRY_MS = 1100
_RANGES = {"dht11": (0.0, 100.0, -20.0, 60.0), "dht22": (0.0, 100.0, -40.0, 80.0)}


class HumidityReader:
    def __init__(self, dht, kind="dht11", fail_limit=3, recover_reads=2):
        self._dht = dht
        self._h_min, self._h_max, self._t_min, self._t_max = _RANGES[kind]
        self.fail_limit = fail_limit
        self.recover_reads = recover_reads
        self.failures = 0      # in a row
        self._good = 0         # in a row, while faulty
        self.faulty = False
        self.humidity = None   # last plausible values
        self.temperature = None
        self.last_error = ""

    def poll(self):
        """One read attempt; True if it gave a plausible reading. Updates `faulty`."""
        try:
            self._dht.measure()
            h = self._dht.humidity()
            t = self._dht.temperature()
        except Exception as e:  # OSError on timeout, a plain Exception on a checksum error
            return self._failed("read failed: %r" % (e,))
        if not (self._h_min <= h <= self._h_max and self._t_min <= t <= self._t_max):
            return self._failed("out of range: %s %%RH, %s degC" % (h, t))
        if h == 0 and t == 0:
            return self._failed("all-zero frame (data line stuck low)")
        self.humidity = h
        self.temperature = t
        self.failures = 0
        if self.faulty:
            self._good += 1
            if self._good >= self.recover_reads:
                self.faulty = False
        return True

    def _failed(self, why):
        self.last_error = why
        self.failures += 1
        self._good = 0
        if self.failures >= self.fail_limit:
            self.faulty = True
        return False
