# Small files on the ESP32's flash (LittleFS) or a host directory, written atomically:
# a temp file is written and closed, then renamed over the old one, so a power cut leaves
# either the old or the new file, never half of one.
import json
import os


def write_atomic(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    try:
        os.rename(tmp, path)
    except OSError:
        # FAT refuses to rename onto an existing file; read_json() falls back to the temp file
        # if power fails between these two steps.
        os.remove(path)
        os.rename(tmp, path)


def read_json(path):
    """The file's JSON object, else the complete temp file of an interrupted write, else None."""
    for candidate in (path, path + ".tmp"):
        try:
            with open(candidate) as f:
                value = json.load(f)
        except (OSError, ValueError):
            continue
        if isinstance(value, dict):
            return value
    return None


def write_json(path, value):
    write_atomic(path, json.dumps(value))
