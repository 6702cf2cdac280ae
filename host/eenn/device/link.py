"""The host side of the serial protocol (firmware_templates/firmware/protocol.toml, from which
the firmware's protocol.h is rendered).

One class for every transport pyserial opens: a board's serial port, or QEMU's UART on a
TCP socket (`socket://127.0.0.1:PORT`). Frames are COBS-encoded, zero-terminated, and end
with a CRC-32 of their type and payload.
"""

import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import serial
from cobs import cobs

from ..errors import EennError
from ..protocol import (ACK, ANSWER_FIELDS, COST_UNITS, EDGE_ANSWER, ERROR, ERRORS, INFO, INFO_FIELDS, INFO_REQUEST,
                        MAX_FRAME_BYTES, NO_RESULT, PROTOCOL_VERSION, RECORD, RECORD_FIELDS, RESET, ROUTES, SAMPLE)


class LinkError(EennError):
    pass


class FrameError(LinkError):
    """A frame that does not decode: not valid COBS, too short, or failing its CRC."""


class LinkTimeout(LinkError):
    """Nothing (or no complete frame) arrived in time."""


class DeviceError(LinkError):
    """The device answered with an error record."""

    def __init__(self, code: int):
        self.code = code
        super().__init__(f"the device reported a {ERRORS.get(code, code)} error")


@dataclass(frozen=True)
class Info:
    version: int
    stages: int
    classes: int
    cost_unit: str
    input_bytes: int
    model_digest: bytes
    board: str
    build_id: str


@dataclass(frozen=True)
class Record:
    sequence: int
    exit: "int | None"  # None: no result (the edge host did not answer in time)
    predicted: "int | None"
    probs: np.ndarray  # int8, the exit taken
    cost: tuple  # per stage run on the device, in cost_unit
    cost_unit: str
    route: str = "device"  # ROUTES
    offload_cost: "int | None" = None  # sending to the edge host and waiting, in cost_unit


def encode(kind: bytes, payload: bytes = b"") -> bytes:
    body = kind + payload
    return cobs.encode(body + struct.pack("<I", zlib.crc32(body))) + b"\0"


def decode(frame: bytes) -> "tuple[bytes, bytes]":
    """(type, payload) of one received frame without its zero terminator."""
    try:
        body = cobs.decode(frame)
    except cobs.DecodeError as e:
        raise FrameError(f"a frame from the device is not valid COBS ({e})") from None
    if len(body) < 5 or struct.unpack("<I", body[-4:])[0] != zlib.crc32(body[:-4]):
        raise FrameError(f"a frame from the device fails its CRC: {frame[:32].hex()}")
    return body[:1], body[1:-4]


def parse_info(body: bytes) -> Info:
    fixed = struct.calcsize(INFO_FIELDS)
    if len(body) < fixed + 33:
        raise LinkError(f"an info frame of {len(body)} bytes is too short")
    version, stages, classes, unit, input_bytes = struct.unpack_from(INFO_FIELDS, body)
    if version != PROTOCOL_VERSION:
        raise LinkError(f"the device speaks protocol version {version}, this eenn {PROTOCOL_VERSION}: "
                        "rebuild and reload its firmware")
    digest = body[fixed:fixed + 32]
    at = fixed + 32
    board = body[at + 1:at + 1 + body[at]].decode(errors="replace")
    at += 1 + body[at]
    build = body[at + 1:at + 1 + body[at]].decode(errors="replace")
    return Info(version, stages, classes, COST_UNITS.get(unit, str(unit)), input_bytes, digest, board, build)


