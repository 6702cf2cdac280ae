"""The confidence-threshold exit policy on int8 probabilities, and its evaluation.

A sample leaves at the first early exit whose top int8 probability is at or above that
exit's threshold (an int8 level); otherwise it runs to the final exit. The device compares
the same int8 values, so host and device decisions agree by construction.
"""

import math
from dataclasses import dataclass

import numpy as np

from .errors import EennError
from .simulate import Records


@dataclass(frozen=True)
class ConfidencePolicy:
    thresholds: tuple  # one int8 level per early exit; 128 never exits there

    def exit_taken(self, probs: np.ndarray) -> np.ndarray:
        """Exit index per sample, for int8 probs (samples, exits, classes)."""
        n_early = probs.shape[1] - 1
        if len(self.thresholds) != n_early:
            raise EennError(f"{len(self.thresholds)} thresholds for {n_early} early exits")
        top = probs.max(axis=-1).astype(np.int16)[:, :n_early]
        fires = top >= np.asarray(self.thresholds, np.int16)
        fires = np.concatenate([fires, np.ones((len(probs), 1), bool)], axis=1)
        return fires.argmax(axis=1)


def level_for_probability(p: float, scale: float, zero_point: int) -> int:
    """The smallest int8 level q with (q - zero_point) * scale >= p; 128 when none reaches p."""
    if not 0 <= p <= 1:
        raise EennError(f"threshold {p} is not a probability in [0, 1]")
    q = zero_point + math.ceil(p / scale - 1e-9)
    return int(min(max(q, -128), 128))


def thresholds_for(probability, exit_quantizations: list) -> tuple:
    """Int8 levels from one shared probability or one per early exit."""
    ps = list(probability) if isinstance(probability, (list, tuple)) else [probability] * len(exit_quantizations)
    if len(ps) != len(exit_quantizations):
        raise EennError(f"{len(ps)} thresholds given for {len(exit_quantizations)} early exits")
    return tuple(level_for_probability(p, q.scale[0], q.zero_point[0]) for p, q in zip(ps, exit_quantizations))


def evaluate(records: Records, policy: ConfidencePolicy, cumulative_macs: list, full_macs: int) -> dict:
    """Accuracy, exit histogram and mean MACs per inference of the policy on the records."""
    taken = policy.exit_taken(records.probs)
    preds = records.predictions[np.arange(len(taken)), taken]
    macs = np.asarray(cumulative_macs, np.float64)[taken]
    result = {
        "samples": int(len(taken)),
        "exit_histogram": np.bincount(taken, minlength=records.num_exits).tolist(),
        "mean_macs": float(macs.mean()),
        "mean_macs_relative": float(macs.mean() / full_macs),
        "accuracy": None,
    }
    if np.all(records.labels >= 0):
        result["accuracy"] = float(np.mean(preds == records.labels))
    return result
