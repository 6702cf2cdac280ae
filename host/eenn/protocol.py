"""The serial protocol between the host and the firmware, read from its one description,
firmware_templates/firmware/protocol.toml: the firmware's protocol.h is rendered from it
(eenn.firmware.image) and the host speaks it (eenn.device.link)."""

import math
import struct
import tomllib

from . import resources

PROTOCOL_FILE = resources.templates_dir() / "firmware" / "protocol.toml"
PROTOCOL = tomllib.loads(PROTOCOL_FILE.read_text())
_FIELD_FORMATS = {"u8": "B", "u16": "H", "u32": "I"}

PROTOCOL_VERSION = PROTOCOL["version"]
NO_RESULT = PROTOCOL["no_result"]
_FRAMES = {name: frame["type"].encode() for name, frame in PROTOCOL["frames"].items()}
INFO_REQUEST, SAMPLE, RESET, INFO, RECORD, ACK, ERROR, TEXT, OFFLOAD, EDGE_ANSWER = (
    _FRAMES[n] for n in ("info_request", "sample", "reset", "info", "record", "ack", "error", "text", "offload",
                         "edge_answer"))
ERRORS = {e["code"]: name for name, e in PROTOCOL["errors"].items()}
ERROR_CODES = {name: code for code, name in ERRORS.items()}
FRAME_NAMES = {kind: name for name, kind in _FRAMES.items()}
COST_UNITS = {u["code"]: u["words"] for u in PROTOCOL["cost_units"].values()}
COUNTER_UNITS = {u["counter"]: u["code"] for u in PROTOCOL["cost_units"].values()}  # firmware counter driver -> unit
ROUTES = {r["code"]: r.get("words", name) for name, r in PROTOCOL["routes"].items()}  # where a sample's last stages ran


def layout(name: str) -> str:
    """The struct format of a frame's fixed fields (protocol.toml [layouts])."""
    return "<" + "".join(_FIELD_FORMATS[kind] for _, kind in PROTOCOL["layouts"][name])


def offsets() -> dict:
    """Per layout, each field's byte offset in the decoded frame (type byte at 0), and END."""
    found = {}
    for name, fields in PROTOCOL["layouts"].items():
        at, found[name] = 1, []
        for field, kind in fields:
            found[name].append((field, at))
            at += struct.calcsize(_FIELD_FORMATS[kind])
        found[name].append(("end", at))
    return found


INFO_FIELDS, RECORD_FIELDS, OFFLOAD_FIELDS, ANSWER_FIELDS = (layout(n) for n in ("info", "record", "offload",
                                                                                 "edge_answer"))
SEQUENCES = 1 << 8 * struct.calcsize("<H")  # a record's sequence number is a u16: this many samples tell apart


def frame_bytes(payload: int) -> int:
    """Bytes on the wire of a frame with `payload` bytes after its type: type and CRC, COBS's
    code bytes, the terminator. Exact when no byte is zero, otherwise at most a few bytes over
    (a zero byte becomes a code byte and saves one)."""
    body = 1 + payload + 4
    return body + max(1, math.ceil(body / 254)) + 1


MAX_FRAME_BYTES = frame_bytes(PROTOCOL["max_payload"])  # on the wire, terminator included
