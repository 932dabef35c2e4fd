# The boot step of firmware updates: which copy of the firmware boots (docs/protocol.md, "Firmware
# transfer"). Not part of any update: main.py runs it before importing the firmware, and an update
# only ever writes a slot that is not booting.
#
# Slots: "" is the firmware flashed by hand at the root (canplug/ and update_key.pub next to
# main.py); "a" and "b" are fw/a and fw/b, written by updates. slots.json says which one boots:
#   {"active": "", "previous": null, "pending": null, "trial": null, "last": null}
# An update stages into the slot that is neither active nor "" and, verified, sets "pending". The next
# boot checks the pending slot's files against its manifest and makes it active on trial; the new
# firmware must confirm itself (confirm()) before any reset, or the boot after that goes back to the
# previous slot. Every change is one atomic write of slots.json (a temp file and a rename), so a power
# cut at any moment leaves the old state or the new one, and always a slot that boots.
#
# Self-contained on purpose: it must not import the canplug package, since which canplug gets
# imported is what it decides.
import json
import os

try:
    import hashlib
except ImportError:  # pragma: no cover - every MicroPython port the socket uses has it
    hashlib = None

STATE_FILE = "slots.json"
MANIFEST_FILE = "manifest.json"
KEY_FILE = "update_key.pub"
_EMPTY = {"active": "", "previous": None, "pending": None, "trial": None, "last": None}


def join(*parts):
    out = parts[0].rstrip("/")
    for part in parts[1:]:
        if part:
            out += "/" + part
    return out or "/"


def slot_dir(root, slot):
    return join(root, "fw", slot) if slot else join(root)


def read_state(root):
    """slots.json, else the complete temp file of an interrupted write, else the factory state."""
    path = join(root, STATE_FILE)
    for candidate in (path, path + ".tmp"):
        try:
            with open(candidate) as f:
                value = json.load(f)
        except (OSError, ValueError):
            continue
        if isinstance(value, dict) and value.get("active") in ("", "a", "b"):
            state = dict(_EMPTY)
            state.update(value)
            return state
    return dict(_EMPTY)


def write_state(root, state):
    """Atomic, as canplug/storage.py writes (which this module may not import, see above)."""
    path = join(root, STATE_FILE)
    with open(path + ".tmp", "w") as f:
        f.write(json.dumps(state))
    try:
        os.rename(path + ".tmp", path)
    except OSError:  # FAT refuses to rename onto a file; read_state() falls back to the temp file
        os.remove(path)
        os.rename(path + ".tmp", path)


def staging_slot(state):
    """Where the next update goes: the slot of "a" and "b" that is not booting."""
    return "b" if state["active"] == "a" else "a"


def check_slot(root, slot):
    """None when every file of the slot's manifest.json is there with its SHA-256, else what is wrong."""
    base = slot_dir(root, slot)
    try:
        with open(join(base, MANIFEST_FILE)) as f:
            manifest = json.load(f)
        files = manifest["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return "no readable manifest in slot %s" % slot
    for entry in files:
        try:
            digest = hashlib.sha256()
            with open(join(base, entry["path"]), "rb") as f:
                while True:
                    chunk = f.read(1024)
                    if not chunk:
                        break
                    digest.update(chunk)
        except (OSError, KeyError, TypeError):
            return "file %s missing" % entry.get("path")
        if _hex(digest.digest()) != entry.get("sha256"):
            return "file %s damaged" % entry["path"]
    return None


def _hex(data):
    return "".join("%02x" % b for b in data)


def select(root):
    """The boot step: -> (slot to boot, whether it boots on trial). Writes slots.json when it changes."""
    state = read_state(root)
    pending, trial = state["pending"], state["trial"]
    if pending:
        problem = check_slot(root, pending["slot"])
        if problem:
            state["pending"] = None
            state["last"] = {"result": "refused", "version": pending.get("version"), "reason": problem}
            write_state(root, state)
            return state["active"], False
        state["previous"], state["active"] = state["active"], pending["slot"]
        state["pending"] = None
        state["trial"] = pending
        write_state(root, state)
        return state["active"], True
    if trial:
        # Booted before on trial and reset without confirming: back to the previous firmware.
        state["active"], state["previous"] = state["previous"] or "", state["active"]
        state["trial"] = None
        state["last"] = {"result": "rolled back", "version": trial.get("version"),
                         "reason": "the new firmware did not confirm itself before a reset"}
        write_state(root, state)
        return state["active"], False
    return state["active"], False


def set_pending(root, slot, version, expect=None):
    """Called by the update once the staged slot verified: it boots at the next start."""
    state = read_state(root)
    state["pending"] = {"slot": slot, "version": version, "expect": expect or {}}
    write_state(root, state)


def confirm(root):
    """The trial firmware is healthy: it stays. False when there was no trial to confirm."""
    state = read_state(root)
    trial = state["trial"]
    if not trial:
        return False
    state["trial"] = None
    state["last"] = {"result": "installed", "version": trial.get("version"), "reason": None}
    write_state(root, state)
    return True
