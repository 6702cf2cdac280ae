"""A text view of a device's UART, for suites written as Renode's are (eenn.robot).

Renode's terminal tester reads lines of text; eenn's firmware sends frames. Here each frame
is a line: a text frame's text, any other frame its name and fields ("record 5 exit 1 class 3
route device", "error crc"), a frame that does not decode "garbled" and its first bytes.
Writing a line sends its characters and the frame delimiter (a zero byte), which ends it as a
newline ends a line of text: the firmware answers it as a frame (with an error, unless the
characters happen to be one).
"""

import re
import struct
import time
from collections import deque
from dataclasses import dataclass

from ..errors import EennError
from ..protocol import ERROR, ERRORS, FRAME_NAMES, INFO, OFFLOAD, OFFLOAD_FIELDS, RECORD, TEXT
from .link import FrameError, Link, LinkError, LinkTimeout, parse_info, parse_record

KEPT_LINES = 10_000  # heard and not yet matched; older ones are dropped
SHOWN_LINES = 10  # in a failure's message


def describe(kind: bytes, body: bytes) -> str:
    """One received frame as a line of text."""
    try:
        if kind == TEXT:
            return body.decode(errors="replace")
        if kind == INFO:
            i = parse_info(body)
            return (f"info board {i.board} build {i.build_id} model {i.model_digest.hex()[:16]} stages {i.stages} "
                    f"classes {i.classes}")
        if kind == RECORD:
            r = parse_record(body)
            return (f"record {r.sequence} exit {'none' if r.exit is None else r.exit} class "
                    f"{'none' if r.predicted is None else r.predicted} route {r.route}")
        if kind == ERROR:
            return f"error {ERRORS.get(body[0], body[0]) if body else 'without a code'}"
        if kind == OFFLOAD:
            offload, sample, stage = struct.unpack_from(OFFLOAD_FIELDS, body)
            return f"offload {offload} sample {sample} stage {stage}"
    except (LinkError, IndexError, ValueError) as e:
        return f"{FRAME_NAMES[kind]} (unreadable: {e})"
    return FRAME_NAMES.get(kind, f"frame {kind!r} of {len(body)} bytes")


@dataclass(frozen=True)
class Line:
    """What Wait For Line On Uart found: the line and, for a regular expression, its groups."""

    line: str
    groups: tuple = ()


class Terminal:
    """Lines heard on `link` (every frame it receives, whoever reads it), waited for by content
    or regular expression; `timeout` is the default wait in seconds."""

    def __init__(self, link: Link, timeout: float = 8.0):
        self.link, self.timeout = link, timeout
        self.unread = deque(maxlen=KEPT_LINES)
        self.recent = deque(maxlen=SHOWN_LINES)
        link.listener = self._hear

    def _hear(self, kind: bytes, body: bytes) -> None:
        self._add(describe(kind, body))

    def _add(self, line: str) -> None:
        self.unread.append(line)
        self.recent.append(line)

    def _listen(self, seconds: float) -> bool:
        """Wait up to `seconds` for one more frame; False if none came."""
        port = self.link.port
        timeout, port.timeout = port.timeout, max(seconds, 0.01)
        try:
            self.link.receive()
        except LinkTimeout:
            return False
        except FrameError as e:
            self._add(f"garbled: {e}")
        finally:
            port.timeout = timeout
        return True

    def wait_for(self, content: str, timeout: "float | None" = None, regex: bool = False) -> Line:
        """The first line heard since the last match that holds `content` (or matches it, as a
        regular expression); the lines before it are passed over."""
        seconds = self.timeout if timeout is None else timeout
        pattern = re.compile(content if regex else re.escape(content))
        deadline = time.monotonic() + seconds
        while True:
            while self.unread:
                line = self.unread.popleft()
                found = pattern.search(line)
                if found:
                    return Line(line, found.groups())
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                heard = " | ".join(self.recent) or "nothing"
                raise EennError(f"no line {'matching' if regex else 'with'} {content!r} on {self.link.url} within "
                                f"{seconds:g} s; the last lines heard: {heard}")
            self._listen(remaining)

    def write_line(self, content: str = "") -> None:
        self.link.send_raw(content.encode() + b"\0")

    def is_idle(self, seconds: float) -> bool:
        """Nothing arrives within `seconds` (what was heard before does not count)."""
        self.unread.clear()
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0:
            if self._listen(remaining):
                return False
        return True
