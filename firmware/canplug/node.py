# One smart socket: wires sensors, safety, persistence and the protocol profile together.
# The asyncio tasks in app.py call into it; everything here is synchronous and testable
# with a virtual clock.
import sys

from canplug import protocol as p
from canplug import seed
from canplug import settings
from canplug.commands import CommandHandler
from canplug.energy import EnergyCounter, StateStore, Uptime
from canplug.humidity import HumidityReader
from canplug.power_meter import FAULT_NONE, PowerMeter
from canplug.reports import Outbox, SeedReporter, V1Reporter
from canplug.safety import Relay, Safety

import boot_slots


class Node:
    """`board` supplies clock, sample_clock, relay_pin, led_pin, adc_voltage, adc_current, dht,
    reset_cause.
    `config_path` receives settings changed over CAN; `state_path` energy, relay and latches."""

    def __init__(self, board, cfg, config_path=None, state_path=None):
        self.board = board
        self.cfg = cfg
        self.clock = board.clock
        self.node_id = cfg["node_id"]
        self.seed_profile = cfg["protocol"] == "seed"
        self.config_path = config_path
        self.outbox = Outbox()
        self.transfer_outbox = Outbox(limit=8)  # firmware transfer answers: sent after everything else
        self.uptime = Uptime(self.clock)
        self.store = StateStore(state_path, self.clock, cfg["energy_save_interval_s"]) if state_path else None
        saved = self.store.load() if self.store else {"energy_wh": 0, "relay": False,
                                                      "humidity_latched": False, "power_latched": False}
        self.energy = EnergyCounter(saved["energy_wh"])
        self.relay = Relay(board.relay_pin, cfg["relay_active_high"])  # open before anything else
        self.safety = Safety(self.relay, cfg, self._emit, self.persist)
        self.safety.restore_latches(saved["humidity_latched"], saved["power_latched"])
        self._relay_before_power_loss = saved["relay"]
        self.meter = PowerMeter(board.sample_clock, board.adc_voltage, board.adc_current, cfg)
        self.dht = HumidityReader(board.dht, cfg["dht_type"], cfg["dht_fail_limit"])
        self.reading = None
        self.booting = True
        self.calibrated = False
        self.identify_until = None
        self.can_fault = False  # set when the CAN controller could not be started
        self.reporter = SeedReporter(self) if self.seed_profile else V1Reporter(self)
        self.commands = CommandHandler(self)
        self.rx_depth = 2  # frames the CAN port holds between two polls; use_port() sets the port's
        # Firmware updates (canplug/update.py, trial.py) cost about 30 KB of heap imported from source:
        # loaded only when an update's first frame arrives, or on the first boot after one.
        self.flash_root = _flash_root(config_path)
        self.updater = None
        self.trial = None
        if self.flash_root and boot_slots.read_state(self.flash_root)["trial"]:
            from canplug.trial import TrialCheck
            self.trial = TrialCheck(self, self.flash_root)

    # --- start-up -----------------------------------------------------------------------------

    def can_ids(self):
        """The identifiers the CAN controller lets through. On the MCP2515 the first two share RXB0,
        rolling over into RXB1; the transfer's id has RXB1 to itself (mcp2515.set_filters)."""
        if self.seed_profile:
            return [seed.SEED_COMMAND_ID]
        return [p.COMMAND + self.node_id, p.DISCOVERY, p.TRANSFER_TO_NODE + self.node_id]

    def use_port(self, port):
        self.rx_depth = port.rx_depth

    def announce_boot(self):
        self.reporter.heartbeat()
        self._emit(p.EV_REBOOTED, self.board.reset_cause, 0)

    def calibrate(self):
        """Zero point of the current sensor, with the relay still open (no load)."""
        self.meter.calibrate_zero()
        if self.meter.zero_fault != FAULT_NONE:
            self.safety.current_fault = self.meter.zero_fault
            self._emit(p.EV_CURRENT_SENSOR_FAULT, self.meter.zero_fault, 0)
        self.calibrated = True

    def apply_power_on_state(self):
        """After the first humidity poll: close if configured to, unless an interlock forbids it."""
        state = self.cfg["power_on_state"]
        if state == p.POWER_ON_ON or (state == p.POWER_ON_RESTORE and self._relay_before_power_loss):
            self.safety.close()
        self.booting = False

    def heartbeat_state(self):
        if self.booting:
            return p.STATE_BOOT
        return p.STATE_FAULT if self.safety.sensor_fault() or self.can_fault else p.STATE_RUNNING

    # --- inputs -------------------------------------------------------------------------------

    def poll_humidity(self):
        ok = self.dht.poll()
        if ok:
            self.safety.humidity_reading(self.dht.humidity)
        self.safety.humidity_sensor(self.dht.faulty, self.dht.failures)
        return ok

    def on_power(self, reading, elapsed_ms):
        self.reading = reading
        self.safety.power_reading(reading)
        self.energy.add(reading.watts, elapsed_ms)
        self.persist()

    def handle_frame(self, can_id, data, ext=False, rtr=False):
        if ext or rtr:
            return
        if self.seed_profile:
            if can_id == seed.SEED_COMMAND_ID:
                close = seed.relay_command(data)
                if close is True:
                    self.safety.close()  # refused silently by an interlock: the legacy app has no replies
                elif close is False:
                    self.safety.open()
            return
        if can_id == p.COMMAND + self.node_id:
            self.commands.handle(data)
        elif can_id == p.TRANSFER_TO_NODE + self.node_id:
            self.update_service().frame(data)
        elif can_id == p.DISCOVERY:
            try:
                message = p.decode(can_id, data)
            except p.FrameError:
                return
            if message["target"] in (0, self.node_id):
                self.reporter.heartbeat()

    # --- outputs and state ----------------------------------------------------------------------

    def flush(self, port):
        """Everything waiting, in priority order: protocol frames first, transfer answers last."""
        self.outbox.flush(port)
        if not self.outbox.frames:
            self.transfer_outbox.flush(port)

    # --- firmware updates ----------------------------------------------------------------------

    def update_service(self):
        """The update service, loaded on first use (see __init__)."""
        if self.updater is None:
            from canplug.update import UpdateService
            self.updater = UpdateService(self, self.flash_root)
        return self.updater

    def drop_update_service(self):
        """An update that ended without installing: its modules go, their heap comes back."""
        self.updater = None
        for name in ("canplug.update", "canplug.staging", "canplug.bundle", "canplug.ed25519", "canplug.sha512"):
            sys.modules.pop(name, None)

    def poll_updates(self, now):
        """The update task's step: the new firmware's trial, then the update under way. True: more to do now."""
        if self.trial is not None and self.trial.poll(now):
            self.trial = None
        return self.updater is not None and self.updater.poll(now)

    def updating(self):
        """Transfer frames are expected: the CAN task polls faster."""
        return self.updater is not None and self.updater.active

    def relay_held(self):
        """An update holds the relay in its power-on state: closes are refused (update.py)."""
        return self.updater is not None and self.updater.holds_relay

    def sensors_working(self):
        """What a new firmware must show again before it confirms itself (update.TrialCheck)."""
        return {"power": self.reading is not None and self.meter.zero_fault == FAULT_NONE,
                "humidity": self.dht.humidity is not None and not self.dht.faulty}

    def prepare_reset(self):
        """Before a reset the node asks for itself: energy counted since the last save is kept."""
        if self.store:
            self.store.save(self.snapshot())

    def _emit(self, code, value, flags):
        if not self.seed_profile:
            self.outbox.push(p.encode_event(self.node_id, code, flags, value, self.uptime.seconds()))

    def snapshot(self):
        restore = self.cfg["power_on_state"] == p.POWER_ON_RESTORE
        return {"energy_wh": self.energy.wh, "relay": self.relay.closed if restore else False,
                "humidity_latched": self.safety.humidity_latched, "power_latched": self.safety.power_latched}

    def persist(self):
        if self.store:
            self.store.maybe_save(self.snapshot())

    def change_settings(self, updates):
        """Applies settings changed over CAN and writes them to config.json; R_FAILED if it cannot."""
        if self.config_path:
            try:
                settings.save_keys(self.config_path, updates)
            except OSError:
                return p.R_FAILED
        self.cfg.update(updates)
        return p.R_OK

    def identify(self, seconds):
        now = self.clock.ticks_ms()
        self.identify_until = self.clock.ticks_add(now, seconds * 1000) if seconds else None

    def led_level(self, now):
        """Identify: 4 Hz blink. Sensor fault: 1 Hz blink. Otherwise on while the relay is closed."""
        if self.identify_until is not None:
            if self.clock.ticks_diff(self.identify_until, now) > 0:
                return (now // 125) & 1
            self.identify_until = None
        if self.safety.sensor_fault() or self.can_fault:
            return (now // 500) & 1
        return 1 if self.relay.closed else 0


def _flash_root(config_path):
    """config.json sits at the root of the node's flash (or of the host runner's state directory)."""
    if not config_path:
        return None
    cut = config_path.rfind("/")
    return "." if cut < 0 else (config_path[:cut] or "/")
