"""Exit thresholds chosen with risk control, on the int8 records the device computes.

A mechanism's parameter is scanned over a grid ordered from "never exit early" to the most
aggressive setting, and eenn.decision.riskcontrol certifies the settings whose risk of exiting early
(eenn.decision.risks) stays below epsilon; the cheapest certified setting (fewest mean MACs on the
calibration split) is chosen. Grids:
- confidence, margin, entropy, one threshold shared by every early exit: every integer the
  firmware compares (int8 levels 128..-128; margins 256..0), and for entropy 257 steps of
  Q16 nats from 0 to the largest sum the table allows (classes / e), after -1 (never);
- the same, a threshold per exit (`per_exit`): a path of threshold vectors found on one half
  of the calibration split (from all-never, each step lowers one exit's threshold to the next
  score seen there, the exit whose step adds the least risk per MAC saved), then tested on the
  other half: fixed-sequence testing along a path chosen without the testing half keeps the
  guarantee (Pareto Testing, Laufer-Goldshtein et al., ICLR 2023);
- patience (PABEE): patience from the number of exits (never) down to 1;
- difference (tau) and temporal-patience (patience): calibrated over independent streams as
  units, each stream's loss its mean over its steps; the streams are scenes drawn from the
  calibration split (eenn.decision.streams.scenes), so the guarantee is for streams of that kind.
Nothing certified: the answer is never exit early (every threshold 128), with a warning.
"""

from dataclasses import dataclass, replace

import numpy as np

from ..errors import EennError, check_range
from ..limits import MAX_STREAM_STEPS
from ..tflite.reference import Records
from ..util import plots
from . import mechanisms, riskcontrol, risks, streams
from .mechanisms import ENTROPY_FRACTION_BITS, TEMPORAL, DecisionSpec

THRESHOLD_MECHANISMS = ("confidence", "margin", "entropy")
NO_CALIBRATION = "none"  # [calibration] method: the [decision] parameters as given
_DIFFERENCE_TAUS = (0, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512)
_TEMPORAL_PATIENCES = (64, 32, 16, 12, 8, 6, 5, 4, 3, 2, 1)


@dataclass(frozen=True)
class CalibrationConfig:
    """What to certify: the mechanism's parameter, for which risk, by which method."""

    method: str = "ucb-hb"
    risk: str = "consistency"
    epsilon: float = 0.05
    delta: float = 0.1
    clip: bool = False
    per_exit: bool = False
    streams: int = 100  # temporal mechanisms: calibration (and test) streams ...
    stream_steps: int = 40  # ... of this many steps
    headroom: float = 0.0  # 0: the cheapest certified setting; 1: the most conservative; between: by grid index

    def validate(self, mechanism: str) -> "CalibrationConfig":
        risk = risks.get(self.risk)
        if self.method not in riskcontrol.METHODS:
            raise EennError(f"calibration method '{self.method}' is not one of {', '.join(riskcontrol.METHODS)}")
        if mechanism in TEMPORAL and not risk.on_classes:
            raise EennError(f"risk '{self.risk}' compares distributions, and {mechanism} may answer a remembered "
                            "class; use consistency or prediction-gap")
        riskcontrol.check_level("epsilon", self.epsilon)
        riskcontrol.check_level("delta", self.delta)
        if self.per_exit and mechanism not in THRESHOLD_MECHANISMS:
            raise EennError(f"thresholds per exit apply to {', '.join(THRESHOLD_MECHANISMS)}, not {mechanism}")
        if not 0 <= self.headroom <= 1:
            raise EennError(f"calibration headroom must be in [0, 1], got {self.headroom}")
        if mechanism in TEMPORAL:
            check_range("calibration.streams", self.streams, 1, MAX_STREAM_STEPS)
            check_range("calibration.stream_steps", self.stream_steps, 1, MAX_STREAM_STEPS)
        return self


def never_early(num_exits: int) -> DecisionSpec:
    return DecisionSpec("confidence", (mechanisms.NEVER_THRESHOLD["confidence"],) * (num_exits - 1))


@dataclass(frozen=True)
class Grid:
    """Settings from never exiting early (index 0) to the most aggressive, with a label each."""

    specs: list
    labels: list
    values: np.ndarray  # a number per setting, for plots


def _threshold_values(mechanism: str, num_classes: int) -> np.ndarray:
    never = mechanisms.NEVER_THRESHOLD[mechanism]
    if mechanism == "confidence":
        return np.arange(never, -129, -1)
    if mechanism == "margin":
        return np.arange(never, -1, -1)
    top = num_classes * int(mechanisms.ENTROPY_TABLE.max())  # no output's entropy sum exceeds it
    return np.concatenate([[never], np.ceil(np.arange(257) / 256 * top)]).astype(np.int64)


