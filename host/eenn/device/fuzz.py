"""A serial fuzz of the firmware: corrupted frames of five kinds (bit flips, truncations,
oversize frames, bad CRCs, garbage before a frame), every reply checked, not only counted.

The firmware answers each non-empty run of bytes up to a zero (a chunk) with one frame
(main.c): an error, or the answer to the request the chunk decodes to. `expected` says which
from the chunk alone, by the protocol, so a corrupted frame the firmware accepted, a wrong
error code or a reply that never comes is found. The intact samples sent between corrupted
frames form one stream of the test split and each record must equal the host simulator's.
Chunks go one at a time, each after the answer to the one before: a real board's UART, with a
receive FIFO of a few bytes, would drop what arrives while the firmware transmits.
"""

import struct
import zlib
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from cobs import cobs

from ..errors import EennError
from ..protocol import ACK, ERROR, ERROR_CODES, ERRORS, INFO, INFO_REQUEST, RECORD, RESET, SAMPLE, layout
from . import runlog
from .conformance import Expectation, connect
from .link import Link, LinkTimeout, encode, parse_record
from .terminal import describe

KINDS = ("bit flip", "truncation", "oversize", "bad crc", "garbage")
CRC_BYTES = 4


def receive_capacity(input_bytes: int) -> int:
    """The longest chunk the firmware keeps (main.c's ENCODED_MAX, for a sample frame of
    `input_bytes`); a longer one is answered with a length error."""
    decoded = 1 + struct.calcsize(layout("sample")) + input_bytes + CRC_BYTES
    return decoded + decoded // 254 + 2


def expected(chunk: bytes, input_bytes: int) -> tuple:
    """What the firmware answers to `chunk` (no zero in it): ("error", code name), or the
    request's answer: ("info",), ("ack",) or ("record", sample payload)."""
    if len(chunk) > receive_capacity(input_bytes):
        return "error", "length"
    try:
        body = cobs.decode(chunk)
    except cobs.DecodeError:
        return "error", "framing"
    if len(body) < 1 + CRC_BYTES:
        return "error", "length"
    if struct.unpack("<I", body[-CRC_BYTES:])[0] != zlib.crc32(body[:-CRC_BYTES]):
        return "error", "crc"
    kind, payload = body[:1], body[1:-CRC_BYTES]
    if kind == INFO_REQUEST:
        return ("info",) if not payload else ("error", "length")
    if kind == SAMPLE:
        return ("record", payload) if len(payload) == struct.calcsize(layout("sample")) + input_bytes \
            else ("error", "length")
    if kind == RESET:
        return ("ack",)
    return "error", "command"


