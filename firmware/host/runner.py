"""The socket firmware under CPython on the simulated board, CAN through python-can: what host/run.py
runs once its boot step has picked the firmware slot, and what the tests run in-process (Runner).
See host/run.py for the command line and the control channel."""
import argparse
import asyncio
import json
import os
import shutil
import signal
import sys
import tempfile
import threading

import can  # python-can; Debian's python3-can for /usr/bin/python3

from canplug import settings
from canplug.app import run as run_node
from canplug.hal.clocks import HostClock, VirtualClock
from canplug.hal.sim import SimBoard
from canplug.node import Node
from host import control
from host.pycan_port import PythonCanPort, SimulatedMcp2515Port


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description="canplug socket firmware on CPython with simulated sensors")
    ap.add_argument("--node", type=int, default=1, help="node id 1..63 (default 1)")
    ap.add_argument("--interface", default="socketcan", help="python-can interface (socketcan, virtual)")
    ap.add_argument("--channel", default="vcan0", help="CAN channel (default vcan0)")
    ap.add_argument("--protocol", choices=("v1", "seed"), help="protocol profile (default from config: v1)")
    ap.add_argument("--humidity", type=float, default=45.0, help="initial humidity %%RH")
    ap.add_argument("--temperature", type=float, default=21.0, help="initial temperature degC")
    ap.add_argument("--load-w", type=float, default=100.0, help="load in W drawn while the relay is closed")
    ap.add_argument("--power-factor", type=float, default=1.0)
    ap.add_argument("--voltage", type=float, default=230.0, help="mains RMS voltage")
    ap.add_argument("--config", help="config.json to start from (see firmware/config.example.json)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=JSON",
                    help="override a config key, e.g. --set report_period_ms=200 (repeatable)")
    ap.add_argument("--state-dir", help="where config.json and state.json live (default: a fresh temp dir)")
    ap.add_argument("--mcp2515", action="store_true",
                    help="run the real MCP2515 driver against the register-level fake between app and python-can")
    ap.add_argument("--control-socket", help="also accept control lines on this UNIX socket")
    ap.add_argument("--update-key", metavar="HEX",
                    help="the Ed25519 public key the node accepts updates from (canplug firmware key), if it has none")
    return ap.parse_args(argv)