def _display(mechanism: str, threshold: int, quantization) -> float:
    """A firmware threshold in the units the project file uses."""
    if mechanism == "confidence":
        return (threshold - quantization.zero_point[0]) * quantization.scale[0]
    if mechanism == "margin":
        return threshold * quantization.scale[0]
    return threshold / (1 << ENTROPY_FRACTION_BITS)


def _label(mechanism: str, threshold: int, quantization) -> str:
    if threshold == mechanisms.NEVER_THRESHOLD[mechanism]:
        return "never"
    return f"{_display(mechanism, threshold, quantization):.4g}"


def grid(mechanism: str, base: DecisionSpec, num_exits: int, num_classes: int, quantization) -> Grid:
    """The shared-parameter grid of a mechanism; `base` gives its other parameters."""
    if mechanism in THRESHOLD_MECHANISMS:
        values = _threshold_values(mechanism, num_classes)
        specs = [replace(base, mechanism=mechanism, thresholds=(int(t),) * (num_exits - 1)) for t in values]
        shown = [_display(mechanism, int(t), quantization) for t in values]
        labels = [f"{_label(mechanism, int(t), quantization)} ({int(t)})" for t in values]
        return Grid(specs, labels, np.array(shown))
    thresholds = base.thresholds if len(base.thresholds) == num_exits - 1 else never_early(num_exits).thresholds
    parameter, values = {"patience": ("patience", range(num_exits - 1, 0, -1)),
                         "difference": ("tau", _DIFFERENCE_TAUS if base.distance == "l1"
                                        else tuple(t * t for t in _DIFFERENCE_TAUS)),
                         "temporal-patience": ("patience", _TEMPORAL_PATIENCES)}[mechanism]
    specs = [never_early(num_exits)] + [replace(base, mechanism=mechanism, thresholds=thresholds, **{parameter: v})
                                        for v in values]
    return Grid(specs, ["never"] + [f"{parameter}={v}" for v in values],
                np.array([np.nan, *values], np.float64))


def scores(mechanism: str, probs: np.ndarray) -> np.ndarray:
    """Per sample and early exit, an integer that fires the exit when >= the exit's cut."""
    early = probs[:, :-1].astype(np.int32)
    if mechanism == "confidence":
        return early.max(axis=-1)
    if mechanism == "margin":
        top = np.sort(early, axis=-1)
        return top[..., -1] - top[..., -2]
    return -mechanisms.ENTROPY_TABLE[early + 128].sum(axis=-1)


def cuts(spec: DecisionSpec) -> np.ndarray:
    t = np.asarray(spec.thresholds, np.int64)
    return -t if spec.mechanism == "entropy" else t


def outcomes(specs: list, probs: np.ndarray, starts=None) -> "tuple[np.ndarray, np.ndarray]":
    """Exit taken and class answered, (samples, settings), exactly as mechanisms.simulate (and
    the firmware) decide; vectorized over settings for the threshold mechanisms."""
    kinds = {s.mechanism for s in specs}
    if len(kinds) == 1 and kinds <= set(THRESHOLD_MECHANISMS):
        fires = scores(specs[0].mechanism, probs)[:, None, :] >= np.stack([cuts(s) for s in specs])[None]
        fires = np.concatenate([fires, np.ones(fires.shape[:2] + (1,), bool)], axis=-1)
        exits = fires.argmax(axis=-1)
        return exits, np.take_along_axis(probs.argmax(axis=-1), exits, axis=1)
    results = [mechanisms.simulate(s, probs, starts) for s in specs]
    return np.stack([r[0] for r in results], axis=1), np.stack([r[1] for r in results], axis=1)


def _per_exit_path(mechanism: str, base: DecisionSpec, probs: np.ndarray, exit_losses: np.ndarray,
                   cumulative_macs: np.ndarray) -> list:
    """Threshold vectors from all-never onwards, each step the one adding the least risk per
    MAC saved on these samples (see the module's docstring)."""
    score = scores(mechanism, probs)
    early = score.shape[1]
    cut = cuts(replace(base, mechanism=mechanism, thresholds=(mechanisms.NEVER_THRESHOLD[mechanism],) * early))
    levels = [np.unique(score[:, k])[::-1] for k in range(early)]  # the cuts each exit steps through
    step = [0] * early
    taken = np.full(len(score), early)
    path = [cut.copy()]
    while True:
        best = None
        for k in range(early):
            if step[k] == len(levels[k]):
                continue
            moved = np.flatnonzero((score[:, k] == levels[k][step[k]]) & (taken > k))
            added = (exit_losses[moved, k] - exit_losses[moved, taken[moved]]).sum()
            saved = (cumulative_macs[taken[moved]] - cumulative_macs[k]).sum()
            key = (added / max(saved, 1e-9) if added else 0.0, -saved)  # then the larger saving
            if best is None or key < best[0]:
                best = (key, k, moved)
        if best is None:
            break
        _, k, moved = best
        taken[moved] = k
        cut[k] = levels[k][step[k]]
        step[k] += 1
        path.append(cut.copy())
    return [replace(base, mechanism=mechanism, thresholds=tuple(int(v) for v in (-c if mechanism == "entropy" else c)))
            for c in path]


