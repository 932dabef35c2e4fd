# shutil.rmtree() for the test suite on MicroPython. Test tree only.
import os


def rmtree(path, ignore_errors=False):
    try:
        for name in os.listdir(path):
            child = path + "/" + name
            if os.stat(child)[0] & 0x4000:  # S_IFDIR
                rmtree(child, ignore_errors)
            else:
                os.remove(child)
        os.rmdir(path)
    except OSError:
        if not ignore_errors:
            raise
