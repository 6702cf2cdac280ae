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
        self.path.parent.mkdir(parents=True, exist_ok=True)
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


def record_entry(record, label: "int | None" = None, expected: "dict | None" = None) -> dict:
    """The fields of a log's `record` line for a link.Record; `expected` is the host simulator's
    exit, class and probabilities for the same sample, if it was compared."""
    entry = {"sequence": record.sequence, "exit": record.exit, "class": record.predicted,
             "probs": record.probs.tolist(), "cost": list(record.cost), "cost_unit": record.cost_unit,
             "route": record.route, "offload_cost": record.offload_cost, "label": label, "match": None}
    if expected is not None and record.exit is not None:
        entry["match"] = (record.exit, record.predicted, entry["probs"]) == (
            expected["exit"], expected["class"], expected["probs"])
        if not entry["match"]:
            entry["expected"] = expected
    return entry


def read(path: Path) -> list:
    """The entries of a log file; an unfinished last line is left out."""
    try:
        text = Path(path).read_text()
    except OSError as e:
        raise EennError(f"cannot read the log {path}: {e}") from None
    lines = text.split("\n")
    entries = []
    for number, line in enumerate(lines[:-1], 1):  # the part after the last newline is unfinished
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as e:
            raise EennError(f"{path}:{number}: not a log line ({e.msg})") from None
        if not isinstance(entry, dict) or "kind" not in entry:
            raise EennError(f"{path}:{number}: not a log line (no 'kind')")
        entries.append(entry)
    return entries