def corrupted(kind: str, frame: bytes, rng: np.random.Generator, capacity: int) -> bytes:
    """`frame` (encoded, its zero terminator included) corrupted as `kind` says; the bytes
    returned end with a zero."""
    body = frame[:-1]
    if kind == "bit flip":  # one to three bits anywhere, code bytes included
        flipped = bytearray(body)
        for bit in rng.choice(8 * len(body), size=int(rng.integers(1, 4)), replace=False):
            flipped[bit // 8] ^= 1 << int(bit % 8)
        return bytes(flipped) + b"\0"
    if kind == "truncation":  # the tail lost; the frame sent again after a terminator, or running into the cut
        cut = body[:int(rng.integers(1, len(body)))]
        return cut + (b"\0" if rng.random() < 0.5 else b"") + frame
    if kind == "oversize":
        if rng.random() < 0.5:  # intact framing around a payload longer than the request's
            decoded = cobs.decode(body)[:-CRC_BYTES]
            return encode(decoded[:1], decoded[1:] + rng.bytes(int(rng.integers(1, 64))))
        return rng.integers(1, 256, int(rng.integers(capacity + 1, 3 * capacity)), dtype=np.uint8).tobytes() + b"\0"
    if kind == "bad crc":
        decoded = bytearray(cobs.decode(body))
        decoded[-int(rng.integers(1, CRC_BYTES + 1))] ^= int(rng.integers(1, 256))
        return cobs.encode(bytes(decoded)) + b"\0"
    if kind == "garbage":  # line noise, with zeros in it now and then, before an intact frame
        noise = rng.integers(0, 256, int(rng.integers(1, 48)), dtype=np.uint8)
        noise[rng.random(len(noise)) < 0.1] = 0
        return noise.tobytes() + frame
    raise ValueError(f"unknown corruption {kind!r}; one of {', '.join(KINDS)}")


def pieces(data: bytes) -> list:
    """`data` cut after each zero that ends a non-empty chunk, as (piece, chunk): zeros with
    nothing before them go with the next piece, and each piece gets one answer."""
    found, start, at = [], 0, 0
    while (end := data.find(b"\0", at)) >= 0:
        if end > at:
            found.append((data[start:end + 1], data[at:end]))
            start = end + 1
        at = end + 1
    return found


@dataclass
class FuzzResult:
    frames: int = 0  # corrupted frames sent
    kinds: Counter = field(default_factory=Counter)  # corrupted frames per kind
    chunks: int = 0  # zero-ended chunks sent, each answered
    errors: Counter = field(default_factory=Counter)  # error replies per code
    intact: int = 0  # chunks that are an intact sample frame (after garbage, or a truncation's terminator)
    records: int = 0  # records accepted
    wrong: list = field(default_factory=list)  # replies other than the protocol's, records other than the host's

    def lines(self) -> str:
        kinds = ", ".join(f"{self.kinds[k]} {k}" for k in KINDS)
        errors = ", ".join(f"{n} {code}" for code, n in sorted(self.errors.items())) or "none"
        return (f"{self.frames} corrupted frames sent ({kinds}), {self.chunks} chunks in all\n"
                f"{sum(self.errors.values())} error replies ({errors})\n"
                f"{self.records} records accepted for the {self.intact} intact samples among them, "
                f"{len(self.wrong)} wrong")


class _Stream:
    """The intact samples: the test split in order, one stream, as the host simulator runs it."""

    def __init__(self, build, decision):
        self.records = build.records("test")
        if self.records.inputs is None:
            raise EennError("these records keep no inputs; run 'eenn build' again")
        self.expectation = Expectation.of(decision or build.manifest.decision.spec, self.records,
                                          build.manifest.model_digest)
        self.position = 0

    def payload(self) -> bytes:
        x = np.ascontiguousarray(self.records.inputs[self.position], np.int8).tobytes()
        return struct.pack("<H", self.position & 0xFFFF) + x

    def problem(self, answer: bytes, body: bytes, payload: bytes) -> "str | None":
        """What is wrong with `answer` to a sample frame of `payload`, if anything; the stream moves on."""
        if answer != RECORD:
            return f"a record expected, got {describe(answer, body)}"
        if payload != self.payload():
            return "a corrupted sample frame passed its CRC and was answered"
        record = parse_record(body)
        sample = self.position
        _, want = self.expectation.for_sample(sample)
        self.position += 1
        got = runlog.answer(record)
        if record.sequence != sample & 0xFFFF or got != want:
            return f"record {record.sequence} {got}; the host: sample {sample} {want}"
        return None


def run(link: Link, build, frames: int, seed: int = 0, decision=None) -> FuzzResult:
    """Send `frames` corrupted frames to the device on `link`, which runs `build` with its
    decision (or `decision`); every reply and record checked."""
    info = connect(link, build)
    stream = _Stream(build, decision)
    rng = np.random.default_rng(seed)
    capacity = receive_capacity(info.input_bytes)
    result = FuzzResult()
    link.reset()
    for n in range(frames):
        if stream.position == len(stream.records.inputs):
            link.reset()
            stream.position = 0
        kind = KINDS[n % len(KINDS)]
        target = (SAMPLE, SAMPLE, SAMPLE, INFO_REQUEST, RESET)[int(rng.integers(5))]
        frame = encode(SAMPLE, stream.payload()) if target == SAMPLE else encode(target)
        result.frames += 1
        result.kinds[kind] += 1
        for piece, chunk in pieces(corrupted(kind, frame, rng, capacity)):
            want = expected(chunk, info.input_bytes)
            link.send_raw(piece)
            result.chunks += 1
            try:
                answer, body = link.receive()
            except LinkTimeout:
                raise EennError(f"the device stopped answering at corrupted frame {n + 1} ({kind}), after "
                                f"{result.chunks - 1} answers") from None
            if answer == ERROR and body:
                result.errors[ERRORS.get(body[0], str(body[0]))] += 1
            problem = None
            if want[0] == "error":
                if answer != ERROR or body[:1] != bytes([ERROR_CODES[want[1]]]):
                    problem = f"error {want[1]} expected, got {describe(answer, body)}"
            elif want[0] == "record":
                result.intact += 1
                result.records += answer == RECORD
                problem = stream.problem(answer, body, want[1])
            elif answer != {"info": INFO, "ack": ACK}[want[0]]:
                problem = f"{want[0]} expected, got {describe(answer, body)}"
            elif want[0] == "ack":
                stream.position = 0
            if problem:
                result.wrong.append(f"corrupted frame {n + 1} ({kind}): {problem}")
    return result
