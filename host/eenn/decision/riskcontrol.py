"""Distribution-free risk control over an ordered grid of settings.

A grid runs from the most conservative setting (index 0: never exit early, risk 0) to the
most aggressive. `losses` has shape (..., n, G): n calibration units (samples, or whole
streams) by G settings, any leading axes being independent calibrations (the validity test
runs hundreds at once). Losses lie in [low, high].

Methods (Jazbec et al., "Fast yet Safe: Early-Exiting with Risk Control", NeurIPS 2024):
- empirical: the mean loss <= epsilon; no guarantee, for comparison.
- crc: conformal risk control on the monotonized loss (each unit's worst loss over this and
  every more conservative setting, so that it is monotone as CRC requires and bounds the
  real loss): (n/(n+1)) mean + high/(n+1) <= epsilon. E[risk] <= epsilon.
- ucb-hb / ucb-wsr: the Hoeffding-Bentkus or Waudby-Smith-Ramdas upper confidence bound at
  level delta < epsilon. P(risk <= epsilon) >= 1 - delta.
- ltt-hb: Learn-then-Test, Hoeffding-Bentkus p-values of "risk > epsilon", rejected at delta.
  P(risk <= epsilon) >= 1 - delta. It certifies the same settings as ucb-hb (the p-value at
  epsilon is <= delta exactly when the bound is below epsilon); the two report differently.
Every method certifies the unbroken run of settings from index 0 where its test passes
(fixed-sequence testing: valid for any loss, monotone or not, since the first setting whose
risk exceeds epsilon is a fixed one and is passed with probability at most delta). Every
setting of the run carries the guarantee, so the cheapest of them can be chosen.
Losses outside [0, 1] (a gap may be negative, a Brier score reach 2) enter the bounds mapped
affinely onto [0, 1], with epsilon mapped alike.
"""

import math
from dataclasses import dataclass

import numpy as np

from ..errors import EennError

METHODS = ("empirical", "crc", "ucb-hb", "ucb-wsr", "ltt-hb")
GUARANTEED_WITH_DELTA = ("ucb-hb", "ucb-wsr", "ltt-hb")
_BISECTIONS = 40


def _ratio(p, q):
    """p / q for the Kullback-Leibler divergence, 1 where both are 0 (its term is 0 there)."""
    return np.divide(p, q, out=np.ones_like(p), where=q > 0)


def hoeffding_bentkus_pvalue(mean, n: int, alpha):
    """p-value of H0: E[loss] > alpha for the mean of n losses in [0, 1] (Bates et al., RCPS)."""
    from scipy.special import xlogy  # scipy.stats takes half a second to load: only when calibrating
    from scipy.stats import binom

    mean, alpha = np.asarray(mean, np.float64), np.asarray(alpha, np.float64)
    a = np.minimum(mean, alpha)
    kl = xlogy(a, _ratio(a, alpha)) + xlogy(1 - a, _ratio(1 - a, 1 - alpha))
    hoeffding = np.exp(-n * kl)
    bentkus = math.e * binom.cdf(np.ceil(n * mean - 1e-9), n, alpha)
    return np.minimum(np.minimum(hoeffding, bentkus), 1.0)


def hoeffding_bentkus_bound(mean, n: int, delta: float):
    """The upper confidence bound at level delta: the largest alpha whose p-value exceeds delta."""
    low = np.asarray(mean, np.float64).copy()
    high = np.ones_like(low)
    for _ in range(_BISECTIONS):
        mid = (low + high) / 2
        above = hoeffding_bentkus_pvalue(mean, n, mid) > delta
        low, high = np.where(above, mid, low), np.where(above, high, mid)
    return high


def _wsr_log_capital(x: np.ndarray, m, delta: float) -> np.ndarray:
    """Largest log capital of the bet against H0: E[x] >= m along the sequence x (last axis,
    in [0, 1]), with Waudby-Smith and Ramdas' predictable bets; H0 falls when it reaches
    log(1/delta) (Ville's inequality)."""
    n = x.shape[-1]
    i = np.arange(1, n + 1)
    mu = (0.5 + np.cumsum(x, axis=-1)) / (1 + i)
    sigma2 = (0.25 + np.cumsum((x - mu) ** 2, axis=-1)) / (1 + i)
    previous = np.concatenate([np.full(x.shape[:-1] + (1,), 0.25), sigma2[..., :-1]], axis=-1)
    bet = np.minimum(np.sqrt(2 * math.log(1 / delta) / (n * previous)), 1.0)
    with np.errstate(divide="ignore"):
        steps = np.log(np.maximum(1 - bet * (x - np.asarray(m)[..., None]), 0.0))
    return np.cumsum(steps, axis=-1).max(axis=-1)


def wsr_rejects(x: np.ndarray, alpha, delta: float) -> np.ndarray:
    """Whether the Waudby-Smith-Ramdas bound of the sequence x (last axis) is below alpha."""
    return _wsr_log_capital(x, alpha, delta) >= math.log(1 / delta)