class Runner:
    def __init__(self, args, out=None, on_reset=None):
        self.args = args
        self.on_reset = on_reset  # what a reset by the firmware does here (host/run.py restarts the process)
        self.out = out or sys.stdout
        self.ready = threading.Event()
        self._loop = None
        self._stop = None
        self._thread = None
        self._own_dir = None
        self._failure = None
        self.cfg, self.config_path, self.state_path = self._config()  # refuses a bad config up front

    # --- set-up ----------------------------------------------------------------------------

    def _config(self):
        user = {}
        if self.args.config:
            with open(self.args.config) as f:
                user = json.load(f)
        for item in self.args.set:
            key, _, value = item.partition("=")
            user[key] = json.loads(value)
        user["node_id"] = self.args.node
        if self.args.protocol:
            user["protocol"] = self.args.protocol
        cfg, errors = settings.validate(user)
        if errors:
            raise SystemExit("config: " + "; ".join(errors))
        directory = self.args.state_dir
        if not directory:
            directory = self._own_dir = tempfile.mkdtemp(prefix="canplug-node%d-" % self.args.node)
        os.makedirs(directory, exist_ok=True)
        key_path = os.path.join(directory, "update_key.pub")
        if self.args.update_key and not os.path.exists(key_path):
            with open(key_path, "w") as f:
                f.write(self.args.update_key + "\n")
        config_path = os.path.join(directory, "config.json")
        settings.save_keys(config_path, user)
        return settings.load(config_path), config_path, os.path.join(directory, "state.json")

    def _build(self):
        a = self.args
        cfg, config_path, state_path = self.cfg, self.config_path, self.state_path
        self.clock = HostClock()
        # sampling runs on virtual time: see SimBoard
        self.board = SimBoard(cfg, self.clock, conversion_us=12, sample_clock=VirtualClock(),
                              humidity=a.humidity, temperature=a.temperature, load_w=a.load_w,
                              power_factor=a.power_factor, voltage=a.voltage)
        self.plant = self.board.plant
        self.board.on_restart = self._reset
        self.node = Node(self.board, cfg, config_path, state_path)
        self.bus = can.Bus(interface=a.interface, channel=a.channel, receive_own_messages=False)
        ids = self.node.can_ids()
        if a.mcp2515:
            self.port = SimulatedMcp2515Port(self.bus, self.clock, cfg["crystal_hz"], cfg["bitrate"],
                                             cfg["can_restart_ms"])
            self.port.start(cfg["bitrate"], ids, self_test_id=ids[0])
        else:
            self.port = PythonCanPort(self.bus, ids)

    def _reset(self):
        if self.on_reset is not None:
            self._print({"event": "reset"})
            self.on_reset()

    # --- control channel -------------------------------------------------------------------

    def apply(self, line):
        """One control line -> answer dict. Runs on the node's event loop."""
        if line.split() == ["quit"]:
            self._stop.set()
            return {"ok": True, "quit": True}
        return control.apply(self.node, self.plant, line)

    def control(self, line, timeout=5.0):
        """Thread-safe: runs a control line on the node's loop and returns the answer."""
        async def call():
            return self.apply(line)
        return asyncio.run_coroutine_threadsafe(call(), self._loop).result(timeout)

    async def _serve_socket(self, reader, writer):
        while True:
            line = await reader.readline()
            if not line:
                break
            answer = self.apply(line.decode())
            if answer is not None:
                writer.write((json.dumps(answer) + "\n").encode())
                await writer.drain()
        writer.close()

    # --- running ---------------------------------------------------------------------------

    async def main(self):
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._build()
        server = None
        if self.args.control_socket:
            server = await asyncio.start_unix_server(self._serve_socket, path=self.args.control_socket)
        task = asyncio.create_task(run_node(self.node, self.port, self.board.led_pin))
        self._print({"event": "ready", "node": self.args.node, "interface": self.args.interface,
                     "channel": self.args.channel, "protocol": self.node.cfg["protocol"],
                     "mcp2515": self.args.mcp2515})
        self.ready.set()
        stop = asyncio.create_task(self._stop.wait())
        await asyncio.wait([task, stop], return_when=asyncio.FIRST_COMPLETED)
        task.cancel()
        if server:
            server.close()
        self.bus.shutdown()
        if task.done() and not task.cancelled() and task.exception():
            raise task.exception()

    def _print(self, obj):
        self.out.write(json.dumps(obj) + "\n")
        self.out.flush()

    def start_in_thread(self):
        self._thread = threading.Thread(target=self._run_thread, daemon=True)
        self._thread.start()
        if not self.ready.wait(10):
            raise RuntimeError("node did not start")
        if self._failure is not None:
            raise self._failure

    def _run_thread(self):
        try:
            asyncio.run(self.main())
        except BaseException as e:  # reported to start_in_thread(), or printed below
            self._failure = e
            if self.ready.is_set():
                raise
        finally:
            self.ready.set()

    def stop(self):
        if self._loop and self._stop and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread:
            self._thread.join(5)
        if self._own_dir:
            shutil.rmtree(self._own_dir, True)


def main(argv=None, on_reset=None):
    runner = Runner(parse_args(argv), on_reset=on_reset)

    def on_signal(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, on_signal)
    try:
        runner.start_in_thread()
        for line in sys.stdin:
            answer = runner.control(line)
            if answer is not None:
                runner._print(answer)
            if answer and answer.get("quit"):
                break
        else:
            runner._print({"event": "control-closed"})
            while runner._thread.is_alive():
                runner._thread.join(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        runner.stop()

