"""Exit decisions on int8 exit outputs, step by step, exactly as the firmware takes them.

`Decider` has the firmware's interface (firmware_templates/firmware/decision.c): `reset()`
starts a stream, `begin()` a sample, and `step(stage, probs)` is called after each stage
with that exit's int8 probabilities; it returns the class to answer with when the sample
leaves, else None. All arithmetic is on integers, so both sides decide alike.

Per sample (any stage k before the last; the last exit always answers its argmax):
- confidence: leave when the top probability (int8 level) is >= thresholds[k].
- margin: leave when top-1 minus top-2 (int8 levels) is >= thresholds[k].
- entropy: leave when sum over classes of ENTROPY_TABLE[q + 128] is <= thresholds[k]; the
  table holds -p ln p of each int8 level's probability p = (q + 128) / 256, in Q16.
- patience (PABEE): leave when the argmax was the same at `patience` consecutive exits.
Across samples of a stream (state kept until reset()):
- difference: at the first exit, when a reference exists and the distance (L1, or squared
  L2) between this first-exit output and the reference's is <= tau, leave with the
  reference's class. Otherwise the sample goes deeper (`deep`: "full" to the last exit,
  or "cascade": confidence with `thresholds` at exits 1..), and when it leaves, its
  first-exit output and answer become the reference.
- temporal-patience: count consecutive samples whose first-exit argmax equals the previous
  sample's; when the count is >= patience and fewer than `max_run` samples in a row have
  left early, leave at the first exit with that argmax; otherwise go deeper as above (which
  restarts the run).
Classes are argmax with ties to the lowest index, as everywhere in eenn.
"""

import math
from dataclasses import dataclass

import numpy as np

from ..errors import EennError

MECHANISMS = ("confidence", "margin", "entropy", "patience", "difference", "temporal-patience")
DEFAULT_MECHANISM = "confidence"
TEMPORAL = ("difference", "temporal-patience")
DISTANCES = ("l1", "l2")
DEEP = ("full", "cascade")
ENTROPY_FRACTION_BITS = 16
NEVER_THRESHOLD = {"confidence": 128, "margin": 256, "entropy": -1}  # no int8 output reaches these


def _entropy_table() -> np.ndarray:
    p = np.arange(1, 256) / 256.0
    h = np.floor(-p * np.log(p) * (1 << ENTROPY_FRACTION_BITS) + 0.5)
    return np.concatenate([[0], h]).astype(np.int32)  # level -128 is probability 0


ENTROPY_TABLE = _entropy_table()


@dataclass(frozen=True)
class DecisionSpec:
    """A mechanism and its integer parameters, as the firmware gets them."""

    mechanism: str = "confidence"
    thresholds: tuple = ()  # per early exit: int8 levels (confidence, margin, cascade) or Q16 entropy
    patience: int = 2
    tau: int = 0
    distance: str = "l1"
    max_run: int = 16
    deep: str = "cascade"

    @classmethod
    def from_dict(cls, d: dict) -> "DecisionSpec":
        return cls(**{**d, "thresholds": tuple(d["thresholds"])})

    def validate(self, num_stages: int) -> None:
        if self.mechanism not in MECHANISMS:
            raise EennError(f"decision mechanism '{self.mechanism}' is not one of {', '.join(MECHANISMS)}")
        needs = self.mechanism in ("confidence", "margin", "entropy") or (
            self.mechanism in TEMPORAL and self.deep == "cascade")
        if needs and len(self.thresholds) != num_stages - 1:
            raise EennError(f"{self.mechanism}: {len(self.thresholds)} thresholds for {num_stages - 1} early exits")
        if self.distance not in DISTANCES or self.deep not in DEEP:
            raise EennError(f"distance must be one of {DISTANCES} and deep one of {DEEP}")
        if self.patience < 1 or self.max_run < 0 or self.tau < 0:
            raise EennError("patience must be >= 1, max_run and tau >= 0")


