"""`eenn build`: data -> trained EENN -> one int8 flatbuffer -> stages -> records -> manifest.

Everything lands in `generated/<name>/` at once: the directory is assembled beside it and
renamed into place, so a failure leaves the previous build (or nothing) behind.
"""

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from . import artifact, design
from .codegen import emit, features, memory
from .decision import calibration, mechanisms, risks
from .decision.mechanisms import DEFAULT_MECHANISM
from .errors import EennError
from .frontend import data, heads, quantize, stages, training
from .project import Project
from .report import build_table, calibration_lines, codegen_table
from .tflite.reference import Records, StageChain, check_prepares, tflm_arena_bytes
from .util import atomic

REPORT = "report.txt"
STAGE_TABLE = "stages.txt"
MEMORY_PLOT = "memory.png"
UNTRAINED_SAMPLES = 100


@dataclass(frozen=True)
class BuildResult:
    build: artifact.Build
    report: str

    @property
    def directory(self) -> Path:
        return self.build.directory


def _versions() -> dict:
    from importlib.metadata import version

    return {p: version(p) for p in ("eenn", "tensorflow-cpu", "tflite-micro")}


def load_split(project: Project, entry) -> "tuple[data.Split, bool]":
    """The data split, and whether the model is trained on it (False: seeded random data)."""
    source = project.data.source or entry.dataset
    if source is None and entry.pretrained:
        raise EennError(f"model '{entry.name}' is a trained model file: its exit heads train on data; "
                        "give a dataset ([data] source, or --dataset)")
    if source is None:
        rng = np.random.default_rng(project.seed)
        x = rng.random((UNTRAINED_SAMPLES, *entry.input_shape), dtype=np.float32)
        y = np.arange(UNTRAINED_SAMPLES) % entry.num_classes
        return data.split(data.Dataset("random (untrained)", x, y, entry.num_classes), project.seed), False
    options = {}
    if source.endswith(".csv"):
        options = {"label_column": project.data.label_column, "sample_shape": project.data.sample_shape}
    loaded = data.load(source, **options)
    split = data.split(loaded, project.seed, project.data.calib_fraction, project.data.test_fraction)
    if entry.pretrained and split.sample_shape != entry.input_shape:
        raise EennError(f"dataset '{source}' has samples of shape {split.sample_shape}; model '{entry.name}' "
                        f"takes samples of shape {entry.input_shape}")
    if len(split.sample_shape) != len(entry.input_shape):
        raise EennError(f"dataset '{source}' has samples of shape {split.sample_shape}; model '{entry.name}' "
                        f"takes rank-{len(entry.input_shape)} samples like {entry.input_shape}")
    return split, True


def _match_rate(predictions: np.ndarray, reference: np.ndarray) -> list:
    """Per exit (rows of `predictions`), the share of samples equal to `reference`."""
    return [float(np.mean(p == reference)) for p in predictions]


@dataclass(frozen=True)
class _Quantized:
    """A trained Keras EENN as int8 stages, with its TFLM records."""

    exit_points: tuple
    head: object
    whole: bytes
    stages: list
    full_macs: int
    records: dict
    float_test: np.ndarray

    @property
    def cumulative_macs(self) -> list:
        return np.cumsum([s.macs for s in self.stages]).tolist()


def _quantized(entry, model, exit_points, head, split, trained: bool, progress: bool) -> _Quantized:
    batch1 = training.build_eenn(entry, exit_points, head, split.num_classes, batch_size=1)
    whole = quantize.to_int8_tflite(model, batch1, split.train.x)
    num_exits = len(exit_points) + 1
    stage_list = stages.split(whole, num_exits)
    in_q = stage_list[0].input.quantization
    check_prepares([s.tflite for s in stage_list])
    chain = StageChain([s.tflite for s in stage_list])
    records = {
        name: chain.run(quantize.quantize_input(part.x, in_q.scale[0], in_q.zero_point[0]),
                        part.y if trained else None, progress)
        for name, part in (("calib", split.calib), ("test", split.test))
    }
    return _Quantized(tuple(exit_points), head, whole, stage_list, stages.full_model_macs(whole, num_exits), records,
                      training.predict(model, split.test.x).argmax(-1))


