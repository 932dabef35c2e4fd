#!/usr/bin/python3
"""Runs the socket firmware under CPython: simulated mains, load and DHT; CAN through python-can.

    /usr/bin/python3 host/run.py --node 5 --channel vcan0 --humidity 45 --load-w 100
    /usr/bin/python3 host/run.py --node 5 --interface virtual --channel test     (no kernel CAN)

Control channel, one command per line, one JSON answer per line (stdin -> stdout, and the same on
--control-socket PATH, a UNIX stream socket):
    humidity <%RH> | temperature <degC> | load <W> | pf <0..1> | voltage <V> | dht fail | dht ok
    status | quit
stdout starts with {"event": "ready", ...} once the node runs. End of stdin does not stop the
node (so it can run in the background with </dev/null); "quit", SIGINT or SIGTERM do.

The state directory (--state-dir, default a fresh temporary one) is the node's flash, laid out as on
the socket: the first start copies this repository's canplug/ into it as the hand-flashed firmware,
and every start runs the boot step (boot_slots.py) that picks the firmware slot, as main.py does on
the ESP32. A reset by the firmware (after an update's commit, or to roll one back) restarts this
process in place (exec, same pid), printing {"event": "reset"} first; killing it is a power cut.
"""
import argparse
import os
import shutil
import sys
import tempfile

FIRMWARE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, FIRMWARE)
sys.dont_write_bytecode = True  # no __pycache__ on the node's "flash"

import boot_slots  # noqa: E402

OWN_DIR = "CANPLUG_RUNNER_OWN_DIR"  # a temporary state directory this run made: removed at its end


def boot(argv):
    """main.py's part: the flash (state directory) with its hand-flashed firmware, then the boot step.
    Returns the arguments for the runner, with the state directory in them."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--state-dir")
    state_dir = parser.parse_known_args(argv)[0].state_dir
    if not state_dir:
        state_dir = tempfile.mkdtemp(prefix="canplug-node-")
        os.environ[OWN_DIR] = state_dir
        argv = argv + ["--state-dir", state_dir]
    factory = os.path.join(state_dir, "canplug")
    if not os.path.exists(factory):
        os.makedirs(state_dir, exist_ok=True)
        shutil.copytree(os.path.join(FIRMWARE, "canplug"), factory, ignore=shutil.ignore_patterns("__pycache__"))
    slot, _ = boot_slots.select(state_dir)
    sys.path.insert(0, boot_slots.slot_dir(state_dir, slot))
    return argv, state_dir


def main():
    argv, state_dir = boot(sys.argv[1:])
    from host import runner  # imports the canplug of the slot the boot step picked

    def reset():
        sys.stdout.flush()
        os.execv(sys.executable, [sys.executable, os.path.abspath(__file__)] + argv)

    try:
        runner.main(argv, on_reset=reset)
    finally:
        if os.environ.get(OWN_DIR) == state_dir:
            shutil.rmtree(state_dir, True)


if __name__ == "__main__":
    main()
