# ESP32 entry point: MicroPython runs this after boot.py. The boot step (boot_slots.py) picks the
# firmware slot, then canplug/esp32_main.py of that slot runs. Config in /config.json, state in
# /state.json. This file and boot_slots.py are never replaced by an update (docs/protocol.md,
# "Firmware transfer"): keep what they call in the slot (esp32_main.run) stable.
import sys
import time

import boot_slots

ROOT = "/"
# A trial firmware confirms itself within update_confirm_s (its own deadline); this backstop resets a
# trial that neither confirms nor keeps its deadline, so that the boot step rolls it back.
TRIAL_BACKSTOP_MS = 600000


def _arm_trial_backstop():
    import machine

    def expire(_timer):
        if boot_slots.read_state(ROOT)["trial"]:
            machine.reset()

    machine.Timer(0).init(mode=machine.Timer.ONE_SHOT, period=TRIAL_BACKSTOP_MS, callback=expire)


def main():
    slot, trial = boot_slots.select(ROOT)
    if slot:
        sys.path.insert(0, boot_slots.slot_dir(ROOT, slot))
    if trial:
        _arm_trial_backstop()
    try:
        from canplug import esp32_main
        esp32_main.run("/config.json", "/state.json")
    except Exception as e:  # the firmware does not even start (a broken update): reset; on trial that rolls back
        import machine
        print("canplug: firmware in slot %r failed:" % slot, repr(e))
        time.sleep_ms(1000)
        machine.reset()


main()