def wsr_bound(x: np.ndarray, delta: float) -> np.ndarray:
    """The Waudby-Smith-Ramdas upper confidence bound of E[x] at level delta (bisection)."""
    low = np.zeros(x.shape[:-1])
    high = np.ones(x.shape[:-1])
    for _ in range(_BISECTIONS):
        mid = (low + high) / 2
        rejected = wsr_rejects(x, mid, delta)
        low, high = np.where(rejected, low, mid), np.where(rejected, mid, high)
    return high


@dataclass(frozen=True)
class Calibrated:
    """certified: bool (..., G), the unbroken run from index 0 where the method's test passed.
    bound: (..., G), what the method compares with epsilon (the empirical risk, CRC's
    corrected risk, or the upper confidence bound; for ltt-hb the bound that the p-value
    inverts; None when not asked for). count: (...,), the length of the run (0: nothing,
    never exit early)."""

    certified: np.ndarray
    bound: "np.ndarray | None"
    count: np.ndarray


def check_level(name: str, value: float) -> None:
    if not (isinstance(value, (int, float)) and 0 < value < 1):
        raise EennError(f"{name} must be in (0, 1), got {value}")


def minimum_units(method: str, epsilon: float, delta: float, low: float, high: float) -> int:
    """The fewest calibration units with which the method could certify anything at all
    (every loss at its lowest value; more units only help, so doubling then halving finds it)."""
    fails, certifies = 0, 1
    while not _certifies_lowest(method, certifies, epsilon, delta, low, high):
        fails, certifies = certifies, 2 * certifies
        if certifies > 1 << 24:
            raise EennError(f"{method} cannot certify epsilon {epsilon} with delta {delta} at any sample size")
    while certifies - fails > 1:
        middle = (fails + certifies) // 2
        if _certifies_lowest(method, middle, epsilon, delta, low, high):
            certifies = middle
        else:
            fails = middle
    return certifies


def _certifies_lowest(method: str, n: int, epsilon: float, delta: float, low: float, high: float) -> bool:
    if method == "empirical":
        return low <= epsilon
    if method == "crc":
        return n / (n + 1) * low + high / (n + 1) <= epsilon
    target = (epsilon - low) / (high - low)
    if method == "ucb-wsr":
        return bool(wsr_rejects(np.zeros(n), target, delta))
    return bool(hoeffding_bentkus_pvalue(0.0, n, target) <= delta)


def calibrate(losses: np.ndarray, method: str, epsilon: float, delta: float, low: float, high: float,
              bounds: bool = True) -> Calibrated:
    """Certify settings of the grid (last axis of `losses`, shape (..., n, G)). With
    `bounds` False, the UCB methods skip the bisection for their bound (certifying needs none)."""
    if method not in METHODS:
        raise EennError(f"calibration method '{method}' is not one of {', '.join(METHODS)}")
    check_level("epsilon", epsilon)
    check_level("delta", delta)
    losses = np.asarray(losses, np.float64)
    if not np.isfinite(losses).all():
        raise EennError("the calibration losses contain NaN or infinity")
    n = losses.shape[-2]
    scaled = (losses - low) / (high - low)
    target = (epsilon - low) / (high - low)
    if method == "empirical":
        bound = losses.mean(axis=-2)
        passed = bound <= epsilon
    elif method == "crc":
        monotone = np.maximum.accumulate(losses, axis=-1)
        bound = n / (n + 1) * monotone.mean(axis=-2) + high / (n + 1)
        passed = bound <= epsilon
    elif method == "ucb-wsr":  # a run of settings with the same losses is bet on once
        flat = scaled.reshape(-1, scaled.shape[-1])
        changes = np.concatenate([[True], np.any(flat[:, 1:] != flat[:, :-1], axis=0)])
        inverse = np.cumsum(changes) - 1
        sequences = np.ascontiguousarray(np.moveaxis(scaled[..., changes], -1, -2))
        passed = wsr_rejects(sequences, target, delta)[..., inverse]
        bound = wsr_bound(sequences, delta)[..., inverse] * (high - low) + low if bounds else None
    else:  # p-values fall as alpha grows, so "bound < epsilon" and "p-value at epsilon <= delta" agree
        mean = scaled.mean(axis=-2)
        passed = hoeffding_bentkus_pvalue(mean, n, target) <= delta
        bound = hoeffding_bentkus_bound(mean, n, delta) * (high - low) + low if bounds else None
    certified = np.logical_and.accumulate(passed, axis=-1)
    return Calibrated(certified, bound, certified.sum(axis=-1))


def cheapest(certified: np.ndarray, cost: np.ndarray) -> np.ndarray:
    """Per calibration, the index of the least costly certified setting (the most conservative
    among equals); -1 where none is certified. `cost` broadcasts against `certified`."""
    masked = np.where(certified, np.broadcast_to(cost, certified.shape), np.inf)
    index = masked.argmin(axis=-1)
    return np.where(certified.any(axis=-1), index, -1)
