# Firmware updates over CAN, the node's side (docs/protocol.md, "Firmware transfer"). The gateway
# sends a signed manifest, then each file, as ISO-TP messages on 0x780+node; the node answers with
# single frames on 0x7C0+node. Files are staged in the slot the node is not running from and checked
# against the manifest; a commit checks them again from flash, marks the slot pending for the boot
# step (boot_slots.py) and resets. After that reset the new firmware is on trial until it confirms
# itself (trial.py), or the next boot rolls it back.
#
# Heavy work (the signature, reading the staged files back) runs in bounded steps from poll(), so
# protection and CAN keep running; the relay is held in its power-on state while an update is under
# way, and closing it is refused until the update ends.
import hashlib
import os

import boot_slots
from canplug import bundle, ed25519, isotp, staging
from canplug import protocol as p
from canplug.staging import (BAD_MANIFEST, BAD_SIGNATURE, BUSY, FILE_SIZE, FILES_MISSING, NO_KEY, NO_SPACE,  # noqa: F401
                             NOT_ALLOWED, NOT_SAME, OK, OUT_OF_ORDER, STAGED_DAMAGED, TOO_LARGE, TRANSFER_BROKEN,
                             TRANSFER_TIMEOUT, WRITE_FAILED, FILE_CORRUPT)

REQ_QUERY, REQ_BEGIN, REQ_FILE, REQ_COMMIT, REQ_ABORT, REQ_COPY = 0x01, 0x02, 0x03, 0x04, 0x05, 0x06
ANS_INFO, ANS_RESULT = 0x81, 0x82

S_IDLE, S_RECEIVING, S_VERIFYING, S_INSTALLING, S_TRIAL = 0, 1, 2, 3, 4
LAST_CODES = {None: 0, "installed": 1, "rolled back": 2, "refused": 3}

MAX_BEGIN = 16384  # signature + manifest held in RAM
IDLE_TIMEOUT_MS = 30000  # an update no frame has touched for this long is abandoned
RESET_DELAY_MS = 300  # after the commit's answer went out


def flash_free(root):
    st = os.statvfs(root)
    return st[1] * st[4]  # f_frsize * f_bavail