def build(project: Project, out_root: Path = Path("generated"), progress: bool = True, log=print) -> BuildResult:
    project.validate()
    entry = project.entry
    split, trained = load_split(project, entry)
    entry = _with_data_shape(entry, split)
    out_root = Path(out_root)
    model, head, chosen, cache_path = _trained(project, entry, split, trained, out_root / ".cache" / "models",
                                               progress, log)
    exit_points = chosen.exit_points if chosen else project.exit_points
    config = project.decision.resolved(chosen.mechanism if chosen else DEFAULT_MECHANISM)
    origin = f"weights {cache_path}" if cache_path else "untrained: seeded random weights"
    log(f"model: {entry.name} with exits at {', '.join(exit_points) or 'none (the network alone)'} ({origin})")

    eenn = _quantized(entry, model, exit_points, head, split, trained, progress)
    # an untrained model's outputs say nothing about a risk (its thresholds stay as given, or
    # never), and a network without early exits has nothing to calibrate
    settings = project.calibration if trained and exit_points else \
        replace(project.calibration, method=calibration.NO_CALIBRATION)
    rows = chosen.certification_rows if chosen else None
    spec, calibrated = _decided(eenn, config, settings, project.seed, rows, log)
    slower = calibrated is not None and certified_macs(calibrated, eenn.cumulative_macs) > eenn.full_macs
    advice = _risk_advice(project, eenn, config, settings, rows, chosen,
                          kept=not (slower and project.model.if_slower == "original"))
    if advice:
        log(advice)
    if slower:
        message = _slower_message(calibrated, eenn.cumulative_macs, eenn.full_macs)
        if project.model.if_slower == "refuse":
            raise EennError(f"{message}; name other exits (or none: --exits auto), or build it anyway with "
                            "model.if_slower = \"keep\"")
        if project.model.if_slower == "original":
            log(f"warning: {message}; writing the network alone (a single-exit build; "
                "model.if_slower = \"keep\" keeps the EENN)")
            eenn = _network_alone(entry, model, len(exit_points), split, trained, progress)
            spec, calibrated = _decided(eenn, config, replace(settings, method=calibration.NO_CALIBRATION),
                                        project.seed, None, log)
        else:
            log(f"warning: {message}; kept as model.if_slower = \"keep\" asks")
    elif trained and calibrated is None and exit_points:
        by_hand = mechanisms.evaluate(eenn.records["calib"], spec, eenn.cumulative_macs, eenn.full_macs)["mean_macs"]
        if by_hand > eenn.full_macs:
            log(f"warning: with the decision set by hand the EENN costs {by_hand:,.0f} MACs per inference on the "
                f"calibration split, {100 * by_hand / eenn.full_macs:.1f}% of the network's own {eenn.full_macs:,}; "
                "leave decision.threshold out to have it calibrated (and the network alone built if it cannot pay)")
    stage_list, cumulative, full_macs, records = eenn.stages, eenn.cumulative_macs, eenn.full_macs, eenn.records
    test = records["test"]
    int8_test = test.predictions.T
    metrics = artifact.Metrics(
        float_accuracy=_match_rate(eenn.float_test, split.test.y) if trained else None,
        int8_accuracy=_match_rate(int8_test, split.test.y) if trained else None,
        int8_float_agreement=[float(np.mean(a == b)) for a, b in zip(int8_test, eenn.float_test)],
        policy=mechanisms.evaluate(test, spec, cumulative, full_macs))
    manifest = artifact.Manifest(
        name=project.name, versions=_versions(), project=project,
        dataset=artifact.DatasetEntry(split.train.name, trained, split.num_classes, tuple(split.sample_shape),
                                      {k: len(v) for k, v in split.parts().items()}, split.digest()),
        model=artifact.ModelEntry(entry.name, eenn.exit_points, heads.as_dict(eenn.head),
                                  cache_path.name if cache_path else None, chosen.as_dict() if chosen else None),
        input=stage_list[0].input, full_model_macs=full_macs,
        stages=tuple(_stage_entry(s, cumulative[s.index]) for s in stage_list),
        exits=tuple(artifact.ExitEntry(k, p, k) for k, p in enumerate([*eenn.exit_points, "final"])),
        decision=artifact.DecisionEntry(config, spec, calibration.summary(calibrated) if calibrated else None),
        records={name: artifact.records_file(name) for name in records}, metrics=metrics)
    report = build_table(manifest)
    if advice:
        report = "\n".join([report, advice])
    if chosen:
        report = "\n".join([report, "", "exits chosen automatically (eenn.design), on the calibration split's "
                             "selection half:", design.table(chosen), design.reason(chosen, project.calibration)])
    with atomic.staged_directory(out_root / project.name) as tmp:
        artifact.write(tmp, manifest, eenn.whole, [s.tflite for s in stage_list], records)
        atomic.write_text(tmp / REPORT, report + "\n")
        if calibrated:
            write_calibration(tmp, project.name, calibrated)
    return BuildResult(artifact.Build(out_root / project.name, manifest), report)


