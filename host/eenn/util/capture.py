"""What native (C/C++) code writes to stdout or stderr, kept away from the user's terminal.

Redirecting sys.stdout does not reach C's stdio: the file descriptors themselves are
pointed at a temporary file for the duration, and its text is kept.
"""

import contextlib
import ctypes
import os
import sys
import tempfile


class Captured:
    text = ""


@contextlib.contextmanager
def native_output(fds=(1, 2)):
    captured = Captured()
    sys.stdout.flush()
    sys.stderr.flush()
    libc = ctypes.CDLL(None)
    saved = [os.dup(fd) for fd in fds]
    with tempfile.TemporaryFile() as sink:
        for fd in fds:
            os.dup2(sink.fileno(), fd)
        try:
            yield captured
        finally:
            libc.fflush(None)
            for fd, original in zip(fds, saved):
                os.dup2(original, fd)
                os.close(original)
            sink.seek(0)
            captured.text = sink.read().decode(errors="replace")