@dataclass(frozen=True)
class Calibration:
    settings: CalibrationConfig
    mechanism: str
    grid: Grid
    units: int  # calibration units the guarantee rests on (samples, or streams)
    unit_kind: str
    risk: np.ndarray  # empirical calibration risk per setting
    bound: "np.ndarray | None"  # the method's bound per setting; None when not asked for
    certified: np.ndarray
    cost: np.ndarray  # mean MACs per inference on the calibration split, per setting
    chosen: int  # index into the grid; -1: nothing certified
    spec: DecisionSpec
    test_risk: float
    test_curve: np.ndarray  # test risk per setting
    test: dict  # decisions.summarize of the chosen setting on the test split (or test streams)
    full_macs: int

    @property
    def certified_bound(self) -> "float | None":
        return None if self.chosen < 0 else float(self.bound[self.chosen])

    @property
    def macs_saved(self) -> float:
        return self.full_macs - self.test["mean_macs"]


def unit_means(values: np.ndarray, starts: "np.ndarray | None") -> np.ndarray:
    """Means of per-sample `values` (samples, settings) per calibration unit: a sample, or a
    stream where `starts` marks stream starts."""
    if starts is None:
        return values
    ids = np.cumsum(starts) - 1
    counts = np.bincount(ids)
    return np.stack([np.bincount(ids, weights=column) / counts for column in values.T], axis=1)


def _stream_records(records: Records, settings: CalibrationConfig, seed: int) -> "tuple[Records, np.ndarray]":
    rng = np.random.default_rng(seed)
    order = np.concatenate([streams.scenes(records.labels, settings.stream_steps, rng)
                            for _ in range(settings.streams)])
    starts = np.zeros(len(order), bool)
    starts[::settings.stream_steps] = True
    return Records(records.probs[order], records.labels[order]), starts


def setting_losses(specs: list, risk: risks.Risk, clip: bool, records: Records, quantizations: list,
                   starts=None) -> "tuple[np.ndarray, np.ndarray]":
    """Loss per unit (sample, or stream where `starts` marks stream starts) and setting, and
    the exit each sample takes per setting."""
    exits, answers = outcomes(specs, records.probs, starts)
    if risk.on_classes:
        step = risks.class_losses(risk, answers, records.predictions[:, -1:], records.labels[:, None], clip)
    else:
        step = np.take_along_axis(risks.losses(risk, records, quantizations, clip), exits, axis=1)
    return unit_means(step, starts), exits


