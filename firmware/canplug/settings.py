# The node's configuration: config.json on the flash, merged over these defaults.
# Every problem is reported at once; a broken file is never silently replaced by defaults.
from canplug.bit_timing import cnf_registers
from canplug.storage import read_json, write_json

DEFAULT_PINS = {"spi_id": 2, "sck": 18, "mosi": 22, "miso": 19, "cs": 23, "int": 4,
                "relay": 15, "acs712": 32, "zmpt101b": 33, "dht": 27, "led": 2}

DEFAULTS = {
    "node_id": 1,
    "protocol": "v1",               # v1 | seed
    "bitrate": 0,                   # 0: the profile's own (v1 125000, seed 250000)
    "crystal_hz": 8000000,          # the MCP2515 module's crystal: read the can on the board
    "mains_hz": 50,
    "humidity_limit": 80,           # %RH
    "humidity_hysteresis": 10,      # %RH
    "power_limit_w": 0,             # 0: none
    "over_current_limit_a": 10.0,   # 0: none; 10 A is what the usual 5 V relay modules are rated for
    "overload_trip_windows": 2,     # measurements in a row over a limit before a trip (inrush)
    "power_on_state": 0,            # 0 off, 1 on, 2 as before power loss
    "report_period_ms": 1000,
    "energy_report_s": 10,
    "energy_save_interval_s": 300,
    "measure_period_ms": 250,
    "cycles_per_measurement": 5,
    "samples_per_cycle": 40,
    "adc_full_scale_v": 3.3,
    "acs712_v_per_a": 0.100,        # the 20 A part
    "acs712_zero_v": 2.45,
    "acs712_divider": 1.0,          # ADC volts per sensor volt (1.0: wired straight, as the original)
    "current_cal": 1.0,
    "zmpt101b_sensitivity": 0.0050,  # ADC volts (RMS) per mains volt (RMS)
    "voltage_cal": 1.0,
    "voltage_sensor": True,         # false: no ZMPT101B, power = nominal_voltage * current
    "nominal_voltage": 230.0,
    "min_current_a": 0.03,          # below this reads 0: 1 ADC count is ~8 mA on the 20 A part
    "dht_type": "dht11",            # dht11 | dht22
    "dht_period_ms": 2000,
    "dht_fail_limit": 3,
    "relay_active_high": True,
    "led_active_high": True,
    "can_restart_ms": 1000,
    "spi_baudrate": 5000000,
    "update_confirm_s": 60,         # a new firmware confirms itself within this, or the next boot rolls it back
    "update_frame_timeout_ms": 1000,  # ISO 15765-2's N_Cr: a transfer frame later than this ends the transfer
    "pins": DEFAULT_PINS,
}

# key: (low, high) for numbers, a tuple of choices otherwise
_RULES = {
    "node_id": (1, 63), "protocol": ("v1", "seed"), "bitrate": (0, 125000, 250000, 500000, 1000000),
    "crystal_hz": (8000000, 16000000), "mains_hz": (50, 60),
    "humidity_limit": (1, 100), "humidity_hysteresis": (0, 99), "power_limit_w": (0, 65535),
    "over_current_limit_a": (0.0, 30.0), "overload_trip_windows": (1, 20), "power_on_state": (0, 1, 2),
    "report_period_ms": (100, 60000), "energy_report_s": (1, 3600), "energy_save_interval_s": (10, 86400),
    "measure_period_ms": (50, 10000), "cycles_per_measurement": (1, 25), "samples_per_cycle": (8, 64),
    "adc_full_scale_v": (1.0, 4.0), "acs712_v_per_a": (0.01, 1.0), "acs712_zero_v": (0.5, 3.3),
    "acs712_divider": (0.1, 1.0), "current_cal": (0.5, 2.0), "zmpt101b_sensitivity": (0.0005, 0.05),
    "voltage_cal": (0.5, 2.0), "min_current_a": (0.0, 1.0), "voltage_sensor": (True, False), "nominal_voltage": (50.0, 300.0),
    "dht_type": ("dht11", "dht22"), "dht_period_ms": (1000, 60000), "dht_fail_limit": (1, 20),
    "relay_active_high": (True, False), "led_active_high": (True, False), "can_restart_ms": (100, 60000),
    "spi_baudrate": (100000, 10000000), "update_confirm_s": (10, 600),
    "update_frame_timeout_ms": (1000, 30000),
}
_CHOICES = ("protocol", "bitrate", "crystal_hz", "mains_hz", "power_on_state", "voltage_sensor",
            "dht_type", "relay_active_high", "led_active_high")


class ConfigError(Exception):
    def __init__(self, errors):
        super().__init__("; ".join(errors))  # MicroPython has no Exception.__init__ to call
        self.errors = errors


def _check(key, value):
    rule = _RULES[key]
    if key in _CHOICES:
        if type(value) is type(rule[0]) and value in rule:
            return None
        return "%s: %r is not one of %s" % (key, value, ", ".join(repr(r) for r in rule))
    low, high = rule
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(low, int) and not isinstance(low, bool):
        number = number and isinstance(value, int)
    if number and low <= value <= high:
        return None
    kind = "an integer" if isinstance(low, int) else "a number"
    return "%s: %r must be %s from %s to %s" % (key, value, kind, low, high)


def validate(user):
    """user dict -> (complete config, list of errors)."""
    cfg = dict(DEFAULTS)
    cfg["pins"] = dict(DEFAULT_PINS)
    errors = []
    for key, value in user.items():
        if key == "pins":
            if not isinstance(value, dict):
                errors.append("pins: must be an object of GPIO numbers")
                continue
            for name, pin in value.items():
                if name not in DEFAULT_PINS:
                    errors.append("pins.%s: unknown pin (known: %s)" % (name, ", ".join(sorted(DEFAULT_PINS))))
                elif not isinstance(pin, int) or isinstance(pin, bool) or not 0 <= pin <= 39:
                    errors.append("pins.%s: %r is not a GPIO number 0..39" % (name, pin))
                else:
                    cfg["pins"][name] = pin
        elif key not in DEFAULTS:
            errors.append("%s: unknown key" % key)
        else:
            problem = _check(key, value)
            if problem:
                errors.append(problem)
            else:
                cfg[key] = value
    if not errors:
        if cfg["bitrate"] == 0:
            cfg["bitrate"] = 250000 if cfg["protocol"] == "seed" else 125000
        try:
            cnf_registers(cfg["crystal_hz"], cfg["bitrate"])
        except ValueError as e:
            errors.append("bitrate: %s" % e)
        if cfg["humidity_hysteresis"] >= cfg["humidity_limit"]:
            errors.append("humidity_hysteresis: %d must be below humidity_limit %d, or the interlock never re-arms"
                          % (cfg["humidity_hysteresis"], cfg["humidity_limit"]))
    return cfg, errors


def load(path):
    """config.json -> config; raises ConfigError listing every problem. A missing file means defaults."""
    try:
        open(path).close()
        exists = True
    except OSError:
        exists = False
    user = read_json(path) if exists else {}
    if user is None:
        raise ConfigError(["%s: not a JSON object" % path])
    cfg, errors = validate(user)
    if errors:
        raise ConfigError(errors)
    return cfg


def save_keys(path, updates):
    """Writes settings changed over CAN into config.json, keeping the user's other keys."""
    user = read_json(path) or {}
    user.update(updates)
    write_json(path, user)