class UpdateService:
    def __init__(self, node, root):
        self.node = node
        self.root = root  # the flash: config.json, slots.json and the slots live here
        self.state = S_IDLE
        self.manifest = None
        self.slot = None
        self.received = None
        self.holds_relay = False
        self._job = None  # generator of the step under way (signature, read-back)
        self._job_op = None
        self._request = None  # (opcode, file index) of the message being received
        self._touched = 0
        self._reset_at = None
        # The block size leaves a receive buffer free for a command (docs/protocol.md): one consecutive
        # frame at a time on an MCP2515.
        self.receiver = isotp.Receiver(node.clock, self._send, max(1, node.rx_depth - 1),
                                       self._start, self._single, self._broken,
                                       n_cr_ms=node.cfg["update_frame_timeout_ms"])
        self._idle_since = node.clock.ticks_ms()

    # --- frames in, answers out ---------------------------------------------------------------------

    def frame(self, data):
        self._touched = self.node.clock.ticks_ms()
        self.receiver.frame(data)

    def _send(self, data):
        self.node.transfer_outbox.push((p.TRANSFER_TO_GATEWAY + self.node.node_id, data))

    def _answer(self, payload):
        self._send(isotp.single_frame(payload))

    def _result(self, op, code, detail=0):
        self._answer(bytes((ANS_RESULT, op, code)) + bundle.u32(detail))

    def info(self):
        state = S_TRIAL if self.node.trial is not None else self.state
        last = LAST_CODES.get((boot_slots.read_state(self.root)["last"] or {}).get("result"), 0) if self.root else 0
        free_kib = min(0xFFFF, self.flash_free() // 1024) if self.root else 0
        return bytes((ANS_INFO, state, self.receiver.block_size, self.receiver.st_min,
                      free_kib & 0xFF, free_kib >> 8, last))

    def flash_free(self):
        board_free = getattr(self.node.board, "flash_free", None)
        return board_free(self.root) if board_free else flash_free(self.root)

    # --- messages -----------------------------------------------------------------------------------

    def _start(self, length, head):
        op = head[0]
        index = head[1] if len(head) > 1 else 0
        self._request = (op, index)
        if op == REQ_BEGIN:
            if length > MAX_BEGIN:
                self._result(op, TOO_LARGE, MAX_BEGIN)
                return None
            refused = self._refuse_begin()
            if refused is not None:
                self._result(op, refused)
                return None
            return staging.Buffer(self._begin)
        if op == REQ_FILE:
            return self._file_sink(index, length - 2)
        self._result(op, OUT_OF_ORDER)
        return None

    def _single(self, payload):
        op = payload[0]
        self._request = (op, payload[1] if len(payload) > 1 else 0)
        if op == REQ_QUERY:
            self._answer(self.info())
        elif op == REQ_COMMIT:
            self._commit()
        elif op == REQ_ABORT:
            self.end_session()
            self._result(op, OK)
        elif op == REQ_COPY and len(payload) >= 2:
            self._copy(payload[1])
        elif op == REQ_FILE and len(payload) >= 2:
            sink = self._file_sink(payload[1], len(payload) - 2)
            if sink is not None:
                sink.write(payload)
                sink.end()
        else:
            self._result(op, OUT_OF_ORDER)

    def _broken(self, kind):
        op, index = self._request or (0, 0)
        self._result(op, TRANSFER_TIMEOUT if kind == isotp.ERR_TIMEOUT else TRANSFER_BROKEN, index)

    def _refuse_begin(self):
        if not self.root:
            return WRITE_FAILED
        if self.state in (S_VERIFYING, S_INSTALLING) or self.node.trial is not None:
            return BUSY
        return None

    def _begin(self, data):
        self.end_session()  # a new BEGIN replaces an update in progress
        key = bundle.read_key(self.root)
        if key is None:
            self._result(REQ_BEGIN, NO_KEY)
            return
        self.state = S_VERIFYING
        self._job_op = REQ_BEGIN
        self._job = self._check_begin(key, data[1:65], data[65:])  # after the opcode: signature, manifest

    def _check_begin(self, key, signature, manifest_bytes):
        ok = None
        for ok in ed25519.verify_steps(key, manifest_bytes, signature):
            if ok is None:
                yield
        if not ok:
            yield BAD_SIGNATURE, 0
            return
        manifest, problem = bundle.parse_manifest(manifest_bytes)
        if manifest is None:
            yield (NOT_ALLOWED if problem.startswith("path") else BAD_MANIFEST), 0
            return
        state = boot_slots.read_state(self.root)
        if state["pending"]:  # an install not booted yet gives way to this one
            state["pending"] = None
            boot_slots.write_state(self.root, state)
        slot = boot_slots.staging_slot(state)
        directory = boot_slots.slot_dir(self.root, slot)
        bundle.remove(directory)
        yield
        free = self.flash_free()
        if bundle.space_needed(manifest) > free:
            yield NO_SPACE, free
            return
        self.manifest, self.slot = manifest, slot
        self.received = [False] * len(manifest["files"])
        self._hold_relay()
        self.state = S_RECEIVING
        yield OK, 0

    def _file_sink(self, index, size):
        op = REQ_FILE
        if self.state != S_RECEIVING:
            self._result(op, OUT_OF_ORDER, index)
            return None
        files = self.manifest["files"]
        if index >= len(files):
            self._result(op, BAD_MANIFEST, index)
            return None
        entry = files[index]
        if size != entry["size"]:
            self._result(op, FILE_SIZE, index)
            return None
        self.received[index] = False
        path = boot_slots.join(boot_slots.slot_dir(self.root, self.slot), entry["path"])
        return staging.FileSink(self, index, path, entry["size"], entry["sha256"])

    def file_done(self, sink):
        code, detail = sink.verdict()
        if code == OK:
            self.received[sink.index] = True
        else:
            bundle.remove(sink.path)
        self._result(REQ_FILE, code, detail)

    def _commit(self):
        if self.state != S_RECEIVING:
            self._result(REQ_COMMIT, OUT_OF_ORDER)
            return
        for i, got in enumerate(self.received):
            if not got:
                self._result(REQ_COMMIT, FILES_MISSING, i)
                return
        self.state = S_VERIFYING
        self._job_op = REQ_COMMIT
        self._job = self._check_commit()

    def _copy(self, index):
        """A file the running firmware already has, byte for byte: copied on the node, not sent."""
        if self.state != S_RECEIVING or index >= len(self.manifest["files"]):
            self._result(REQ_COPY, OUT_OF_ORDER, index)
            return
        self.state = S_VERIFYING
        self._job_op = REQ_COPY
        self._job = self._copy_steps(index)

    def _copy_steps(self, index):
        entry = self.manifest["files"][index]
        running = boot_slots.slot_dir(self.root, boot_slots.read_state(self.root)["active"])
        target = boot_slots.join(boot_slots.slot_dir(self.root, self.slot), entry["path"])
        digest, size = hashlib.sha256(), 0
        try:
            bundle.make_dirs(target[:target.rfind("/")])
            with open(boot_slots.join(running, entry["path"]), "rb") as src:
                with open(target, "wb") as dst:
                    while True:
                        chunk = src.read(staging.READ_CHUNK)
                        if not chunk:
                            break
                        digest.update(chunk)
                        dst.write(chunk)
                        size += len(chunk)
                        yield
        except OSError:
            size = -1
        if size != entry["size"] or bundle.hexlify(digest.digest()) != entry["sha256"]:
            bundle.remove(target)
            yield NOT_SAME, index
            return
        self.received[index] = True
        yield OK, index

    def _check_commit(self):
        directory = boot_slots.slot_dir(self.root, self.slot)
        for i, entry in enumerate(self.manifest["files"]):
            digest = hashlib.sha256()
            try:
                with open(boot_slots.join(directory, entry["path"]), "rb") as f:
                    while True:
                        chunk = f.read(staging.READ_CHUNK)
                        if not chunk:
                            break
                        digest.update(chunk)
                        yield
            except OSError:
                yield STAGED_DAMAGED, i
                return
            if bundle.hexlify(digest.digest()) != entry["sha256"]:
                yield STAGED_DAMAGED, i
                return
        try:
            bundle.write_manifest(directory, self.manifest)
            boot_slots.set_pending(self.root, self.slot, self.manifest["version"], self.node.sensors_working())
        except OSError as e:
            yield WRITE_FAILED, e.args[0] if e.args else 0
            return
        yield OK, 0

    # --- the relay and the session -------------------------------------------------------------------

    def _hold_relay(self):
        """The relay takes its power-on state for the update (what the reboot would do anyway)."""
        self.holds_relay = True
        state = self.node.cfg["power_on_state"]
        if state == p.POWER_ON_OFF:
            self.node.safety.open()
        elif state == p.POWER_ON_ON:
            self.node.safety.close()  # refused by a latched interlock, as at power-on

    def end_session(self):
        """Drops an update that will not be installed: staged files, the relay hold."""
        if self.state in (S_RECEIVING, S_VERIFYING) and self.slot is not None:
            bundle.remove(boot_slots.slot_dir(self.root, self.slot))
        self.receiver.cancel()
        self.state, self.manifest, self.slot, self.received = S_IDLE, None, None, None
        self._job = None
        self.holds_relay = False

    # --- the update task's steps ---------------------------------------------------------------------

    @property
    def active(self):
        """True while frames of an update are expected: the CAN task then polls faster."""
        return self.state != S_IDLE or self.receiver.busy

    def poll(self, now):
        """One bounded step of whatever is under way; True while there is more to do at once."""
        self.receiver.poll(now)
        if self._job is not None:
            try:
                outcome = next(self._job)
            except StopIteration:
                outcome = None
                self._job = None
            if outcome is None:
                return self._job is not None
            self._job = None
            code, detail = outcome
            self._result(self._job_op, code, detail)
            if self._job_op == REQ_COPY:
                self.state = S_RECEIVING  # a file not copied is sent instead
            elif code != OK:
                self.end_session()
            elif self._job_op == REQ_COMMIT:
                self.state = S_INSTALLING
                self._reset_at = self.node.clock.ticks_add(now, RESET_DELAY_MS)
            return False
        if self.state == S_INSTALLING:
            if not self.node.transfer_outbox.frames and self.node.clock.ticks_diff(now, self._reset_at) >= 0:
                self.node.prepare_reset()
                self.node.board.restart()
                self._reset_at = self.node.clock.ticks_add(now, 60000)  # a simulated board returns: do not repeat at once
            return False
        if self.state == S_RECEIVING and self.node.clock.ticks_diff(now, self._touched) > IDLE_TIMEOUT_MS:
            self.end_session()
        if self.state != S_IDLE or self.receiver.busy:
            self._idle_since = now
        elif self.node.clock.ticks_diff(now, self._idle_since) > IDLE_TIMEOUT_MS:
            self.node.drop_update_service()  # nothing happened for a while: give the heap back
        return False