def level_for_probability(p: float, scale: float, zero_point: int) -> int:
    """The smallest int8 level q with (q - zero_point) * scale >= p; 128 when none reaches p."""
    if not 0 <= p <= 1:
        raise EennError(f"threshold {p} is not a probability in [0, 1]")
    q = zero_point + math.ceil(p / scale - 1e-9)
    return int(min(max(q, -128), 128))


def argmax(probs) -> int:
    return int(np.argmax(probs))


def _top_two(probs) -> tuple:
    ordered = np.sort(np.asarray(probs, np.int32))
    return int(ordered[-1]), int(ordered[-2]) if len(ordered) > 1 else -128


def entropy_q16(probs) -> int:
    return int(ENTROPY_TABLE[np.asarray(probs, np.int32) + 128].sum())


def distance(a, b, kind: str) -> int:
    d = np.asarray(a, np.int32) - np.asarray(b, np.int32)
    return int(np.abs(d).sum()) if kind == "l1" else int((d * d).sum())


class Decider:
    def __init__(self, spec: DecisionSpec, num_stages: int):
        spec.validate(num_stages)
        self.spec, self.last = spec, num_stages - 1
        self.reset()

    def reset(self) -> None:
        self.reference, self.reference_class = None, 0
        self.previous_class, self.same_count, self.early_run = None, 0, 0
        self.begin()

    def begin(self) -> None:
        self.run_class, self.run_length, self.first_output = None, 0, None

    def _per_sample(self, stage: int, probs, mechanism: str) -> bool:
        s = self.spec
        if mechanism == "confidence":
            return int(np.max(probs)) >= s.thresholds[stage]
        if mechanism == "margin":
            top1, top2 = _top_two(probs)
            return top1 - top2 >= s.thresholds[stage]
        if mechanism == "entropy":
            return entropy_q16(probs) <= s.thresholds[stage]
        c = argmax(probs)  # patience
        self.run_length = self.run_length + 1 if c == self.run_class else 1
        self.run_class = c
        return self.run_length >= s.patience

    def _first_exit_shortcut(self, probs) -> "int | None":
        s = self.spec
        self.first_output = np.array(probs, np.int8)
        if s.mechanism == "difference":
            if self.reference is not None and distance(probs, self.reference, s.distance) <= s.tau:
                return self.reference_class
            return None
        c = argmax(probs)
        self.same_count = self.same_count + 1 if c == self.previous_class else 0
        self.previous_class = c
        if self.same_count >= s.patience and self.early_run < s.max_run:
            self.early_run += 1
            return c
        self.early_run = 0
        return None

    def step(self, stage: int, probs) -> "int | None":
        s = self.spec
        if s.mechanism not in TEMPORAL:
            if stage == self.last or self._per_sample(stage, probs, s.mechanism):
                return argmax(probs)
            return None
        if stage == 0:
            shortcut = self._first_exit_shortcut(probs)
            if shortcut is not None or self.last == 0:
                return shortcut if shortcut is not None else self._deep_answer(argmax(probs))
            return None
        if stage == self.last or (s.deep == "cascade" and self._per_sample(stage, probs, "confidence")):
            return self._deep_answer(argmax(probs))
        return None

    def _deep_answer(self, c: int) -> int:
        if self.spec.mechanism == "difference":
            self.reference, self.reference_class = self.first_output, c
        return c


def simulate(spec: DecisionSpec, probs: np.ndarray, starts=None) -> "tuple[np.ndarray, np.ndarray]":
    """(exit taken, class answered) per sample of int8 records (samples, exits, classes), in
    order: the state of a temporal mechanism carries from sample to sample, and is reset
    where `starts` (bool per sample) marks a new stream."""
    decider = Decider(spec, probs.shape[1])
    exits = np.empty(len(probs), np.int64)
    classes = np.empty(len(probs), np.int64)
    for i, sample in enumerate(probs):
        if starts is not None and starts[i]:
            decider.reset()
        decider.begin()
        for k in range(probs.shape[1]):
            answer = decider.step(k, sample[k])
            if answer is not None:
                exits[i], classes[i] = k, answer
                break
    return exits, classes


