"""Prints firmware/README.md's accuracy table: the power meter on synthesized waveforms (sine plus DC
offset plus Gaussian noise of 4 ADC counts, 12-bit quantization, 12 us per conversion), the worst
error of 20 runs with different phases and noise seeds per case.

    cd firmware && /usr/bin/python3 -m tests.accuracy_table      (MicroPython gives the same table)
"""
from canplug import settings
from canplug.hal.clocks import VirtualClock
from canplug.hal.sim import SimPin, SimPlant, make_adcs
from canplug.power_meter import PowerMeter

RUNS = 20
# (label, mains Hz, volts, load W, power factor, third harmonic)
CASES = (
    ("50 Hz, 230 V, 5 A", 50, 230.0, 1150.0, 1.0, 0.0),
    ("60 Hz, 120 V, 5 A", 60, 120.0, 600.0, 1.0, 0.0),
    ("50 Hz, 230 V, 4.35 A at power factor 0.5", 50, 230.0, 500.0, 0.5, 0.0),
    ("50 Hz, 230 V, 3.2 A with 40 % third harmonic", 50, 230.0, 690.0, 1.0, 0.4),
    ("50 Hz, 230 V, 0.5 A", 50, 230.0, 115.0, 1.0, 0.0),
    ("60 Hz, 120 V, 0.5 A", 60, 120.0, 60.0, 1.0, 0.0),
    ("50 Hz, 230 V, 0.1 A", 50, 230.0, 23.0, 1.0, 0.0),
)


def worst_errors(hz, volts, load_w, pf, harmonic):
    """-> worst relative (voltage, current, power) error over RUNS phases and noise seeds."""
    cfg = dict(settings.DEFAULTS, mains_hz=hz)
    true_amps = load_w / (volts * pf) * (1 + harmonic * harmonic) ** 0.5
    worst = [0.0, 0.0, 0.0]
    for run in range(RUNS):
        clock = VirtualClock(start_us=123457 + run * (1000000 // hz) // RUNS)  # phases across a period
        relay = SimPin()
        plant = SimPlant(clock, mains_hz=hz, voltage=volts, load_w=load_w, power_factor=pf,
                         third_harmonic=harmonic, relay_pin=relay)
        adc_v, adc_i = make_adcs(plant, cfg, conversion_us=12, noise_counts=4.0, seed=run + 1)
        meter = PowerMeter(clock, adc_v, adc_i, cfg)
        meter.calibrate_zero()  # start-up: relay open, no load
        relay.value(1)
        r = meter.measure_blocking()
        for k, (measured, true) in enumerate(((r.volts, volts), (r.amps, true_amps), (r.watts, load_w))):
            worst[k] = max(worst[k], abs(measured - true) / true)
    return worst


def percent(x):
    return "%.1f %%" % (100 * x) if x >= 0.01 else "%.2f %%" % (100 * x)


def main():
    print("| case | voltage | current | power |")
    print("|---|---|---|---|")
    for label, hz, volts, load_w, pf, harmonic in CASES:
        print("| %s | %s |" % (label, " | ".join(percent(e) for e in worst_errors(hz, volts, load_w, pf, harmonic))))


if __name__ == "__main__":
    main()
