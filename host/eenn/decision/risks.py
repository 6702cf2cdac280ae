"""The risk of exiting early: per sample, what answering at exit e loses against the final
exit L (Jazbec et al., NeurIPS 2024). Computed from the int8 records, so it is the risk of the
device's own outputs.

- consistency (label-free): 1[class_e != class_L], in [0, 1].
- prediction-gap (labels): 1[class_e != y] - 1[class_L != y], in [-1, 1].
- brier-gap (labels): Brier(p_e, y) - Brier(p_L, y), in [-2, 2].
- brier-consistency (label-free): Brier(p_e, class_L) - Brier(p_L, class_L), in [-2, 2].
- hellinger (label-free): Hellinger distance between p_e and p_L, in [0, 1].
Brier(p, c) = sum over classes of (p_k - 1[k = c])^2. p is an exit's int8 output dequantized
and normalized to sum 1. `clip` takes max(0, loss): only the harm of exiting counts. At the
final exit every risk is 0.
"""

from dataclasses import dataclass

import numpy as np

from ..errors import EennError


@dataclass(frozen=True)
class Risk:
    name: str
    needs_labels: bool
    low: float
    high: float
    on_classes: bool  # a function of the answered class alone (so temporal answers can be scored)

    def bounds(self, clip: bool) -> tuple:
        return (max(self.low, 0.0) if clip else self.low), self.high


RISKS = {r.name: r for r in [
    Risk("consistency", False, 0.0, 1.0, True),
    Risk("prediction-gap", True, -1.0, 1.0, True),
    Risk("brier-gap", True, -2.0, 2.0, False),
    Risk("brier-consistency", False, -2.0, 2.0, False),
    Risk("hellinger", False, 0.0, 1.0, False),
]}


def get(name: str) -> Risk:
    if name not in RISKS:
        raise EennError(f"risk '{name}' is not one of {', '.join(RISKS)}")
    return RISKS[name]


def _check_labels(risk: Risk, labels: np.ndarray) -> None:
    if risk.needs_labels and np.any(labels < 0):
        raise EennError(f"risk '{risk.name}' needs labels, and these records have none; "
                        "use a label-free risk (consistency, brier-consistency, hellinger)")


def probabilities(probs: np.ndarray, quantizations: list) -> np.ndarray:
    """Float distributions (samples, exits, classes) of int8 records, one quantization per exit."""
    scale = np.array([q.scale[0] for q in quantizations])[None, :, None]
    zero = np.array([q.zero_point[0] for q in quantizations])[None, :, None]
    p = np.maximum((probs.astype(np.float64) - zero) * scale, 0.0)
    total = p.sum(axis=-1, keepdims=True)
    uniform = np.full_like(p, 1.0 / p.shape[-1])
    return np.where(total > 0, p / np.where(total > 0, total, 1.0), uniform)


def _brier(p: np.ndarray, classes: np.ndarray) -> np.ndarray:
    onehot = np.zeros_like(p)
    np.put_along_axis(onehot, classes[..., None], 1.0, axis=-1)
    return ((p - onehot) ** 2).sum(axis=-1)


def losses(risk: Risk, records, quantizations: list, clip: bool = False) -> np.ndarray:
    """Loss of answering at each exit, (samples, exits); the last column is 0."""
    if not np.issubdtype(records.probs.dtype, np.integer):
        raise EennError(f"records must hold int8 probabilities, got {records.probs.dtype}")
    _check_labels(risk, records.labels)
    classes = records.predictions  # (samples, exits)
    final = classes[:, -1:]
    if risk.name in ("consistency", "prediction-gap"):
        loss = class_losses(risk, classes, np.broadcast_to(final, classes.shape), records.labels[:, None])
    else:
        p = probabilities(records.probs, quantizations)
        if risk.name == "hellinger":
            root = np.sqrt(p)
            loss = np.minimum(np.sqrt(0.5 * ((root - root[:, -1:]) ** 2).sum(axis=-1)), 1.0)
        else:
            target = records.labels[:, None] if risk.name == "brier-gap" else final
            brier = _brier(p, np.broadcast_to(target, classes.shape))
            loss = brier - brier[:, -1:]
    return np.maximum(loss, 0.0) if clip else loss


def class_losses(risk: Risk, answers: np.ndarray, final: np.ndarray, labels: np.ndarray,
                 clip: bool = False) -> np.ndarray:
    """Loss of answering class `answers` where the final exit answers `final` (arrays that
    broadcast together); for the risks defined on classes."""
    if not risk.on_classes:
        raise EennError(f"risk '{risk.name}' compares distributions; a temporal mechanism answers a class "
                        "(use consistency or prediction-gap)")
    _check_labels(risk, np.asarray(labels))
    if risk.name == "consistency":
        loss = (answers != final).astype(np.float64)
    else:
        loss = (answers != labels).astype(np.float64) - (final != labels)
    return np.maximum(loss, 0.0) if clip else loss