def c_definitions(spec: DecisionSpec, num_stages: int) -> dict:
    """Macro name -> C text of the constants decision.c is compiled with."""
    spec.validate(num_stages)
    flags = {f"EENN_DECISION_{m.upper().replace('-', '_')}": int(spec.mechanism == m) for m in MECHANISMS}
    thresholds = list(spec.thresholds) or [0] * (num_stages - 1)
    definitions = {**flags,
                   "EENN_DECISION_THRESHOLDS": "{ " + ", ".join(map(str, [*thresholds, 0])) + " }",
                   "EENN_DECISION_PATIENCE_COUNT": spec.patience, "EENN_DECISION_TAU": spec.tau,
                   "EENN_DECISION_DISTANCE_L1": int(spec.distance == "l1"), "EENN_DECISION_MAX_RUN": spec.max_run,
                   "EENN_DECISION_DEEP_CASCADE": int(spec.deep == "cascade")}
    if spec.mechanism == "entropy":
        definitions["EENN_DECISION_ENTROPY_TABLE"] = "{ " + ", ".join(map(str, ENTROPY_TABLE.tolist())) + " }"
    return definitions


def spec_for(config, exit_quantizations: list) -> DecisionSpec:
    """The integer DecisionSpec of a project's [decision] (threshold(s) in probability
    units, or nats for entropy; None: never exit early), for exits with the given int8
    quantizations. No mechanism named: DEFAULT_MECHANISM."""
    mechanism = config.mechanism or DEFAULT_MECHANISM
    n = len(exit_quantizations)
    values = list(config.threshold) if isinstance(config.threshold, (list, tuple)) else [config.threshold] * n
    if len(values) != n:
        raise EennError(f"{len(values)} thresholds given for {n} early exits")
    if config.threshold is None:  # not given: never exit early (until calibrated)
        thresholds = (NEVER_THRESHOLD.get(mechanism, NEVER_THRESHOLD["confidence"]),) * n
    elif mechanism == "entropy":
        thresholds = tuple(int(math.floor(v * (1 << ENTROPY_FRACTION_BITS))) for v in values)
    elif mechanism == "margin":
        thresholds = tuple(math.ceil(v / q.scale[0] - 1e-9) for v, q in zip(values, exit_quantizations))
    else:
        thresholds = tuple(level_for_probability(v, q.scale[0], q.zero_point[0])
                           for v, q in zip(values, exit_quantizations))
    spec = DecisionSpec(mechanism, thresholds, config.patience, config.tau, config.distance, config.max_run,
                        config.deep)
    spec.validate(n + 1)
    return spec


def evaluate(records, spec: DecisionSpec, cumulative_macs: list, full_macs: int, starts=None) -> dict:
    """Accuracy, exit histogram and mean MACs per inference of a mechanism on records taken
    in order (one stream, or several where `starts` says)."""
    taken, answers = simulate(spec, records.probs, starts)
    return summarize(taken, answers, records, cumulative_macs, full_macs)


def summarize(taken: np.ndarray, answers: np.ndarray, records, cumulative_macs: list, full_macs: int) -> dict:
    """Accuracy, exit histogram and mean MACs of the exits taken and classes answered."""
    macs = np.asarray(cumulative_macs, np.float64)[taken]
    result = {
        "samples": int(len(taken)),
        "exit_histogram": np.bincount(taken, minlength=records.num_exits).tolist(),
        "mean_macs": float(macs.mean()),
        "mean_macs_relative": float(macs.mean() / full_macs),
        "accuracy": None,
    }
    if np.all(records.labels >= 0):
        result["accuracy"] = float(np.mean(answers == records.labels))
    return result
