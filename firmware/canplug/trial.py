# The first boot of a new firmware (docs/protocol.md, "Firmware transfer"): it stays only once it has
# shown that it works, else the boot step (boot_slots.py) rolls it back at the next boot.
import boot_slots


class TrialCheck:
    """On the first boot of a new firmware: confirm it once it has shown a heartbeat, its sensors and a
    CAN reply, or reset within update_confirm_s so that the boot step rolls it back."""

    def __init__(self, node, root):
        self.node = node
        self.root = root
        trial = boot_slots.read_state(root)["trial"]
        self.pending = trial is not None
        self.expect = (trial or {}).get("expect") or {}
        self.deadline = node.clock.ticks_add(node.clock.ticks_ms(), node.cfg["update_confirm_s"] * 1000)
        self.confirmed = False

    def healthy(self):
        n = self.node
        sensors = n.sensors_working()
        return (n.reporter.heartbeats >= 2 and n.outbox.sent > 0 and n.outbox.replies_sent > 0
                and (sensors["power"] or not self.expect.get("power"))
                and (sensors["humidity"] or not self.expect.get("humidity")))

    def poll(self, now):
        """True once the trial is over (confirmed, or reset for the rollback)."""
        if self.healthy():
            boot_slots.confirm(self.root)
            self.pending = False
            self.confirmed = True
        elif self.node.clock.ticks_diff(now, self.deadline) >= 0:
            self.pending = False  # the reset below rolls back; a simulated board returns from it
            self.node.prepare_reset()
            self.node.board.restart()
        return not self.pending
