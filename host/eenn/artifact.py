"""The build artifact: what `eenn build` and `eenn generate` leave in generated/<name>/, typed.

    manifest.json         Manifest: the validated project, the dataset, every stage and exit,
                          the decision the firmware embeds and the test metrics
    model.tflite          the whole int8 EENN
    stage<k>.tflite       one int8 model per exit stage (digests in the manifest)
    records_<split>.npz   TFLM's int8 outputs of every exit on the calib and test splits
    src/                  the generated C; src/code.json is its CodeSummary

This module alone reads and writes those files; every later step takes a `Build`.
"""

import hashlib
import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from .decision.mechanisms import DecisionSpec
from .errors import EennError
from .frontend.stages import TensorInfo
from .project import DecisionConfig, Project, from_document
from .tflite.flatbuffer import Quantization
from .tflite.reference import Records, StageChain
from .util import atomic

FORMAT = 4
MANIFEST = "manifest.json"
MODEL = "model.tflite"
SOURCES = "src"
CODE_SUMMARY = "code.json"
SPLITS = ("calib", "test")


def _tensor(d: dict) -> TensorInfo:
    q = d["quantization"]
    return TensorInfo(d["name"], tuple(d["shape"]), Quantization.from_dict(q) if q else None)


@dataclass(frozen=True)
class StageEntry:
    index: int
    file: str
    bytes: int
    sha256: str
    ops: tuple  # builtin op names, in execution order
    macs: int
    cumulative_macs: int  # to reach this stage's exit
    input: TensorInfo
    exit_output: TensorInfo
    boundary: "TensorInfo | None"  # what the next stage takes; None for the last stage

    @classmethod
    def from_dict(cls, d: dict) -> "StageEntry":
        return cls(d["index"], d["file"], d["bytes"], d["sha256"], tuple(d["ops"]), d["macs"], d["cumulative_macs"],
                   _tensor(d["input"]), _tensor(d["exit_output"]), d["boundary"] and _tensor(d["boundary"]))


@dataclass(frozen=True)
class DatasetEntry:
    source: str
    trained: bool  # False: seeded random samples, an untrained model
    num_classes: int
    sample_shape: tuple
    split: dict  # part name -> samples
    split_digest: str

    @classmethod
    def from_dict(cls, d: dict) -> "DatasetEntry":
        return cls(**{**d, "sample_shape": tuple(d["sample_shape"])})


@dataclass(frozen=True)
class ModelEntry:
    name: str
    exit_points: tuple
    head: "dict | list"  # one head for every exit, or one per exit (exits.as_dict)
    training_cache: "str | None"  # the trained weights' file in the cache; None: untrained
    design: "dict | None" = None  # exits chosen automatically: eenn.design.Design.as_dict

    @classmethod
    def from_dict(cls, d: dict) -> "ModelEntry":
        return cls(**{**d, "exit_points": tuple(d["exit_points"])})


@dataclass(frozen=True)
class ExitEntry:
    index: int
    point: str  # the backbone layer it branches from, or "final"
    stage: int


@dataclass(frozen=True)
class DecisionEntry:
    """The project's [decision], the integers the firmware embeds, and the calibration that
    chose them (calibration.summary; None: set by hand)."""

    config: DecisionConfig
    spec: DecisionSpec
    calibration: "dict | None"

    @classmethod
    def from_dict(cls, d: dict) -> "DecisionEntry":
        config = DecisionConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in d["config"].items()})
        return cls(config, DecisionSpec.from_dict(d["spec"]), d["calibration"])


@dataclass(frozen=True)
class Metrics:
    """Per exit on the test split (None: an untrained model), and the decision's policy."""

    float_accuracy: "list | None"
    int8_accuracy: "list | None"
    int8_float_agreement: list
    policy: dict  # decisions.evaluate


@dataclass(frozen=True)
class Manifest:
    name: str
    versions: dict  # package -> version the build was made with
    project: Project  # as validated
    dataset: DatasetEntry
    model: ModelEntry
    input: TensorInfo
    full_model_macs: int
    stages: tuple  # StageEntry
    exits: tuple  # ExitEntry
    decision: DecisionEntry
    records: dict  # split -> file
    metrics: Metrics  # on the test split

    @property
    def cumulative_macs(self) -> list:
        """MACs to reach each exit."""
        return [s.cumulative_macs for s in self.stages]

    @property
    def exit_quantizations(self) -> list:
        """The int8 quantization of each exit's probabilities, the last exit's included."""
        return [s.exit_output.quantization for s in self.stages]

    @property
    def num_classes(self) -> int:
        return self.stages[0].exit_output.shape[-1]

    @property
    def model_digest(self) -> bytes:
        """One digest for the model: SHA-256 over the stages' SHA-256 digests, in order."""
        return hashlib.sha256("".join(s.sha256 for s in self.stages).encode()).digest()

    def as_json(self) -> dict:
        return {"format": FORMAT, **asdict(self)}

    @classmethod
    def from_json(cls, d: dict, source: str) -> "Manifest":
        return cls(name=d["name"], versions=d["versions"], project=from_document(d["project"], source),
                   dataset=DatasetEntry.from_dict(d["dataset"]), model=ModelEntry.from_dict(d["model"]),
                   input=_tensor(d["input"]), full_model_macs=d["full_model_macs"],
                   stages=tuple(StageEntry.from_dict(s) for s in d["stages"]),
                   exits=tuple(ExitEntry(**e) for e in d["exits"]), decision=DecisionEntry.from_dict(d["decision"]),
                   records=d["records"], metrics=Metrics(**d["metrics"]))


