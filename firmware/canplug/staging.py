# Staging an update on the node's flash (update.py): the signed manifest kept in RAM until verified,
# each file streamed into the staging slot with its size and SHA-256 checked, and the answer codes
# the node gives the gateway (docs/protocol.md, "Firmware transfer"; src/can/firmware-protocol.ts).
import hashlib

from canplug import bundle

OK = 0
BAD_SIGNATURE = 1
NO_KEY = 2
BAD_MANIFEST = 3
NOT_ALLOWED = 4
NO_SPACE = 5
FILE_CORRUPT = 6
FILE_SIZE = 7
TRANSFER_BROKEN = 8
TRANSFER_TIMEOUT = 9
WRITE_FAILED = 10
OUT_OF_ORDER = 11
FILES_MISSING = 12
BUSY = 13
TOO_LARGE = 14
STAGED_DAMAGED = 15
NOT_SAME = 16  # the running firmware has no identical copy of that file: send it

WRITE_CHUNK = 512
READ_CHUNK = 1024


class Buffer:
    """Sink for the signed manifest: kept in RAM until verified."""

    def __init__(self, done):
        self.data = bytearray()
        self._done = done

    def write(self, chunk):
        self.data.extend(chunk)

    def end(self):
        self._done(bytes(self.data))

    def abort(self):
        self.data = None


class FileSink:
    """Streams one file into the staging slot and checks its size and SHA-256 at the end."""

    def __init__(self, service, index, path, size, sha256):
        self._service, self.index, self._size, self._sha = service, index, size, sha256
        self._skip = 2  # the request's opcode and file index
        self._pending = bytearray()
        self._count = 0
        self._digest = hashlib.sha256()
        self.path = path
        self.error = None
        try:
            bundle.make_dirs(path[:path.rfind("/")])
            self._file = open(path, "wb")
        except OSError as e:
            self._file, self.error = None, e

    def write(self, chunk):
        if self._skip:
            cut = min(self._skip, len(chunk))
            chunk, self._skip = chunk[cut:], self._skip - cut
        self._count += len(chunk)
        self._digest.update(chunk)
        self._pending.extend(chunk)
        if len(self._pending) >= WRITE_CHUNK:
            self._write()

    def _write(self):
        if self._file is not None and self.error is None:
            try:
                self._file.write(self._pending)
            except OSError as e:
                self.error = e
        self._pending = bytearray()

    def end(self):
        self._write()
        self._close()
        self._service.file_done(self)

    def abort(self):
        self._close()
        bundle.remove(self.path)

    def _close(self):
        if self._file is not None:
            try:
                self._file.close()
            except OSError as e:
                self.error = self.error or e
            self._file = None

    def verdict(self):
        """(result code, detail) for the gateway."""
        if self.error is not None:
            return WRITE_FAILED, self.error.args[0] if self.error.args else 0
        if self._count != self._size:
            return FILE_SIZE, self.index
        if bundle.hexlify(self._digest.digest()) != self._sha:
            return FILE_CORRUPT, self.index
        return OK, self.index
