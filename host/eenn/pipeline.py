"""`eenn build`: data -> trained EENN -> one int8 flatbuffer -> stages -> records -> manifest.

Everything lands in `generated/<name>/` at once: the directory is assembled beside it and
renamed into place, so a failure leaves the previous build (or nothing) behind.
"""

import hashlib
import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from . import atomic, calibration, codegen, data, decisions, exits, memory, quantize, stages, training, workload
from .errors import EennError
from .project import Project
from .report import build_table, calibration_lines, codegen_table
from .simulate import Records, StageChain, tflm_arena_bytes

MANIFEST = "manifest.json"
SOURCES = "src"
STAGE_TABLE = "stages.txt"
CODE_SUMMARY = "code.json"
MEMORY_PLOT = "memory.png"
FORMAT = 3
UNTRAINED_SAMPLES = 100


@dataclass(frozen=True)
class BuildResult:
    directory: Path
    manifest: dict
    report: str


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
    metrics = {
        "float_accuracy": _match_rate(float_test, split.test.y) if trained else None,
        "int8_accuracy": _match_rate(int8_test, split.test.y) if trained else None,
        "int8_float_agreement": [float(np.mean(a == b)) for a, b in zip(int8_test, float_test)],
        "policy": decisions.evaluate(test, spec, cumulative, full_macs),
    }
    manifest = {
        "format": FORMAT,
        "name": project.name,
        "versions": _versions(),
        "project": _jsonable(asdict(project)),
        "dataset": {
            "source": split.train.name, "trained": trained, "num_classes": split.num_classes,
            "sample_shape": list(split.sample_shape),
            "split": {k: len(v) for k, v in split.parts().items()}, "split_digest": split.digest(),
        },
        "model": {"name": entry.name, "exit_points": list(exit_points), "head": exits.as_dict(project.head),
                  "training_cache": cache_path.name if cache_path else None},
        "input": stage_list[0].input.as_dict(),
        "full_model_macs": full_macs,
        "stages": [_stage_entry(s, cumulative[s.index]) for s in stage_list],
        "exits": [{"index": k, "point": p, "stage": k} for k, p in enumerate([*exit_points, "final"])],
        "decision": decision_entry(project.decision, spec, calibrated),
        "records": {"calib": "records_calib.npz", "test": "records_test.npz"},
        "metrics": {"test": metrics},
    }
    report = build_table(manifest)
    with atomic.staged_directory(out_root / project.name) as tmp:
        (tmp / "model.tflite").write_bytes(whole)
        for s in stage_list:
            (tmp / f"stage{s.index}.tflite").write_bytes(s.tflite)
        for name, rec in records.items():
            rec.save(tmp / f"records_{name}.npz")
        atomic.write_json(tmp / MANIFEST, manifest)
        atomic.write_text(tmp / "report.txt", report + "\n")
        if calibrated:
            write_calibration(tmp, manifest["name"], calibrated)
    return BuildResult(out_root / project.name, manifest, report)


def _with_data_shape(entry, split):
    """Zoo backbones are built for the data's sample shape (same rank as the zoo's)."""
    return replace(entry, input_shape=tuple(split.sample_shape))


def _stage_entry(s: stages.Stage, cumulative_macs: int) -> dict:
    return {
        "index": s.index, "file": f"stage{s.index}.tflite", "bytes": len(s.tflite),
        "sha256": hashlib.sha256(s.tflite).hexdigest(), "ops": list(s.ops),
        "macs": s.macs, "cumulative_macs": cumulative_macs,
        "input": s.input.as_dict(), "exit_output": s.exit_output.as_dict(),
        "boundary": s.boundary.as_dict() if s.boundary else None,
    }


def _jsonable(obj):
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    return obj


def load_manifest(directory: Path) -> dict:
    path = Path(directory) / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise EennError(f"{path}: no manifest; run 'eenn build' first") from None
    except json.JSONDecodeError as e:
        raise EennError(f"{path}: not valid JSON ({e})") from None
    if manifest.get("format") != FORMAT:
        raise EennError(f"{path}: manifest format {manifest.get('format')} is not {FORMAT}; rebuild it")
    return manifest


def load_records(directory: Path, manifest: dict, split_name: str) -> Records:
    if split_name not in manifest["records"]:
        raise EennError(f"no records for split '{split_name}'; expected one of {', '.join(manifest['records'])}")
    return Records.load(Path(directory) / manifest["records"][split_name])



def stage_models(directory: Path, manifest: dict) -> list:
    """(file name, bytes) of each stage, checked against the manifest's digests."""
    models = []
    for s in manifest["stages"]:
        path = Path(directory) / s["file"]
        try:
            tflite = path.read_bytes()
        except FileNotFoundError:
            raise EennError(f"{path}: missing; run 'eenn build' again") from None
        if hashlib.sha256(tflite).hexdigest() != s["sha256"]:
            raise EennError(f"{path}: does not match the manifest's digest; run 'eenn build' again")
        models.append((s["file"], tflite))
    return models


