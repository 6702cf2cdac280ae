"""Seeded exit outputs with a known structure, for tests that need an EENN's records but must
not depend on what one machine's training produced.

Each sample has a difficulty d, uniform in [0, 1). The last exit answers the label unless the
sample is among the hardest (d >= FINAL_CORRECT). Early exit k answers as the last exit where
d < AGREEMENT[k] and another class elsewhere, and its top probability falls with d (plus
noise), the rest spread evenly over the other classes: a confident early answer is a
consistent one, so thresholds that keep a small risk exist, and samples of one class that are
easy have close outputs (what Difference Detection reuses).
"""

import numpy as np

from eenn.tflite.flatbuffer import Quantization
from eenn.tflite.reference import Records

SOFTMAX = Quantization((1 / 256,), (-128,))  # TFLite's int8 softmax output
FINAL_CORRECT = 0.97
AGREEMENT = (0.7, 0.9)  # early exits 0 and 1
CUMULATIVE_MACS = (20_000, 60_000, 100_000)  # to reach exits 0, 1, 2
FULL_MACS = 90_000  # the network without its early exits


def records(samples: int = 720, classes: int = 10, seed: int = 0) -> Records:
    """int8 probabilities (samples, 3 exits, classes) and labels."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, samples)
    difficulty = rng.random(samples)
    final = np.where(difficulty < FINAL_CORRECT, labels, _other(labels, classes, rng))
    answers = [np.where(difficulty < a, final, _other(final, classes, rng)) for a in AGREEMENT] + [final]
    tops = [np.clip(1 - 0.8 * difficulty + rng.normal(0, 0.04, samples), 1.5 / classes, 1) for _ in AGREEMENT]
    tops.append(np.clip(1 - 0.3 * difficulty, 1.5 / classes, 1))
    probs = np.empty((samples, len(answers), classes))
    for k, (answer, top) in enumerate(zip(answers, tops)):
        probs[:, k] = ((1 - top) / (classes - 1))[:, None]
        probs[np.arange(samples), k, answer] = top
    q = np.clip(np.round(probs / SOFTMAX.scale[0]) + SOFTMAX.zero_point[0], -128, 127).astype(np.int8)
    return Records(q, labels)


def _other(classes_of: np.ndarray, classes: int, rng) -> np.ndarray:
    """A class other than each of `classes_of`, uniformly."""
    return (classes_of + rng.integers(1, classes, len(classes_of))) % classes