@dataclass(frozen=True)
class StageCode:
    macs: int
    weight_bytes: int
    arena_bytes: int
    kernels: list  # codegen.features.stage_kernels: each kernel call's cost-model features


@dataclass(frozen=True)
class CodeSummary:
    """What `eenn generate` recorded of a build's C."""

    arena_bytes: int
    weight_bytes: int
    stages: tuple  # StageCode

    @classmethod
    def from_json(cls, d: dict) -> "CodeSummary":
        return cls(d["arena_bytes"], d["weight_bytes"], tuple(StageCode(**s) for s in d["stages"]))


@dataclass(frozen=True)
class Build:
    """A build in `directory`: its manifest, and the files beside it."""

    directory: Path
    manifest: Manifest

    @classmethod
    def open(cls, directory: Path) -> "Build":
        path = Path(directory) / MANIFEST
        try:
            doc = json.loads(path.read_text())
        except FileNotFoundError:
            raise EennError(f"{path}: no manifest; run 'eenn build' first") from None
        except (OSError, UnicodeDecodeError) as e:
            raise EennError(f"{path}: cannot read the manifest ({e}); run 'eenn build' again") from None
        except json.JSONDecodeError as e:
            raise EennError(f"{path}: not valid JSON ({e})") from None
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            found = doc.get("format") if isinstance(doc, dict) else None
            raise EennError(f"{path}: manifest format {found} is not {FORMAT}; run 'eenn build' again")
        try:
            return cls(Path(directory), Manifest.from_json(doc, f"{path} [project]"))
        except (KeyError, TypeError, AttributeError) as e:
            raise EennError(f"{path}: not a complete manifest ({type(e).__name__}: {e}); "
                            "run 'eenn build' again") from None

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def sources(self) -> Path:
        return self.directory / SOURCES

    def records(self, split: str) -> Records:
        if split not in self.manifest.records:
            raise EennError(f"no records for split '{split}'; expected one of {', '.join(self.manifest.records)}")
        return Records.load(self.directory / self.manifest.records[split])

    def stage_models(self) -> list:
        """(file name, bytes) of each stage, checked against the manifest's digests."""
        models = []
        for s in self.manifest.stages:
            path = self.directory / s.file
            try:
                tflite = path.read_bytes()
            except FileNotFoundError:
                raise EennError(f"{path}: missing; run 'eenn build' again") from None
            if hashlib.sha256(tflite).hexdigest() != s.sha256:
                raise EennError(f"{path}: does not match the manifest's digest; run 'eenn build' again")
            models.append((s.file, tflite))
        return models

    def stage_chain(self) -> StageChain:
        """The stages under the TFLM reference interpreter."""
        return StageChain([tflite for _, tflite in self.stage_models()])

    def code(self) -> CodeSummary:
        path = self.sources / CODE_SUMMARY
        try:
            return CodeSummary.from_json(json.loads(path.read_text()))
        except FileNotFoundError:
            raise EennError(f"{self.sources}: no generated sources; run 'eenn generate' first") from None
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise EennError(f"{path}: not a code summary ({e}); run 'eenn generate' again") from None

    def write_code(self, summary: CodeSummary) -> None:
        atomic.write_json(self.sources / CODE_SUMMARY, asdict(summary))

    def with_decision(self, decision: DecisionEntry, policy: dict) -> "Build":
        """The build with another decision (and its test policy); its manifest rewritten."""
        manifest = replace(self.manifest, decision=decision, metrics=replace(self.manifest.metrics, policy=policy))
        write_manifest(self.directory, manifest)
        return replace(self, manifest=manifest)


def stage_file(index: int) -> str:
    return f"stage{index}.tflite"


def records_file(split: str) -> str:
    return f"records_{split}.npz"


def write_manifest(directory: Path, manifest: Manifest) -> None:
    atomic.write_json(Path(directory) / MANIFEST, manifest.as_json())


def write(directory: Path, manifest: Manifest, model: bytes, stages: list, records: dict) -> None:
    """The build's files into `directory` (the caller stages it): `stages` the .tflite bytes
    of each stage, `records` split -> Records."""
    directory = Path(directory)
    (directory / MODEL).write_bytes(model)
    for entry, tflite in zip(manifest.stages, stages):
        (directory / entry.file).write_bytes(tflite)
    for split, rec in records.items():
        rec.save(directory / manifest.records[split])
    write_manifest(directory, manifest)