def certified_macs(calibrated, cumulative_macs: list) -> float:
    """Mean MACs per inference of the chosen setting on the calibration records (never exiting
    early: every stage runs)."""
    return float(calibrated.cost[calibrated.chosen]) if calibrated.chosen >= 0 else float(cumulative_macs[-1])


def _slower_message(calibrated, cumulative_macs: list, full_macs: int) -> str:
    macs = certified_macs(calibrated, cumulative_macs)
    return (f"the certified EENN costs {macs:,.0f} MACs per inference on average, {100 * macs / full_macs:.1f}% of "
            f"the network's own {full_macs:,} ({calibrated.mechanism} at {calibrated.settings.risk} risk <= "
            f"{calibrated.settings.epsilon}): its exits do not pay")


def _trained(project: Project, entry, split, trained: bool, cache_dir: Path, progress: bool, log) -> tuple:
    """(Keras EENN, its heads, the design if eenn.design chose it, the weights' cache file)."""
    if project.automatic:
        design.check_calibration(project.calibration, project.mechanisms, len(split.calib))
        chosen, all_heads, cache_path = design.choose(entry, split, project.training, project.decision,
                                                      project.calibration, project.mechanisms, project.seed,
                                                      cache_dir, progress, log)
        why = design.reason(chosen, project.calibration)
        if chosen.exit_points:
            log(f"design: {why}")
        elif project.model.if_slower == "refuse":
            raise EennError(f"no EENN beats the network alone: {why}")
        else:
            log(f"warning: no EENN beats the network alone: {why}; writing the network alone (a single-exit build)")
        model = design.assemble(entry, all_heads, chosen.pairs, list(chosen.chosen), split.num_classes)
        return model, chosen.heads, chosen, cache_path
    if trained and project.training.mode == "candidates":
        head = heads.per_exit(project.head, len(project.exit_points))
        pairs = design.candidate_pairs(entry, split.num_classes)
        chosen = [design.pair_index(pairs, p, h) for p, h in zip(project.exit_points, head)]  # before training
        all_heads, pairs, cache_path = design.train(entry, split, project.training, project.seed, cache_dir, progress)
        return design.assemble(entry, all_heads, pairs, chosen, split.num_classes), head, None, cache_path
    if trained:
        model, cache_path = training.train_cached(entry, split, project.exit_points, project.head, project.training,
                                                  project.seed, cache_dir, progress)
        return model, project.head, None, cache_path
    model = training.untrained(entry, project.exit_points, project.head, split.num_classes, project.seed,
                               split.train.x)
    return model, project.head, None, None


