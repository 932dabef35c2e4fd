# tempfile.mkdtemp() for the test suite on MicroPython (the VM's filesystem is in memory). Test tree only.
import os

_count = [0]


def mkdtemp(prefix="tmp", suffix="", dir="/tmp"):
    while True:
        _count[0] += 1
        path = "%s/%s%d%s" % (dir, prefix, _count[0], suffix)
        try:
            os.mkdir(path)
            return path
        except OSError:
            continue