def generate(directory: Path) -> "tuple[codegen.Generated, str]":
    """`eenn generate`: the C sources of a build's stages into <directory>/src/, with a table
    of what each stage takes beside TFLM's figures for the same stage."""
    manifest = load_manifest(directory)
    models = stage_models(directory, manifest)
    tflm = [tflm_arena_bytes(tflite) for _, tflite in models]
    generated = codegen.generate(models, Path(directory) / SOURCES, manifest["name"])
    text = codegen_table(generated, tflm)
    atomic.write_text(generated.directory / STAGE_TABLE, text + "\n")
    stage_steps = list(np.cumsum([0] + [len(s.segments) for s in generated.stages]))
    memory.plot(generated.plan, generated.directory / MEMORY_PLOT, f"Memory plan of {manifest['name']}",
                stage_steps, max(t["total"] for t in tflm))
    atomic.write_json(generated.directory / CODE_SUMMARY, {
        "arena_bytes": generated.plan.arena_bytes,
        "weight_bytes": sum(s.weight_bytes for s in generated.stages),
        "stages": [{"macs": s.macs, "weight_bytes": s.weight_bytes, "arena_bytes": s.arena_bytes,
                    "kernels": workload.stage_kernels(s.segments)} for s in generated.stages],
    })
    return generated, text


def load_code_summary(directory: Path) -> dict:
    """What `generate` recorded of a build's C: arena, constants and each stage's kernels."""
    path = Path(directory) / SOURCES / CODE_SUMMARY
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise EennError(f"{path.parent}: no generated sources; run 'eenn generate' first") from None


def decision_config(manifest: dict):
    """The project's [decision] the build was made with."""
    from .project import DecisionConfig

    saved = manifest["decision"]["config"]
    return DecisionConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in saved.items()})


def exit_quantizations(manifest: dict) -> list:
    """The int8 quantization of each exit's probabilities, the last exit's included."""
    from .flatbuffer import Quantization

    return [Quantization.from_dict(s["exit_output"]["quantization"]) for s in manifest["stages"]]


def decide(config, settings, seed: int, records: dict, quantizations: list, cumulative_macs: list,
           full_macs: int, log=print) -> "tuple[decisions.DecisionSpec, calibration.Calibration | None]":
    """The decision the firmware embeds: [decision] as given, or its parameter calibrated on
    records["calib"] (and reported on records["test"]) when [calibration] asks for it."""
    base = decisions.spec_for(config, quantizations[:-1])
    by_hand = config.mechanism in calibration.THRESHOLD_MECHANISMS and config.threshold is not None
    if settings.method == calibration.NO_CALIBRATION or by_hand:
        return base, None
    result = calibration.calibrate(settings, base, records["calib"], records["test"], quantizations,
                                   cumulative_macs, full_macs, seed, warn=log)
    return result.spec, result


def decision_entry(config, spec, calibrated) -> dict:
    """The manifest's "decision": the project's [decision], the firmware's integers, and the
    calibration that chose them (None: set by hand)."""
    return {"config": _jsonable(asdict(config)), "spec": _jsonable(asdict(spec)),
            "calibration": calibration.summary(calibrated) if calibrated else None}


def recalibrate(directory: Path, config, settings, log=print) -> "calibration.Calibration":
    """`eenn calibrate`: a build's decision calibrated anew on its records (no retraining);
    the manifest, its report and the calibration files are rewritten."""
    manifest = load_manifest(directory)
    records = {name: load_records(directory, manifest, name) for name in ("calib", "test")}
    cumulative = [s["cumulative_macs"] for s in manifest["stages"]]
    spec, calibrated = decide(config, settings, manifest["project"]["seed"], records, exit_quantizations(manifest),
                              cumulative, manifest["full_model_macs"], log)
    if calibrated is None:
        raise EennError(f"nothing to calibrate: calibration method '{settings.method}' with {config.mechanism}")
    manifest["decision"] = decision_entry(config, spec, calibrated)
    manifest["metrics"]["test"]["policy"] = decisions.evaluate(records["test"], spec, cumulative,
                                                               manifest["full_model_macs"])
    atomic.write_json(Path(directory) / MANIFEST, manifest)
    atomic.write_text(Path(directory) / "report.txt", build_table(manifest) + "\n")
    write_calibration(directory, manifest["name"], calibrated)
    return calibrated


def write_calibration(directory: Path, name: str, calibrated) -> None:
    """calibration.txt (the report) and calibration.png (risk and bound per setting)."""
    atomic.write_text(Path(directory) / "calibration.txt", calibration_lines(calibration.summary(calibrated)) + "\n")
    calibration.plot(calibrated, f"{name}: {calibrated.mechanism}, {calibrated.settings.method}",
                     Path(directory) / "calibration.png")
