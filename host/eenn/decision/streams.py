"""Time-correlated streams for the temporal exit decisions.

A stream is a sequence of samples with an order: `build` makes one from any labelled split
as "scenes" (runs of one class, of random length, a different sample of that class at each
step, optional int8 noise), seeded; `load` reads a recorded one (.npz with x, y and
optionally stream ids, or .csv with stream id and order columns). Samples are int8 model
inputs, ready for the TFLM chain, the generated C and the device.
"""

import csv
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import EennError
from ..frontend import data


@dataclass(frozen=True)
class Stream:
    inputs: np.ndarray  # int8 (steps, *sample shape)
    labels: np.ndarray  # int64 (steps,)
    starts: np.ndarray  # bool (steps,): a new stream (decision state reset) begins here

    def __len__(self) -> int:
        return len(self.labels)


def scenes(labels: np.ndarray, steps: int, rng: np.random.Generator, scene_min: int = 5,
           scene_max: int = 30) -> np.ndarray:
    """Indices into `labels` of a stream of `steps` steps: scenes of one class each,
    `scene_min`..`scene_max` steps long, a random sample of that class at each step, without
    a class twice in a row."""
    if steps < 1 or not 1 <= scene_min <= scene_max:
        raise EennError(f"a stream needs steps >= 1 and 1 <= scene_min <= scene_max (got {steps}, "
                        f"{scene_min}, {scene_max})")
    classes = np.unique(labels)
    if len(classes) < 2:
        raise EennError("a stream of scenes needs at least two classes")
    by_class = {c: np.flatnonzero(labels == c) for c in classes}
    order, previous = [], None
    while len(order) < steps:
        c = rng.choice([k for k in classes if k != previous])
        length = int(rng.integers(scene_min, scene_max + 1))
        order.extend(rng.choice(by_class[c], size=length))
        previous = c
    return np.asarray(order[:steps])


def build(inputs: np.ndarray, labels: np.ndarray, steps: int, seed: int, scene_min: int = 5,
          scene_max: int = 30, noise: int = 0) -> Stream:
    """One stream of `scenes` drawn from (inputs, labels), seeded; `noise` adds uniform int8
    noise of that amplitude."""
    rng = np.random.default_rng(seed)
    order = scenes(labels, steps, rng, scene_min, scene_max)
    x = inputs[order].astype(np.int16)
    if noise:
        x = x + rng.integers(-noise, noise + 1, size=x.shape)
    starts = np.zeros(steps, bool)
    starts[0] = True
    return Stream(np.clip(x, -128, 127).astype(np.int8), labels[order].astype(np.int64), starts)


def load(path: Path) -> Stream:
    """A recorded stream: .npz with int8 `x`, `y` and optional `stream` ids (rows in order), or
    .csv with columns `stream`, `order`, `label` and the sample's int8 values."""
    path = Path(path)
    if path.suffix == ".npz":
        data.check_npz(path)
        try:
            with np.load(path, allow_pickle=False) as f:
                x, y = f["x"], f["y"]
                ids = f["stream"] if "stream" in f.files else np.zeros(len(y), np.int64)
        except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile) as e:
            raise EennError(f"{path}: not a stream file with x and y ({e})") from None
    elif path.suffix == ".csv":
        x, y, ids = _read_csv(path)
    else:
        raise EennError(f"{path}: a stream is a .npz or .csv file")
    if x.dtype != np.int8 or len(x) != len(y) or len(ids) != len(y) or len(y) == 0:
        raise EennError(f"{path}: x must be int8 samples with one label and stream id each")
    starts = np.ones(len(ids), bool)
    starts[1:] = ids[1:] != ids[:-1]
    return Stream(x, np.asarray(y, np.int64), starts)


def _read_csv(path: Path):
    try:
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            rows = list(reader)
            header = reader.fieldnames or []
    except FileNotFoundError:
        raise EennError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise EennError(f"{path}: not a readable text CSV file ({e})") from None
    missing = [c for c in ("stream", "order", "label") if c not in header]
    if missing:
        raise EennError(f"{path}: missing column '{missing[0]}' (needs stream, order, label and the sample values)")
    values = [c for c in header if c not in ("stream", "order", "label")]
    try:
        rows.sort(key=lambda r: (int(r["stream"]), int(r["order"])))
        x = np.array([[int(r[c]) for c in values] for r in rows])
        y = np.array([int(r["label"]) for r in rows])
        ids = np.array([int(r["stream"]) for r in rows])
    except ValueError as e:
        raise EennError(f"{path}: {e}") from None
    if x.size and (x.min() < -128 or x.max() > 127):
        raise EennError(f"{path}: sample values must be int8 (-128..127)")
    return x.astype(np.int8), y, ids
