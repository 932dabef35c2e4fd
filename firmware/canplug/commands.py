# Protocol v1 commands (opcodes 0x01..0x08): act, then reply with the result and the status
# byte as it is after the command, echoing the token.
from canplug import protocol as p


class CommandHandler:
    def __init__(self, node):
        self.node = node
        self._table = {
            p.OP_SET_RELAY: self._set_relay,
            p.OP_REPORT_NOW: self._report_now,
            p.OP_SET_HUMIDITY_LIMIT: self._set_humidity_limit,
            p.OP_RESET_LATCH: self._reset_latch,
            p.OP_SET_REPORT_PERIOD: self._set_report_period,
            p.OP_IDENTIFY: self._identify,
            p.OP_SET_POWER_LIMIT: self._set_power_limit,
            p.OP_SET_POWER_ON_STATE: self._set_power_on_state,
        }

    def handle(self, data):
        if len(data) < 2:
            return  # no token to echo: nothing sensible to answer
        try:
            op, token, args = p.parse_command(data)
        except p.CommandError as e:
            self._reply(data[0], data[1], e.result)
            return
        self._reply(op, token, self._table[op](*args))
        if op == p.OP_REPORT_NOW:
            self.node.reporter.report_now()

    def _reply(self, op, token, result):
        n = self.node
        n.outbox.push(p.encode_reply(n.node_id, op, token, result, n.safety.status_byte()))

    def _set_relay(self, action):
        safety = self.node.safety
        if action == p.RELAY_OPEN:
            return safety.open()
        if self.node.relay_held() and (action == p.RELAY_CLOSE or not safety.relay.closed):
            return p.R_INTERLOCKED  # an update holds the relay in its power-on state (update.py)
        if action == p.RELAY_CLOSE:
            return safety.close()
        return safety.toggle()

    def _report_now(self):
        return p.R_OK

    def _set_humidity_limit(self, limit, hysteresis):
        if not 1 <= limit <= 100 or hysteresis >= limit:
            return p.R_BAD_ARGUMENT  # hysteresis >= limit would never re-arm
        safety = self.node.safety
        if safety.humidity_latched and (limit > self.node.cfg["humidity_limit"] or limit - hysteresis > safety.rearm_level()):
            # Loosening while latched, then a reset, would end the latch without its condition clearing:
            # only stricter limits while latched, whoever sends the command (docs/security.md).
            return p.R_INTERLOCKED
        result = self.node.change_settings({"humidity_limit": limit, "humidity_hysteresis": hysteresis})
        if result == p.R_OK and self.node.dht.humidity is not None:
            self.node.safety.humidity_reading(self.node.dht.humidity)  # a lower limit applies now
        return result

    def _reset_latch(self):
        return self.node.safety.reset_latch()

    def _set_report_period(self, ms):
        if not p.REPORT_PERIOD_MIN_MS <= ms <= p.REPORT_PERIOD_MAX_MS:
            return p.R_BAD_ARGUMENT
        result = self.node.change_settings({"report_period_ms": ms})
        if result == p.R_OK:
            self.node.reporter.set_period(ms)
        return result

    def _identify(self, seconds):
        self.node.identify(seconds)
        return p.R_OK

    def _set_power_limit(self, watts):
        return self.node.change_settings({"power_limit_w": watts})

    def _set_power_on_state(self, state):
        result = self.node.change_settings({"power_on_state": state})
        if result == p.R_OK:
            self.node.persist()  # "as before power loss" starts from the relay as it is now
        return result
