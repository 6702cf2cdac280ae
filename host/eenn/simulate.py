"""Host simulator: the int8 stages chained under the TFLM reference interpreter.

TFLM (package tflite-micro) is the oracle for the device's int8 numerics. Each sample's
records are every exit's int8 probabilities, as the firmware would compute them if it ran
every stage.
"""

import io
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import atomic
from .errors import EennError


@dataclass(frozen=True)
class Records:
    """probs: int8 (samples, exits, classes); labels: int64 (samples,), -1 where unknown."""

    probs: np.ndarray
    labels: np.ndarray

    @property
    def predictions(self) -> np.ndarray:
        """Class per sample and exit; ties go to the lowest class index, as on the device."""
        return self.probs.argmax(axis=-1)

    @property
    def num_exits(self) -> int:
        return self.probs.shape[1]

    def save(self, path: Path) -> None:
        buf = io.BytesIO()
        np.savez(buf, probs=self.probs, labels=self.labels)
        atomic.write_bytes(path, buf.getvalue())

    @classmethod
    def load(cls, path: Path) -> "Records":
        try:
            with np.load(path, allow_pickle=False) as f:
                probs, labels = f["probs"], f["labels"]
        except (OSError, KeyError, ValueError) as e:
            raise EennError(f"{path}: not a records file ({e})") from None
        if probs.dtype != np.int8 or probs.ndim != 3 or labels.shape != probs.shape[:1]:
            raise EennError(f"{path}: records must hold int8 probs (samples, exits, classes) and one label per sample")
        return cls(probs, labels.astype(np.int64))


class StageChain:
    """TFLM interpreters for the stages; stage k's int8 boundary output is stage k+1's input."""

    def __init__(self, stage_models: list):
        from tflite_micro import runtime

        if not stage_models:
            raise EennError("no stages to run")
        self._interpreters = [runtime.Interpreter.from_bytes(bytes(m)) for m in stage_models]

    def run_one(self, x: np.ndarray) -> list:
        """Exit probabilities of every stage for one int8 sample of the input's shape (batch 1)."""
        outputs, current = [], x
        last = len(self._interpreters) - 1
        for k, interp in enumerate(self._interpreters):
            interp.set_input(current, 0)
            interp.invoke()
            outputs.append(interp.get_output(0).reshape(-1).copy())
            if k < last:
                current = interp.get_output(1)
        return outputs

    def run(self, x: np.ndarray, labels=None, progress: bool = False) -> Records:
        """Run all samples of int8 `x` (samples, *input shape without batch)."""
        if x.dtype != np.int8:
            raise EennError(f"the stages take int8 input, got {x.dtype}")
        iterator = range(len(x))
        if progress:
            from tqdm import tqdm

            iterator = tqdm(iterator, desc="TFLM simulation", unit="sample", file=sys.stderr, leave=False)
        probs = np.stack([np.stack(self.run_one(x[i][None])) for i in iterator])
        labels = np.full(len(x), -1, np.int64) if labels is None else np.asarray(labels, np.int64)
        return Records(probs.astype(np.int8), labels)