def parse_record(body: bytes) -> Record:
    """A record frame's payload; its length gives the number of classes."""
    fixed = struct.calcsize(RECORD_FIELDS)
    if len(body) < fixed:
        raise LinkError(f"a record frame of {len(body)} bytes is too short")
    seq, exit_taken, predicted, stages_run, unit, route = struct.unpack_from(RECORD_FIELDS, body)
    if route not in ROUTES:
        raise LinkError(f"a record with route {route}")
    offloaded = ROUTES[route] != "device"
    classes = len(body) - fixed - 4 * (stages_run + offloaded)
    if classes < 1:
        raise LinkError(f"a record frame of {len(body)} bytes cannot hold {stages_run} stage costs")
    probs = np.frombuffer(body, np.int8, classes, fixed).copy()
    *cost, = struct.unpack_from(f"<{stages_run + offloaded}I", body, fixed + classes)
    result = exit_taken != NO_RESULT
    return Record(seq, exit_taken if result else None, predicted if result else None, probs,
                  tuple(cost[:stages_run]), COST_UNITS.get(unit, str(unit)), ROUTES[route],
                  cost[-1] if offloaded else None)


def edge_answer(sequence: int, first_stage: int, probs: np.ndarray) -> bytes:
    """The frame that answers offload `sequence`: every exit's int8 probabilities from
    `first_stage` on, one row per exit."""
    payload = struct.pack(ANSWER_FIELDS, sequence & 0xFFFF, first_stage)
    payload += np.ascontiguousarray(probs, np.int8).tobytes()
    return encode(EDGE_ANSWER, payload)


def close_port(port) -> None:
    """Close a pyserial port. pyserial 3.5's socket:// close() skips closing a socket whose
    peer is gone (shutdown raises first), so that socket is closed here too."""
    sock = getattr(port, "_socket", None)
    port.close()
    if sock is not None:
        sock.close()


class FrameReader:
    """Frames out of a byte stream fed in pieces: each complete frame comes out as
    (type, payload), or as (None, raw bytes) if it fails to decode, and reading resumes at the
    next frame boundary. A frame longer than `limit` bytes comes out as (None, its first 64
    bytes) as soon as it passes the limit, and the rest of it is skipped: memory stays bounded
    and each byte is looked at once."""

    def __init__(self, limit: int = MAX_FRAME_BYTES):
        self.limit = limit
        self.pending = bytearray()
        self.overlong = False  # skipping the rest of a frame that passed the limit

    def discard(self) -> None:
        """Forget a partial frame (the link was lost in the middle of it)."""
        self.pending.clear()
        self.overlong = False

    def _extend(self, piece, frames: list) -> None:
        if self.overlong:
            return
        self.pending += piece
        if len(self.pending) >= self.limit:
            frames.append((None, bytes(self.pending[:64])))
            self.pending.clear()
            self.overlong = True

    def feed(self, data: bytes) -> list:
        frames = []
        view, start = memoryview(data), 0
        while (end := data.find(b"\0", start)) >= 0:
            self._extend(view[start:end], frames)
            if self.pending and not self.overlong:
                try:
                    frames.append(decode(bytes(self.pending)))
                except LinkError:
                    frames.append((None, bytes(self.pending)))
            self.pending.clear()
            self.overlong = False
            start = end + 1
        self._extend(view[start:], frames)
        return frames


def check_port(url: str) -> None:
    """Refuse a port that is no serial device: a path that does not exist, or a file or device
    that is not a terminal. A pyserial URL (socket://, rfc2217://, loop://) is pyserial's to check."""
    if "://" in url:
        return
    path = Path(url)
    if not path.exists():
        raise EennError(f"{url}: no such serial port; plug the board in (ls /dev/ttyACM* /dev/ttyUSB*) or give a "
                        "pyserial URL (socket://HOST:PORT)")
    if not path.is_char_device():
        raise EennError(f"{url}: not a serial port (a {'directory' if path.is_dir() else 'regular file'}); give "
                        "the board's device, e.g. /dev/ttyACM0")
    try:
        fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    except OSError as e:
        raise EennError(f"{url}: cannot open the serial port ({e.strerror}); is it yours to use (group "
                        "dialout)?") from None
    try:
        if not os.isatty(fd):
            raise EennError(f"{url}: not a serial port (a device that is not a terminal); give the board's device, "
                            "e.g. /dev/ttyACM0")
    finally:
        os.close(fd)


