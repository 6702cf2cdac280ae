"""An EENN designed automatically: where its exits go, how big their heads are and which
decision mechanism leaves them, for the lowest certified expected cost under the risk bound.

1. Every candidate exit point gets every head of HEAD_OPTIONS (a point of rank 2 only the
   dense one: a conv head needs a spatial axis) in one Keras model, and all the heads train
   together on the frozen backbone, which runs once over the training split: the heads train
   on its outputs at their points (eenn.frontend.training.fit_heads). The model is cached by
   digest, like any training.
2. It is converted to int8 once. Per head, the MACs to reach its point (the network's own ops
   it needs) and the MACs of the head itself come from the int8 graph, and TFLM runs it on the
   calibration split: every head's int8 probabilities, as the device would compute them.
3. The calibration split is halved at random (seeded). On the selection half a greedy forward
   search adds, one at a time, the head that most lowers the certified expected MACs (each
   subset's threshold certified by the project's risk control for each mechanism tried), and
   stops when no head lowers them by MIN_GAIN of the network's MACs (an exit costs flash and
   RAM, and a gain that small is within the noise of the selection half). A head whose point
   and head cost the whole network's MACs or more cannot pay and is left out. The certification
   half then certifies the chosen design's threshold in the build: it took no part in the
   choice, so the guarantee holds for the chosen design (as in Pareto Testing, which
   eenn.decision.calibration's per_exit also uses).
If no subset beats the network alone, the design has no exits.
"""

from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from .decision import calibration, mechanisms, riskcontrol, risks
from .errors import EennError
from .frontend import heads, quantize, stages, training
from .frontend.heads import HeadSpec
from .tflite import flatbuffer as fb
from .tflite.reference import Records, run_outputs
from .util import atomic, tables

HEAD_OPTIONS = (HeadSpec("dense"), HeadSpec("conv", 4), HeadSpec("conv", 8), HeadSpec("conv", 16))
# What to propose when a head is more accurate than the final exit: the rate at which leaving
# early turns a right answer wrong (prediction-gap, clipped; unclipped, its range of [-1, 1]
# makes the bounds too loose to certify at the usual sizes of a calibration split)
GAP_RISK = "prediction-gap"
MIN_GAIN = 0.01  # an exit joins when it lowers the certified cost by this share of the network's MACs at least


@dataclass(frozen=True)
class Candidate:
    """One head at one candidate point, scored on the selection half."""

    point: str
    head: HeadSpec
    reach_macs: int  # the network's own ops before the point
    head_macs: int
    accuracy: float  # int8
    agreement: float  # share of samples whose class is the final exit's

    @property
    def label(self) -> str:
        return label(self.head)


@dataclass(frozen=True)
class Design:
    candidates: tuple  # every Candidate, in network order
    chosen: tuple  # indices into candidates, in network order
    mechanism: str
    expected_macs: float  # certified, on the selection half
    full_macs: int
    selection_rows: tuple  # rows of the calibration split the choice was made on
    certification_rows: tuple  # the others: the build certifies on them alone
    final_accuracy: float  # the final exit's, on the selection half
    # with a label-free risk and a head more accurate than the final exit: the certified cost of
    # the design chosen under the prediction-gap risk instead
    gap_macs: "float | None" = None

    @property
    def exit_points(self) -> tuple:
        return tuple(self.candidates[i].point for i in self.chosen)

    @property
    def heads(self) -> tuple:
        return tuple(self.candidates[i].head for i in self.chosen)

    @property
    def pairs(self) -> list:
        """(point, head) of every candidate, as train() made them."""
        return [(c.point, c.head) for c in self.candidates]

    def as_dict(self) -> dict:
        return {"candidates": [{**asdict(c), "head": asdict(c.head)} for c in self.candidates],
                "chosen": list(self.chosen), "mechanism": self.mechanism, "expected_macs": self.expected_macs,
                "full_macs": self.full_macs, "selection_rows": list(self.selection_rows),
                "certification_rows": list(self.certification_rows), "final_accuracy": self.final_accuracy,
                "gap_macs": self.gap_macs}


