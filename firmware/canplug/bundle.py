# An update bundle as the node sees it: the signed manifest's rules, the update key, and the few
# file-system helpers staging needs (MicroPython's os has no makedirs or rmtree).
import binascii
import json
import os
import struct

import boot_slots
from canplug.storage import write_json

FORMAT = 1
MAX_FILES = 255
BLOCK = 4096  # a LittleFS block on the ESP32: every file takes whole blocks
_NAME_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789_"


def hexlify(data):
    return binascii.hexlify(data).decode()


def u32(value):
    return struct.pack("<I", value & 0xFFFFFFFF)


def read_key(root):
    """The Ed25519 public key of the running firmware (update_key.pub of the active slot), or None."""
    state = boot_slots.read_state(root)
    path = boot_slots.join(boot_slots.slot_dir(root, state["active"]), boot_slots.KEY_FILE)
    try:
        with open(path) as f:
            text = f.read().strip()
        key = binascii.unhexlify(text)
    except (OSError, ValueError):
        return None
    return key if len(key) == 32 else None


def _name_ok(name):
    if not 0 < len(name) <= 32:
        return False
    for c in name:
        if c not in _NAME_CHARS:
            return False
    return True


def path_allowed(path):
    """Only the firmware package and the update key: never main.py, boot_slots.py, config or state."""
    if path == boot_slots.KEY_FILE:
        return True
    parts = path.split("/")
    if len(parts) < 2 or parts[0] != "canplug":
        return False
    for part in parts[1:-1]:
        if not _name_ok(part):
            return False
    name = parts[-1]
    for ext in (".py", ".mpy"):
        if name.endswith(ext) and _name_ok(name[:len(name) - len(ext)]):
            return True
    return False


def _version_ok(text):
    parts = text.split(".") if isinstance(text, str) else ()
    if len(parts) != 2:
        return False
    for part in parts:
        if not part.isdigit() or int(part) > 255:
            return False
    return True


def parse_manifest(raw):
    """Signed manifest bytes -> (manifest, None), or (None, what is wrong). Paths problems start with "path"."""
    try:
        m = json.loads(raw.decode())
    except (ValueError, UnicodeError):
        return None, "not JSON"
    if not isinstance(m, dict) or m.get("format") != FORMAT:
        return None, "format is not %d" % FORMAT
    if not _version_ok(m.get("version")):
        return None, "version is not major.minor"
    files = m.get("files")
    if not isinstance(files, list) or not 1 <= len(files) <= MAX_FILES:
        return None, "files is not a list of 1..%d entries" % MAX_FILES
    seen = set()
    total = 0
    for entry in files:
        if not isinstance(entry, dict):
            return None, "a file entry is not an object"
        path, size, sha = entry.get("path"), entry.get("size"), entry.get("sha256")
        if not isinstance(path, str) or not path_allowed(path) or path in seen:
            return None, "path %r is not allowed" % (path,)
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            return None, "size of %s" % path
        if not isinstance(sha, str) or len(sha) != 64:
            return None, "sha256 of %s" % path
        seen.add(path)
        total += size
    if m.get("total_size") != total:
        return None, "total_size is not the sum of the sizes"
    if boot_slots.KEY_FILE not in seen:
        return None, "%s is missing: the next update needs it" % boot_slots.KEY_FILE
    return m, None


def space_needed(manifest):
    """Flash the staged slot takes: whole blocks per file, plus its manifest and the state file's rewrite."""
    blocks = 3
    for entry in manifest["files"]:
        blocks += (entry["size"] + BLOCK - 1) // BLOCK
    return blocks * BLOCK


def write_manifest(directory, manifest):
    write_json(boot_slots.join(directory, boot_slots.MANIFEST_FILE), manifest)


def _is_dir(path):
    return os.stat(path)[0] & 0x4000 != 0


def make_dirs(path):
    at = ""
    for part in path.split("/"):
        if not part:
            at = at or "/"
            continue
        at = boot_slots.join(at, part) if at else part
        try:
            os.mkdir(at)
        except OSError:
            pass  # there already


def remove(path):
    """A file or a whole directory tree; nothing there is fine."""
    try:
        if _is_dir(path):
            for name in os.listdir(path):
                remove(boot_slots.join(path, name))
            os.rmdir(path)
        else:
            os.remove(path)
    except OSError:
        pass