class Link:
    def __init__(self, url: str, baud: int = 115200, timeout: float = 10.0):
        check_port(url)
        try:
            self.port = serial.serial_for_url(url, baudrate=baud, timeout=timeout)
        except (serial.SerialException, ValueError) as e:
            raise LinkError(f"cannot open {url}: {e}") from None
        self.url = url
        self.received = bytearray()  # the last bytes read, for error messages
        self.listener = None  # called with (type, payload) of every frame received (eenn.device.terminal)

    def close(self) -> None:
        close_port(self.port)

    def send_raw(self, data: bytes) -> None:
        self.port.write(data)
        self.port.flush()

    def receive(self) -> "tuple[bytes, bytes]":
        """The next non-empty frame; raises LinkError on a timeout or a closed link."""
        while True:
            try:
                frame = self.port.read_until(b"\0", MAX_FRAME_BYTES)
            except serial.SerialException as e:
                raise LinkError(f"{self.url}: link lost ({e}); last bytes: {bytes(self.received[-64:])!r}") from None
            self.received = (self.received + frame)[-256:]
            if len(frame) == MAX_FRAME_BYTES and not frame.endswith(b"\0"):
                raise LinkError(f"{self.url}: a frame longer than the protocol allows ({MAX_FRAME_BYTES} bytes)")
            if not frame.endswith(b"\0"):
                raise LinkTimeout(f"{self.url}: no answer within {self.port.timeout} s; "
                                f"last bytes: {bytes(self.received[-64:])!r}")
            if len(frame) > 1:
                kind, body = decode(frame[:-1])
                if self.listener is not None:
                    self.listener(kind, body)
                return kind, body

    def request(self, kind: bytes, payload: bytes = b"") -> "tuple[bytes, bytes]":
        self.send_raw(encode(kind, payload))
        answer, body = self.receive()
        while answer == INFO and kind != INFO_REQUEST:
            answer, body = self.receive()  # a late answer to one of connect()'s repeated requests
        if answer == ERROR:
            raise DeviceError(body[0] if body else -1)
        return answer, body

    def connect(self, seconds: float = 10.0, attempt_seconds: float = 0.5) -> Info:
        """Info from a device that may still be starting: a UART that is not enabled yet drops
        what it receives, so the request is repeated (after a lone delimiter that ends any
        partial frame) until an answer comes."""
        timeout = self.port.timeout
        self.port.timeout = attempt_seconds
        try:
            for _ in range(max(1, int(seconds / attempt_seconds))):
                self.send_raw(b"\0")
                try:
                    return self.info()
                except (DeviceError, LinkTimeout):
                    continue  # a partial frame got there first, or nothing yet
        finally:
            self.port.timeout = timeout
        raise LinkError(f"{self.url}: the device did not answer within {seconds:.0f} s; "
                        f"last bytes: {bytes(self.received[-64:])!r}")

    def info(self) -> Info:
        kind, body = self.request(INFO_REQUEST)
        if kind != INFO:
            raise LinkError(f"expected an info frame, got {kind!r}")
        return parse_info(body)

    def reset(self) -> None:
        """Start a new stream: the device's decision forgets earlier samples."""
        kind, _ = self.request(RESET)
        if kind != ACK:
            raise LinkError(f"expected an acknowledgement, got {kind!r}")

    def infer(self, sequence: int, x: np.ndarray, classes: int) -> Record:
        payload = struct.pack("<H", sequence & 0xFFFF) + np.ascontiguousarray(x, np.int8).tobytes()
        kind, body = self.request(SAMPLE, payload)
        if kind != RECORD:
            raise LinkError(f"expected a record frame, got {kind!r}")
        record = parse_record(body)
        if record.sequence != sequence & 0xFFFF:
            raise LinkError(f"record for sample {record.sequence} while waiting for {sequence & 0xFFFF}")
        if len(record.probs) != classes:
            raise LinkError(f"a record of {len(record.probs)} classes from a model of {classes}")
        return record