def _risk_advice(project: Project, eenn: _Quantized, config, settings, rows, chosen, kept: bool) -> "str | None":
    """When an early exit answers right more often than the final exit, while a label-free risk
    (the final exit's answer taken for the truth) holds it back: what the prediction-gap risk
    would certify instead, and how to ask for it."""
    if settings.method == calibration.NO_CALIBRATION or risks.get(settings.risk).needs_labels:
        return None
    if chosen:
        best = max(chosen.candidates, key=lambda c: c.accuracy)
        which, accuracy, final, macs = (f"the head {best.label} at {best.point}", best.accuracy,
                                        chosen.final_accuracy, chosen.gap_macs)
        if macs is None:
            return None
        measured_on = "the selection half"
    else:
        if not eenn.exit_points:
            return None
        calib = _certifying(eenn.records, rows)["calib"]
        accuracies = (calib.predictions == calib.labels[:, None]).mean(axis=0)
        k = int(np.argmax(accuracies[:-1]))
        if accuracies[k] <= accuracies[-1]:
            return None
        which, accuracy, final = f"exit {k} ({eenn.exit_points[k]})", accuracies[k], accuracies[-1]
        _, gap = _decided(eenn, config, replace(settings, risk=design.GAP_RISK, clip=True), project.seed, rows,
                          lambda *_: None)
        macs = certified_macs(gap, eenn.cumulative_macs)
        measured_on = "the calibration records"
    command = f"build with [calibration] risk = \"{design.GAP_RISK}\" and clip = true"
    if kept and not chosen:
        command += f", or recalibrate: eenn calibrate --name {project.name} --risk {design.GAP_RISK} --clip"
    return (f"note: {which} is more accurate than the final exit ({100 * accuracy:.1f}% against {100 * final:.1f}% on "
            f"{measured_on}), and the {settings.risk} risk counts each answer that differs from the final exit's "
            f"as an error; under the clipped {design.GAP_RISK} risk (right answers that leaving early makes wrong) "
            f"the certified EENN would cost {macs:,.0f} MACs per inference "
            f"({100 * (1 - macs / eenn.full_macs):.1f}% saved): "
            f"{command}")


def _network_alone(entry, model, early_exits: int, split, trained: bool, progress: bool) -> _Quantized:
    """The EENN's network without its early exits, as a single-exit build."""
    single = training.build_eenn(entry, (), (), split.num_classes)
    training.copy_weights(model, single, {heads.exit_name(0): heads.exit_name(early_exits)})
    return _quantized(entry, single, (), (), split, trained, progress)


def _decided(eenn: _Quantized, config, settings, seed: int, rows, log) -> tuple:
    """decide() on the EENN's records (the calibration rows of `rows` alone, if given)."""
    return decide(config, settings, seed, _certifying(eenn.records, rows),
                  [s.exit_output.quantization for s in eenn.stages], eenn.cumulative_macs, eenn.full_macs, log)


def _certifying(records: dict, rows) -> dict:
    """The records to certify on: the calibration rows a design's choice did not use."""
    if rows is None:
        return records
    calib = records["calib"]
    rows = list(rows)
    return {**records, "calib": Records(calib.probs[rows], calib.labels[rows])}


def _with_data_shape(entry, split):
    """Zoo backbones are built for the data's sample shape (same rank as the zoo's)."""
    return replace(entry, input_shape=tuple(split.sample_shape))


def _stage_entry(s: stages.Stage, cumulative_macs: int) -> artifact.StageEntry:
    digest = hashlib.sha256(s.tflite).hexdigest()
    return artifact.StageEntry(s.index, artifact.stage_file(s.index), len(s.tflite), digest, tuple(s.ops), s.macs,
                               cumulative_macs, s.input, s.exit_output, s.boundary)


