"""A run's log: one JSON object per line, as `eenn validate --log` and `eenn monitor --log`
write it and `eenn report` reads it.

Each line has `kind` and `time` (Unix seconds):
- `info`: what the device said it runs (board, build id, model digest, stages, classes, cost unit);
- `record`: one inference (sequence, exit, class, int8 probabilities, cost per stage run on the
  device, cost unit, route: device, edge, fallback or no result (exit and class null), the time
  spent offloading or null, label or null, and `match`: whether it equals the host simulator,
  null if not compared; `expected` holds the host's exit, class and probabilities when it
  does not);
- `text`: a line the firmware printed;
- `event`: what happened to the link (`connected`, `disconnected`, `garbage`).
Lines are written whole and flushed one by one, so a log cut short by a crash loses at most
its last, unfinished line, which `read` ignores.
"""

import json
import time
from pathlib import Path

from ..errors import EennError


class RunLog:
    """Appends to a log file, one flushed line per entry."""

    def __init__(self, path: Path):
        self.path = Path(path)
        try:
            self.file = open(self.path, "a")
        except OSError as e:
            raise EennError(f"cannot write the log {self.path}: {e}") from None

    def write(self, kind: str, **fields) -> dict:
        entry = {"kind": kind, "time": round(time.time(), 3), **fields}
        self.file.write(json.dumps(entry) + "\n")
        self.file.flush()
        return entry

    def close(self) -> None:
        self.file.close()

    def __enter__(self):
        return self

    def __exit__(self, *_):
        self.close()


def info_entry(info) -> dict:
    """The fields of a log's `info` line for a link.Info."""
    return {"board": info.board, "build_id": info.build_id, "model_digest": info.model_digest.hex(),
            "stages": info.stages, "classes": info.classes, "cost_unit": info.cost_unit}


def answer(record) -> dict:
    """What a link.Record answered, as the host simulator's expectation is written: exit, class, probabilities."""
    return {"exit": record.exit, "class": record.predicted, "probs": record.probs.tolist()}


def record_entry(record, label: "int | None" = None, expected: "dict | None" = None) -> dict:
    """The fields of a log's `record` line for a link.Record; `expected` is the host simulator's
    exit, class and probabilities for the same sample, if it was compared."""
    entry = {"sequence": record.sequence, "exit": record.exit, "class": record.predicted,
             "probs": record.probs.tolist(), "cost": list(record.cost), "cost_unit": record.cost_unit,
             "route": record.route, "offload_cost": record.offload_cost, "label": label, "match": None}
    if expected is not None and record.exit is not None:
        entry["match"] = answer(record) == expected
        if not entry["match"]:
            entry["expected"] = expected
    return entry


def _whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


_TEXT = (lambda v: isinstance(v, str), "text")
_WHOLE = (_whole, "a whole number")
_LIST = (lambda v: isinstance(v, list), "a list")
_REQUIRED = {"info": {"board": _TEXT, "build_id": _TEXT, "model_digest": _TEXT, "stages": _WHOLE,
                      "classes": _WHOLE, "cost_unit": _TEXT},
             "record": {"sequence": _WHOLE, "probs": _LIST, "cost": _LIST, "cost_unit": _TEXT}}


def _check(entry: dict, info: "dict | None", where: str) -> None:
    """The fields `eenn report` reads, of the types and sizes the log's info line allows."""
    def wrong(key, expected):
        raise EennError(f"{where}: {entry['kind']} field '{key}' must be {expected}, got {entry.get(key)!r}")

    for key, (valid, expected) in _REQUIRED.get(entry["kind"], {}).items():
        if not valid(entry.get(key)):
            wrong(key, expected)
    if entry["kind"] == "info":
        for key in ("stages", "classes"):
            if entry[key] < 1:
                wrong(key, "at least 1")
        return
    if entry["kind"] != "record":
        return
    stages, classes = (info["stages"], info["classes"]) if info else (None, None)
    for key, count in (("exit", stages), ("class", classes), ("label", classes)):
        value = entry.get(key)
        if value is not None and (not _whole(value) or value < 0 or (count is not None and value >= count)):
            raise EennError(f"{where}: record field '{key}' {value!r} is not " + (
                f"one of 0..{count - 1}" if count else "a whole number or null"))
    probs, cost = entry["probs"], entry["cost"]
    if not all(_whole(p) and -128 <= p <= 127 for p in probs) or (classes and len(probs) != classes):
        wrong("probs", f"{classes or 'C'} int8 levels (-128..127)")
    if not all(_whole(c) and c >= 0 for c in cost):
        wrong("cost", "a list of counts")
    if stages is not None and len(cost) > stages:
        raise EennError(f"{where}: {len(cost)} costs for {stages} stages (the log's info line says {stages})")


def read(path: Path) -> list:
    """The entries of a log file, each checked; an unfinished last line is left out."""
    try:
        text = Path(path).read_text()
    except UnicodeDecodeError:
        raise EennError(f"{path}: not a text file; a log is JSON lines written by eenn validate, emulate or "
                        "monitor --log") from None
    except OSError as e:
        raise EennError(f"cannot read the log {path}: {e}") from None
    lines = text.split("\n")
    entries, info = [], None
    for number, line in enumerate(lines[:-1], 1):  # the part after the last newline is unfinished
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as e:
            raise EennError(f"{path}:{number}: not a log line ({e.msg})") from None
        if not isinstance(entry, dict) or "kind" not in entry:
            raise EennError(f"{path}:{number}: not a log line (no 'kind')")
        _check(entry, info, f"{path}:{number}")
        info = entry if entry["kind"] == "info" else info
        entries.append(entry)
    return entries
