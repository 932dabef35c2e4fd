#!/usr/bin/python3
"""Other sockets' reports on vcan0, timed on the bus (test/vcan/firmware-update.vcan.ts).

Sends a power frame for each node id every period and times it from just before send() to the
kernel's receive timestamp on a second socket (SO_TIMESTAMP, taken when the frame comes out of the
emulated bus), so neither this process's nor the gateway's scheduling after the frame arrived counts.
Prints one JSON line per frame: {"sent": epoch s, "ms": latency}; ends after `seconds`.

    /usr/bin/python3 report-latency-probe.py --nodes 2,3,4 --period-ms 100 --seconds 60
"""
import argparse
import json
import sys
import threading
import time

import can


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--channel", default="vcan0")
    ap.add_argument("--nodes", default="2,3,4")
    ap.add_argument("--period-ms", type=float, default=100)
    ap.add_argument("--seconds", type=float, default=60)
    args = ap.parse_args()
    nodes = [int(n) for n in args.nodes.split(",")]
    ids = [0x180 + n for n in nodes]
    tx = can.Bus(interface="socketcan", channel=args.channel)
    rx = can.Bus(interface="socketcan", channel=args.channel,
                 can_filters=[{"can_id": i, "can_mask": 0x7FF, "extended": False} for i in ids])
    sent = {}
    lock = threading.Lock()
    done = threading.Event()

    def receive():
        while not done.is_set():
            msg = rx.recv(0.2)
            if msg is None:
                continue
            with lock:
                at = sent.pop((msg.arbitration_id, msg.data[7]), None)
            if at is not None:
                sys.stdout.write(json.dumps({"sent": at, "ms": round((msg.timestamp - at) * 1000, 3)}) + "\n")
                sys.stdout.flush()

    thread = threading.Thread(target=receive, daemon=True)
    thread.start()
    seq = 0
    end = time.monotonic() + args.seconds
    next_at = time.monotonic()
    while time.monotonic() < end:
        seq = (seq + 1) & 0xFF
        for can_id in ids:
            with lock:
                sent[(can_id, seq)] = time.time()
            try:
                tx.send(can.Message(arbitration_id=can_id, data=[0x08, 0x09, 0, 0, 0, 0, 0, seq], is_extended_id=False))
            except can.CanError:  # the emulated bus's queue is full: not a report that went out
                with lock:
                    sent.pop((can_id, seq), None)
        next_at += args.period_ms / 1000
        time.sleep(max(0.0, next_at - time.monotonic()))
    time.sleep(0.5)
    done.set()
    thread.join(2)
    tx.shutdown()
    rx.shutdown()


if __name__ == "__main__":
    main()