def _per_exit_grid(base: DecisionSpec, calib: Records, risk: risks.Risk, clip: bool, quantizations: list,
                   macs: np.ndarray, seed: int) -> "tuple[Grid, Records]":
    """The path of threshold vectors found on a random half of `calib`, and the other half."""
    order = np.random.default_rng(seed).permutation(len(calib))
    path_part, testing_part = (Records(calib.probs[rows], calib.labels[rows])
                               for rows in (order[: len(order) // 2], order[len(order) // 2:]))
    specs = _per_exit_path(base.mechanism, base, path_part.probs,
                           risks.losses(risk, path_part, quantizations, clip), macs)
    labels = [", ".join(_label(base.mechanism, t, q) for t, q in zip(s.thresholds, quantizations)) for s in specs]
    return Grid(specs, labels, np.arange(len(specs), dtype=np.float64)), testing_part


def calibrate(settings: CalibrationConfig, base: DecisionSpec, calib: Records, test: Records, quantizations: list,
              cumulative_macs: list, full_macs: int, seed: int = 0, warn=print, bounds: bool = True) -> Calibration:
    """Certify `base.mechanism`'s parameter on `calib` and report it on `test`. `quantizations`:
    every exit's output quantization (the last one included). With `bounds` False, the UCB
    methods skip computing their bound (Calibration.bound None): certifying does without it."""
    mechanism = base.mechanism
    settings.validate(mechanism)
    risk = risks.get(settings.risk)
    low, high = risk.bounds(settings.clip)
    num_exits = calib.num_exits
    macs = np.asarray(cumulative_macs, np.float64)
    calib_starts = test_starts = None
    if mechanism in TEMPORAL:
        calib, calib_starts = _stream_records(calib, settings, seed)
        test, test_starts = _stream_records(test, settings, seed + 1)
    if settings.per_exit:
        settings_grid, testing = _per_exit_grid(base, calib, risk, settings.clip, quantizations, macs, seed)
    else:
        settings_grid, testing = grid(mechanism, base, num_exits, calib.probs.shape[-1], quantizations[0]), calib
    units = len(testing) if calib_starts is None else settings.streams
    needed = riskcontrol.minimum_units(settings.method, settings.epsilon, settings.delta, low, high)
    if units < needed:
        kind = "streams" if calib_starts is not None else "samples"
        raise EennError(f"{units} calibration {kind} are too few for {settings.method} to certify epsilon "
                        f"{settings.epsilon} with delta {settings.delta}; it needs at least {needed}")

    unit, exits = setting_losses(settings_grid.specs, risk, settings.clip, testing, quantizations, calib_starts)
    result = riskcontrol.calibrate(unit, settings.method, settings.epsilon, settings.delta, low, high, bounds)
    full_exits = outcomes(settings_grid.specs, calib.probs, calib_starts)[0] if settings.per_exit else exits
    cost = macs[full_exits].mean(axis=0)
    chosen = int(riskcontrol.cheapest(result.certified, cost))
    if chosen > 0:  # every setting before the cheapest is certified too: the run starts at 0
        chosen = int(round(chosen * (1 - settings.headroom)))
    if chosen < 0:
        warn(f"warning: no setting of {mechanism} keeps the {settings.risk} risk below {settings.epsilon} "
             f"({settings.method}, delta {settings.delta}, {units} units); the firmware will never exit early")
    spec = settings_grid.specs[chosen] if chosen >= 0 else never_early(num_exits)

    test_losses, _ = setting_losses(settings_grid.specs, risk, settings.clip, test, quantizations, test_starts)
    test_curve = test_losses.mean(axis=0)
    taken, answers = outcomes([spec], test.probs, test_starts)
    evaluation = mechanisms.summarize(taken[:, 0], answers[:, 0], test, cumulative_macs, full_macs)
    return Calibration(settings, mechanism, settings_grid, units, "streams" if calib_starts is not None else "samples",
                       unit.mean(axis=0), result.bound, result.certified, cost, chosen, spec,
                       float(test_curve[max(chosen, 0)]), test_curve, evaluation, full_macs)


def summary(cal: Calibration) -> dict:
    """What the manifest keeps of a calibration (JSON)."""
    s = cal.settings
    return {
        "method": s.method, "risk": s.risk, "clip": s.clip, "epsilon": s.epsilon, "delta": s.delta,
        "per_exit": s.per_exit, "headroom": s.headroom, "mechanism": cal.mechanism, "units": cal.units,
        "unit_kind": cal.unit_kind,
        "settings_certified": int(cal.certified.sum()), "settings": len(cal.grid.specs),
        "setting": cal.grid.labels[cal.chosen] if cal.chosen >= 0 else "never exit early",
        "calibration_risk": float(cal.risk[max(cal.chosen, 0)]), "certified_bound": cal.certified_bound,
        "test_risk": cal.test_risk, "test": cal.test, "full_model_macs": cal.full_macs,
        "macs_saved": cal.macs_saved,
    }


def plot(cal: Calibration, title: str, path) -> None:
    """Calibration risk, the method's bound and the test risk per setting, against epsilon;
    mean MACs on the right axis."""
    shown = np.isfinite(cal.grid.values)
    x = cal.grid.values[shown]
    fig, ax = plots.figure(7.5, 4.5)
    ax.plot(x, 100 * cal.risk[shown], label="calibration risk")
    if cal.bound is not None:
        ax.plot(x, 100 * cal.bound[shown], label=f"{cal.settings.method} bound")
    ax.plot(x, 100 * cal.test_curve[shown], label="test risk", alpha=0.7)
    ax.axhline(100 * cal.settings.epsilon, color="k", linestyle="--", linewidth=1, label="epsilon")
    if cal.chosen >= 0 and shown[cal.chosen]:
        ax.axvline(cal.grid.values[cal.chosen], color="r", linewidth=1, label=f"chosen: {cal.grid.labels[cal.chosen]}")
    ax.set_ylim(bottom=min(0.0, 100 * float(np.nanmin(cal.risk))), top=max(4 * 100 * cal.settings.epsilon, 1.0))
    cost = ax.twinx()
    cost.plot(x, 100 * cal.cost[shown] / cal.full_macs, color="gray", linestyle=":", label="mean MACs")
    cost.set_ylabel("mean MACs (% of the full network)")
    axis = {"confidence": "confidence threshold (probability)", "margin": "margin threshold (probability)",
            "entropy": "entropy threshold (nats)"}.get(cal.mechanism, f"{cal.mechanism} parameter")
    plots.save(fig, ax, path, title, "path step (a threshold per exit)" if cal.settings.per_exit else axis,
               f"{cal.settings.risk} risk (%)", loc="upper left", fontsize=8)