def generate(build: artifact.Build) -> "tuple[emit.Generated, str]":
    """`eenn generate`: the C sources of a build's stages into its src/, with a table of what
    each stage takes beside TFLM's figures for the same stage."""
    models = build.stage_models()
    tflm = [tflm_arena_bytes(tflite) for _, tflite in models]
    generated = emit.generate(models, build.sources, build.name)
    text = codegen_table(generated, tflm)
    atomic.write_text(generated.directory / STAGE_TABLE, text + "\n")
    stage_steps = list(np.cumsum([0] + [len(s.segments) for s in generated.stages]))
    memory.plot(generated.plan, generated.directory / MEMORY_PLOT, f"Memory plan of {build.name}",
                stage_steps, max(t["total"] for t in tflm))
    build.write_code(artifact.CodeSummary(
        generated.plan.arena_bytes, sum(s.weight_bytes for s in generated.stages),
        tuple(artifact.StageCode(s.macs, s.weight_bytes, s.arena_bytes, features.stage_kernels(s.segments))
              for s in generated.stages)))
    return generated, text


def decide(config, settings, seed: int, records: dict, quantizations: list, cumulative_macs: list,
           full_macs: int, log=print) -> "tuple[mechanisms.DecisionSpec, calibration.Calibration | None]":
    """The decision the firmware embeds: [decision] as given, or its parameter calibrated on
    records["calib"] (and reported on records["test"]) when [calibration] asks for it."""
    config = config.resolved()
    base = mechanisms.spec_for(config, quantizations[:-1])
    by_hand = config.mechanism in calibration.THRESHOLD_MECHANISMS and config.threshold is not None
    if settings.method == calibration.NO_CALIBRATION or by_hand:
        return base, None
    result = calibration.calibrate(settings, base, records["calib"], records["test"], quantizations,
                                   cumulative_macs, full_macs, seed, warn=log)
    return result.spec, result


def calibrated_decision(build: artifact.Build, config, settings,
                        log=print) -> "tuple[mechanisms.DecisionSpec, calibration.Calibration]":
    """A build's decision `config` calibrated anew on its records with `settings` (no retraining,
    nothing written)."""
    m = build.manifest
    records = {name: build.records(name) for name in artifact.SPLITS}
    rows = m.model.design["certification_rows"] if m.model.design else None
    spec, calibrated = decide(config, settings, m.project.seed, _certifying(records, rows), m.exit_quantizations,
                              m.cumulative_macs, m.full_model_macs, log)
    if calibrated is None:
        raise EennError(f"nothing to calibrate: calibration method '{settings.method}' with {config.mechanism}")
    return spec, calibrated


def recalibrate(build: artifact.Build, config, settings, log=print) -> "tuple[artifact.Build, calibration.Calibration]":
    """`eenn calibrate`: a build's decision calibrated anew on its records (no retraining);
    the manifest, its report and the calibration files are rewritten."""
    m = build.manifest
    spec, calibrated = calibrated_decision(build, config, settings, log)
    policy = mechanisms.evaluate(build.records("test"), spec, m.cumulative_macs, m.full_model_macs)
    build = build.with_decision(artifact.DecisionEntry(config, spec, calibration.summary(calibrated)), policy)
    atomic.write_text(build.directory / REPORT, build_table(build.manifest) + "\n")
    write_calibration(build.directory, build.name, calibrated)
    return build, calibrated


def write_calibration(directory: Path, name: str, calibrated) -> None:
    """calibration.txt (the report) and calibration.png (risk and bound per setting)."""
    atomic.write_text(Path(directory) / "calibration.txt", calibration_lines(calibration.summary(calibrated)) + "\n")
    calibration.plot(calibrated, f"{name}: {calibrated.mechanism}, {calibrated.settings.method}",
                     Path(directory) / "calibration.png")