def halves(count: int, seed: int) -> "tuple[np.ndarray, np.ndarray]":
    """Selection and certification rows of a calibration split of `count` samples."""
    order = np.random.default_rng(seed).permutation(count)
    return np.sort(order[: count // 2]), np.sort(order[count // 2:])


def pair_index(pairs: list, point: str, head: HeadSpec) -> int:
    """Where a named exit's head is among the candidate heads, or a refusal naming the options."""
    if (point, head) not in pairs:
        offered = ", ".join(sorted({label(h) for p, h in pairs if p == point}))
        raise EennError(f"training.mode candidates trains the heads {offered} at exit point '{point}', not "
                        f"{label(head)}; name one of them (model.head, model.head_width) or use training.mode heads")
    return pairs.index((point, head))


def scores_file(model_path: Path) -> Path:
    """Where scores() keeps what it measured of the all-heads model at `model_path`."""
    return Path(model_path).with_suffix(".scores.npz")


def label(head: HeadSpec) -> str:
    """A head as a search or a table names it: dense, conv4, conv8, ..."""
    return head.family if head.family == "dense" else f"conv{head.width}"


def check_calibration(settings, mechanism_names, calib_samples: int) -> None:
    """Refuse, before any training, a calibration split too small to halve: each half must hold
    the samples the method needs to certify epsilon (a per-exit path halves it once more)."""
    for name in mechanism_names:
        settings.validate(name)
    if any(name in mechanisms.TEMPORAL for name in mechanism_names):
        return  # streams drawn from each half, as many as configured
    low, high = risks.get(settings.risk).bounds(settings.clip)
    needed = riskcontrol.minimum_units(settings.method, settings.epsilon, settings.delta, low, high)
    share = 4 if settings.per_exit else 2
    if calib_samples // share < needed:
        raise EennError(f"{calib_samples} calibration samples are too few to choose the exits automatically: "
                        f"{settings.method} needs {needed} to certify epsilon {settings.epsilon} with delta "
                        f"{settings.delta}, in each of {share} parts; give more data (or a larger "
                        "data.calib_fraction), or name the exits")


def candidate_pairs(entry, num_classes: int, backbone=None) -> list:
    """(point, head) of every candidate head, in network order, the options of a point in
    HEAD_OPTIONS' order (a point of rank 2 gets the dense head alone)."""
    backbone = backbone or entry.build(entry.input_shape, num_classes, None)
    return [(p, h) for p in entry.exit_points for h in HEAD_OPTIONS
            if h.family == "dense" or len(backbone.get_layer(p).output.shape) > 2]


def train(entry, split, cfg, seed: int, cache_dir, progress: bool = True):
    """Every candidate head trained on the frozen (trained) backbone, in one model: (model,
    its (point, head) pairs, the cache file)."""
    import keras

    cfg = replace(cfg.resolved(entry.pretrained), mode="candidates")
    points = entry.exit_points
    key = training.cache_key(entry.name, ["every candidate", *points], HEAD_OPTIONS, cfg, seed, split)
    path = Path(cache_dir) / f"{key}.keras"
    backbone = entry.build(entry.input_shape, split.num_classes, None)
    pairs = candidate_pairs(entry, split.num_classes, backbone)
    if path.exists():
        return keras.models.load_model(path, compile=False), pairs, path
    if not entry.pretrained:  # a zoo backbone: trained alone first (cached)
        trained, _ = training.train_cached(entry, split, (), HeadSpec(), replace(cfg, mode="joint"), seed, cache_dir,
                                           progress)
        training.copy_weights(trained, backbone, {})
    keras.utils.set_random_seed(seed)
    model = heads.attach_all(backbone, pairs, split.num_classes, entry.final_softmax)
    training.fit_heads(model, split, cfg, seed + 1, progress)
    training.save(model, path)
    return model, pairs, path


def scores(entry, model, pairs, split, cache: Path, progress: bool) -> "tuple[Records, list, list]":
    """Every head's int8 records on the calibration split, the MACs per exit (reach, head) and
    the output quantizations, from one int8 conversion of the all-heads model; kept in `cache`
    (beside the all-heads model, whose digest names both, for the same calibration split)."""
    if cache.exists():
        with np.load(cache, allow_pickle=False) as f:
            if str(f["calib"]) == split.calib.digest():
                quantizations = [fb.Quantization((float(s),), (int(z),)) for s, z in zip(f["scales"], f["zero_points"])]
                return Records(f["probs"], f["labels"]), [tuple(m) for m in f["macs"].tolist()], quantizations
    batch1 = heads.attach_all(entry.build(entry.input_shape, split.num_classes, 1), pairs, split.num_classes,
                              entry.final_softmax)
    whole = quantize.to_int8_tflite(model, batch1, split.train.x)
    num_exits = len(pairs) + 1
    positions = stages.exit_positions(whole, num_exits)
    graph = fb.read(whole)
    sg = graph.subgraphs[0]
    quantizations = [fb.quantization(sg.tensors[sg.outputs[p]]) for p in positions]
    in_q = fb.quantization(sg.tensors[sg.inputs[0]])
    x = quantize.quantize_input(split.calib.x, in_q.scale[0], in_q.zero_point[0])
    records = run_outputs(whole, x, positions, split.calib.y, progress)
    macs = stages.exit_macs(whole, num_exits)
    with atomic.replaced_file(cache) as tmp:
        np.savez(tmp, calib=split.calib.digest(), probs=records.probs, labels=records.labels,
                 macs=np.array(macs, np.int64),
                 scales=[q.scale[0] for q in quantizations], zero_points=[q.zero_point[0] for q in quantizations])
    return Records(records.probs, records.labels), macs, quantizations


@dataclass(frozen=True)
class _Scored:
    """The heads of the selection half, and how to certify a subset of them."""

    records: Records  # every head's outputs, then the final exit's
    quantizations: list
    reach: np.ndarray
    head: np.ndarray
    full_macs: int
    settings: object
    decision: object  # the project's [decision]: the mechanism's other parameters
    seed: int

    def cost(self, subset: tuple, mechanism: str) -> float:
        """Certified expected MACs of the EENN with these heads (indices, network order)."""
        columns = [*subset, self.records.num_exits - 1]
        recs = Records(self.records.probs[:, columns], self.records.labels)
        head_sum = np.cumsum(self.head[list(subset)])
        cumulative = [*(self.reach[list(subset)] + head_sum), self.full_macs + head_sum[-1]]
        quantizations = [self.quantizations[c] for c in columns]
        base = mechanisms.spec_for(replace(self.decision, mechanism=mechanism, threshold=None), quantizations[:-1])
        cal = calibration.calibrate(self.settings, base, recs, recs, quantizations, cumulative, self.full_macs,
                                    self.seed, warn=lambda *_: None, bounds=False)
        return float(cal.cost[cal.chosen]) if cal.chosen >= 0 else float(cumulative[-1])


def choose(entry, split, cfg, decision, settings, mechanism_names, seed: int, cache_dir, progress: bool = True,
           log=print) -> "tuple[Design, object, object]":
    """The design with the lowest certified expected MACs on the selection half: (design, the
    all-heads model, its cache file). Design.candidates are in the order of train()'s pairs."""
    model, pairs, path = train(entry, split, cfg, seed, cache_dir, progress)
    log(f"design: {len(pairs)} heads at {len(entry.exit_points)} candidate points trained together; "
        "scoring them in TFLM")
    records, macs, quantizations = scores(entry, model, pairs, split, scores_file(path), progress)
    selection, certification = halves(len(records), seed)
    chosen_records = Records(records.probs[selection], records.labels[selection])
    full_macs = macs[-1][0]
    predictions = chosen_records.predictions
    candidates = tuple(Candidate(p, h, macs[k][0], macs[k][1],
                                 float(np.mean(predictions[:, k] == chosen_records.labels)),
                                 float(np.mean(predictions[:, k] == predictions[:, -1])))
                       for k, (p, h) in enumerate(pairs))
    scored = _Scored(chosen_records, quantizations, np.array([c.reach_macs for c in candidates]),
                     np.array([c.head_macs for c in candidates]), full_macs, settings, decision, seed)
    subset, mechanism, cost = _greedy(candidates, scored, mechanism_names, entry.exit_points)
    final_accuracy = float(np.mean(predictions[:, -1] == chosen_records.labels))
    gap_macs = None
    if not risks.get(settings.risk).needs_labels and max(c.accuracy for c in candidates) > final_accuracy:
        gap = replace(scored, settings=replace(settings, risk=GAP_RISK, clip=True))
        gap_macs = _greedy(candidates, gap, mechanism_names, entry.exit_points)[2]
    design = Design(candidates, subset, mechanism, cost, full_macs, tuple(int(r) for r in selection),
                    tuple(int(r) for r in certification), final_accuracy, gap_macs)
    return design, model, path


def _greedy(candidates: tuple, scored: _Scored, mechanism_names, points: tuple) -> "tuple[tuple, str, float]":
    """Add the head that lowers the certified cost most, until none does."""
    payable = [k for k, c in enumerate(candidates) if c.reach_macs + c.head_macs < scored.full_macs]
    order = {p: i for i, p in enumerate(points)}
    subset, mechanism, cost = (), mechanism_names[0], float(scored.full_macs)
    while True:
        taken = {candidates[k].point for k in subset}
        trials = [(scored.cost(s, m), s, m)
                  for k in payable if candidates[k].point not in taken
                  for s in [tuple(sorted((*subset, k), key=lambda i: order[candidates[i].point]))]
                  for m in mechanism_names]
        if not trials:
            return subset, mechanism, cost
        best_cost, best_subset, best_mechanism = min(trials, key=lambda t: t[0])
        if best_cost > cost - MIN_GAIN * scored.full_macs:
            return subset, mechanism, cost
        subset, mechanism, cost = best_subset, best_mechanism, best_cost


def assemble(entry, model, pairs: list, chosen: list, num_classes: int):
    """The EENN of the heads `chosen` (indices into `pairs`, network order) as a Keras model,
    with the all-heads model's weights (no retraining)."""
    eenn = training.build_eenn(entry, [pairs[k][0] for k in chosen], tuple(pairs[k][1] for k in chosen), num_classes)
    renamed = {}
    for j, k in enumerate(chosen):
        renamed.update(zip(heads.layers_of(j), heads.layers_of(k)))
    training.copy_weights(model, eenn, renamed)
    return eenn


def table(design: Design) -> str:
    """The candidates: cost, accuracy and agreement on the selection half, chosen or not."""
    full = design.full_macs
    rows = []
    for k, c in enumerate(design.candidates):
        pays = c.reach_macs + c.head_macs < full
        status = f"exit {design.chosen.index(k)}" if k in design.chosen else ("" if pays else "cannot pay")
        rows.append([c.point, c.label, f"{c.reach_macs:,}", f"{c.head_macs:,}",
                     f"{100 * (c.reach_macs + c.head_macs) / full:.1f}%", f"{100 * c.accuracy:.1f}%",
                     f"{100 * c.agreement:.1f}%", status])
    return tables.table(["point", "head", "MACs to reach", "head MACs", "of full", "accuracy", "= final", "chosen"],
                        rows)


def reason(design: Design, settings) -> str:
    """Why this design, in a sentence."""
    n = len(design.selection_rows)
    bound = f"{settings.risk} risk <= {settings.epsilon} ({settings.method}, delta {settings.delta})"
    if not design.chosen:
        return (f"no exits: on the {n} selection samples, no subset of the heads that can pay brings the certified "
                f"expected cost under the network's own {design.full_macs:,} MACs at {bound}")
    chosen = ", ".join(f"{design.candidates[k].point} ({design.candidates[k].label})" for k in design.chosen)
    return (f"chosen: {chosen} with {design.mechanism}: certified expected cost {design.expected_macs:,.0f} MACs "
            f"({100 * design.expected_macs / design.full_macs:.1f}% of the network) on the {n} selection samples at "
            f"{bound}; no other head lowers it by {100 * MIN_GAIN:g}% of the network's MACs")
