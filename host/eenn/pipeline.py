"""`eenn build`: data -> trained EENN -> one int8 flatbuffer -> stages -> records -> manifest.

Everything lands in `generated/<name>/` at once: the directory is assembled beside it and
renamed into place, so a failure leaves the previous build (or nothing) behind.
"""

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from . import artifact
from .codegen import emit, features, memory
from .decision import calibration, mechanisms
from .errors import EennError
from .frontend import data, heads, quantize, stages, training
from .project import Project
from .report import build_table, calibration_lines, codegen_table
from .tflite.reference import StageChain, check_prepares, tflm_arena_bytes
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


def build(project: Project, out_root: Path = Path("generated"), progress: bool = True, log=print) -> BuildResult:
    project.validate()
    entry = project.entry
    split, trained = load_split(project, entry)
    entry = _with_data_shape(entry, split)
    exit_points = project.exit_points
    num_exits = len(exit_points) + 1
    out_root = Path(out_root)

    if trained:
        model, cache_path = training.train_cached(entry, split, exit_points, project.head, project.training,
                                                  project.seed, out_root / ".cache" / "models", progress)
    else:
        model = training.untrained(entry, exit_points, project.head, split.num_classes, project.seed, split.train.x)
        cache_path = None
    origin = f"weights {cache_path}" if cache_path else "untrained: seeded random weights"
    log(f"model: {entry.name} with exits at {', '.join(exit_points)} ({origin})")

    batch1 = training.build_eenn(entry, exit_points, project.head, split.num_classes, batch_size=1)
    whole = quantize.to_int8_tflite(model, batch1, split.train.x)
    stage_list = stages.split(whole, num_exits)
    full_macs = stages.full_model_macs(whole, num_exits)

    in_q = stage_list[0].input.quantization
    check_prepares([s.tflite for s in stage_list])
    chain = StageChain([s.tflite for s in stage_list])
    records = {
        name: chain.run(quantize.quantize_input(part.x, in_q.scale[0], in_q.zero_point[0]),
                        part.y if trained else None, progress)
        for name, part in (("calib", split.calib), ("test", split.test))
    }
    float_test = training.predict(model, split.test.x).argmax(-1)

    cumulative = np.cumsum([s.macs for s in stage_list]).tolist()
    # an untrained model's outputs say nothing about a risk: its thresholds stay as given (or never)
    settings = project.calibration if trained else replace(project.calibration, method=calibration.NO_CALIBRATION)
    spec, calibrated = decide(project.decision, settings, project.seed, records,
                              [s.exit_output.quantization for s in stage_list], cumulative, full_macs, log)
    test = records["test"]
    int8_test = test.predictions.T
    metrics = artifact.Metrics(
        float_accuracy=_match_rate(float_test, split.test.y) if trained else None,
        int8_accuracy=_match_rate(int8_test, split.test.y) if trained else None,
        int8_float_agreement=[float(np.mean(a == b)) for a, b in zip(int8_test, float_test)],
        policy=mechanisms.evaluate(test, spec, cumulative, full_macs))
    manifest = artifact.Manifest(
        name=project.name, versions=_versions(), project=project,
        dataset=artifact.DatasetEntry(split.train.name, trained, split.num_classes, tuple(split.sample_shape),
                                      {k: len(v) for k, v in split.parts().items()}, split.digest()),
        model=artifact.ModelEntry(entry.name, tuple(exit_points), heads.as_dict(project.head),
                                  cache_path.name if cache_path else None),
        input=stage_list[0].input, full_model_macs=full_macs,
        stages=tuple(_stage_entry(s, cumulative[s.index]) for s in stage_list),
        exits=tuple(artifact.ExitEntry(k, p, k) for k, p in enumerate([*exit_points, "final"])),
        decision=artifact.DecisionEntry(project.decision, spec,
                                        calibration.summary(calibrated) if calibrated else None),
        records={name: artifact.records_file(name) for name in records}, metrics=metrics)
    report = build_table(manifest)
    with atomic.staged_directory(out_root / project.name) as tmp:
        artifact.write(tmp, manifest, whole, [s.tflite for s in stage_list], records)
        atomic.write_text(tmp / REPORT, report + "\n")
        if calibrated:
            write_calibration(tmp, project.name, calibrated)
    return BuildResult(artifact.Build(out_root / project.name, manifest), report)


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
    base = mechanisms.spec_for(config, quantizations[:-1])
    by_hand = config.mechanism in calibration.THRESHOLD_MECHANISMS and config.threshold is not None
    if settings.method == calibration.NO_CALIBRATION or by_hand:
        return base, None
    result = calibration.calibrate(settings, base, records["calib"], records["test"], quantizations,
                                   cumulative_macs, full_macs, seed, warn=log)
    return result.spec, result


def recalibrate(build: artifact.Build, config, settings, log=print) -> "tuple[artifact.Build, calibration.Calibration]":
    """`eenn calibrate`: a build's decision calibrated anew on its records (no retraining);
    the manifest, its report and the calibration files are rewritten."""
    m = build.manifest
    records = {name: build.records(name) for name in artifact.SPLITS}
    spec, calibrated = decide(config, settings, m.project.seed, records, m.exit_quantizations, m.cumulative_macs,
                              m.full_model_macs, log)
    if calibrated is None:
        raise EennError(f"nothing to calibrate: calibration method '{settings.method}' with {config.mechanism}")
    policy = mechanisms.evaluate(records["test"], spec, m.cumulative_macs, m.full_model_macs)
    build = build.with_decision(artifact.DecisionEntry(config, spec, calibration.summary(calibrated)), policy)
    atomic.write_text(build.directory / REPORT, build_table(build.manifest) + "\n")
    write_calibration(build.directory, build.name, calibrated)
    return build, calibrated


def write_calibration(directory: Path, name: str, calibrated) -> None:
    """calibration.txt (the report) and calibration.png (risk and bound per setting)."""
    atomic.write_text(Path(directory) / "calibration.txt", calibration_lines(calibration.summary(calibrated)) + "\n")
    calibration.plot(calibrated, f"{name}: {calibrated.mechanism}, {calibrated.settings.method}",
                     Path(directory) / "calibration.png")
