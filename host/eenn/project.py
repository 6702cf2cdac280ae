"""The project file (TOML): dataset, model, exits, training and decision.

Every key has a default, so no file is needed. Unknown sections or keys and values of the
wrong type are errors that name the file and the key.

    name = "default"
    seed = 0
    [data]      source = "digits" (or a .npz/.csv path); calib_fraction = 0.2; test_fraction = 0.2
                label_column = "label"; sample_shape = [40, 1]   # CSV only
    [model]     name = "digits-cnn"; exits = ["block1", "block2"]; head = "conv"; head_width = 16
                (head and head_width: one for every exit, or a list with one per exit)
                file = "model.keras"   # a trained Keras model to augment, instead of a zoo model
                exits = "auto"   # the default for a model file: exits, heads and mechanism chosen
                                 # for the lowest certified cost (eenn.design); head* then unused
                if_slower = "original"   # a certified EENN costlier than the network: build the
                                         # network alone ("original"), refuse, or "keep" it (warned)
    [training]  mode = "joint"; epochs = 60; batch_size = 32; learning_rate = 0.003
                exit_loss_weights = [1, 1, 1]
    [decision]  mechanism = "confidence"; threshold = 0.9   # or one per early exit
                (mechanism not given: confidence, or with exits "auto" the best of confidence, margin, entropy)
                patience = 2; tau = 0; distance = "l1"; max_run = 16; deep = "cascade"
    [calibration] method = "ucb-hb"; risk = "consistency"; epsilon = 0.05; delta = 0.1
                clip = false; per_exit = false; streams = 100; stream_steps = 40
    [deployment] split = 1; fallback = true; edge_timeout_ms = 200   # stages from `split` on an edge host
                link = "ble-1m"; max_latency_ms = 50   # instead of split: the split chosen for the board
    threshold: a probability for confidence (and the cascade of the temporal mechanisms),
    a probability difference for margin, nats for entropy; see eenn.decision.mechanisms. Not given
    (the default), the thresholds of confidence, margin and entropy are calibrated with risk
    control (eenn.decision.calibration); a temporal mechanism's cascade then never exits early.
    Patience and the temporal mechanisms have their own parameter calibrated unless
    calibration.method = "none".
"""

import functools
import tomllib
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from .decision import riskcontrol
from .decision.calibration import NO_CALIBRATION, THRESHOLD_MECHANISMS, CalibrationConfig
from .decision.mechanisms import DEEP, DEFAULT_MECHANISM, DISTANCES, MECHANISMS
from .errors import EennError, check_choice, check_range
from .limits import MAX_COUNT
from .frontend import data, heads, zoo
from .frontend.heads import HeadSpec
from .frontend.training import TrainingConfig
from .hardware import links
from .util import fields, paths

AUTO = "auto"  # [model] exits: chosen by eenn.design


@dataclass(frozen=True)
class DataConfig:
    source: "str | None" = None  # None: the zoo model's own dataset (untrained if it has none)
    calib_fraction: float = 0.2
    test_fraction: float = 0.2
    label_column: str = "label"
    sample_shape: "tuple | None" = None

    def validate(self) -> "DataConfig":
        data.check_fractions(self.calib_fraction, self.test_fraction)
        if self.sample_shape is not None and not (
                self.sample_shape and all(isinstance(d, int) and not isinstance(d, bool) and d >= 1
                                          for d in self.sample_shape)):
            raise EennError(f"data.sample_shape {list(self.sample_shape)}: must be positive whole numbers, "
                            "e.g. [40, 1]")
        return self


@dataclass(frozen=True)
class ModelConfig:
    name: str = "digits-cnn"
    file: "str | None" = None  # a trained Keras model (.keras) to augment instead of a zoo model
    exits: "tuple | str | None" = None  # None: the zoo entry's default exits, "auto" for a model file
    head: "str | tuple" = HeadSpec.family  # one family for every exit, or one per exit
    head_width: "int | tuple" = HeadSpec.width
    if_slower: str = "original"  # one of IF_SLOWER


IF_SLOWER = ("original", "refuse", "keep")


@dataclass(frozen=True)
class DecisionConfig:
    mechanism: "str | None" = None  # None: confidence, or chosen with the exits (eenn.design)
    threshold: "float | tuple | None" = None
    patience: int = 2
    tau: int = 0
    distance: str = "l1"
    max_run: int = 16
    deep: str = "cascade"

    def resolved(self, mechanism: str = DEFAULT_MECHANISM) -> "DecisionConfig":
        """This configuration with its mechanism decided (`mechanism` if it names none)."""
        return self if self.mechanism else replace(self, mechanism=mechanism)

    def validate(self, num_exits: "int | None") -> "DecisionConfig":
        """`num_exits` None: the exits are chosen automatically, with thresholds of their own."""
        if self.mechanism is not None:
            check_choice("decision.mechanism", self.mechanism, MECHANISMS)
        check_choice("decision.distance", self.distance, DISTANCES)
        check_choice("decision.deep", self.deep, DEEP)
        check_range("decision.patience", self.patience, 1, MAX_COUNT)
        check_range("decision.tau", self.tau, 0, MAX_COUNT)
        check_range("decision.max_run", self.max_run, 0, MAX_COUNT)
        if self.threshold is not None:
            values = self.threshold if isinstance(self.threshold, tuple) else (self.threshold,)
            if num_exits is None:
                raise EennError("decision.threshold: the thresholds of exits chosen automatically are calibrated; "
                                "name the exits (model.exits) to set thresholds by hand")
            if isinstance(self.threshold, tuple) and len(values) != num_exits:
                raise EennError(f"decision.threshold: {len(values)} thresholds for {num_exits} early exits; give "
                                "one number for all, or a list with one per early exit")
            entropy = self.mechanism == "entropy"
            for value in values:
                check_range("decision.threshold", value, 0, None if entropy else 1,
                            "nats of entropy" if entropy else "a probability")
        return self


@dataclass(frozen=True)
class DeploymentConfig:
    """Where the stages run: before `split` on the device, the rest on an edge host (eenn edge).
    Without an answer in `edge_timeout_ms` the device runs them itself (`fallback`) or reports
    no result. `split` None: every stage on the device, unless `link` (boards/links/) names the
    link to an edge host: the split is then chosen for the board (eenn.studies.partition), the
    least device energy with every sample within `max_latency_ms`."""

    split: "int | None" = None
    fallback: bool = True
    edge_timeout_ms: float = 200.0
    link: "str | None" = None
    max_latency_ms: "float | None" = None

    def validate(self, num_stages: int) -> "DeploymentConfig":
        if self.split is not None and not 1 <= self.split < num_stages:
            raise EennError(f"deployment.split {self.split}: the stages are 0 to {num_stages - 1}, and the device "
                            "and the edge host need at least one each")
        if self.edge_timeout_ms <= 0:
            raise EennError(f"deployment.edge_timeout_ms must be positive, not {self.edge_timeout_ms}")
        if self.link is not None:
            links.load(self.link)
            if self.split is not None:
                raise EennError(f"deployment.split {self.split} and deployment.link '{self.link}': give the split, "
                                "or the link to have it chosen, not both")
        if self.max_latency_ms is not None:
            if self.link is None:
                raise EennError("deployment.max_latency_ms bounds the latency of a split chosen for a link: set "
                                "deployment.link (or --link)")
            if self.max_latency_ms <= 0:
                raise EennError(f"deployment.max_latency_ms must be positive, not {self.max_latency_ms}")
        if self.split is None and self.link is None and not self.fallback:
            raise EennError("deployment.fallback = false needs a split: set deployment.split (or --split), or "
                            "deployment.link to have one chosen")
        return self


@dataclass(frozen=True)
class Project:
    name: str = "default"
    seed: int = 0
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    decision: DecisionConfig = field(default_factory=DecisionConfig)
    calibration: CalibrationConfig = field(default_factory=CalibrationConfig)
    deployment: DeploymentConfig = field(default_factory=DeploymentConfig)

    @property
    def entry(self) -> zoo.ZooEntry:
        """The backbone: the zoo's model, or the model file's."""
        if self.model.file is None:
            return zoo.get(self.model.name)
        path = Path(self.model.file)
        stat = path.stat() if path.exists() else None
        return _file_entry(str(path), stat and (stat.st_mtime_ns, stat.st_size))

    @property
    def automatic(self) -> bool:
        """Whether eenn.design chooses the exits: asked for, or a model file with none named."""
        return self.model.exits == AUTO or (self.model.exits is None and self.model.file is not None)

    @property
    def exit_points(self) -> tuple:
        """The exits named (or the zoo entry's default ones); none when they are chosen automatically."""
        if self.automatic:
            return ()
        return self.model.exits if self.model.exits is not None else self.entry.default_exits

    @property
    def mechanisms(self) -> tuple:
        """The decision mechanisms to consider: the one named, else confidence (or with exits
        chosen automatically, each mechanism with a calibrated threshold)."""
        if self.decision.mechanism:
            return (self.decision.mechanism,)
        return THRESHOLD_MECHANISMS if self.automatic else (DEFAULT_MECHANISM,)

    @property
    def head(self) -> "HeadSpec | tuple":
        """One HeadSpec for every exit, or one per exit when the family or width is a list."""
        family, width = self.model.head, self.model.head_width
        if isinstance(family, str) and isinstance(width, int):
            return HeadSpec(family, width)
        count = len(self.exit_points)
        families = (family,) * count if isinstance(family, str) else family
        widths = (width,) * count if isinstance(width, int) else width
        if len(families) != count or len(widths) != count:
            raise EennError(f"model.head and model.head_width need one value, or one per exit ({count})")
        return tuple(HeadSpec(f, w) for f, w in zip(families, widths))

    def validate(self) -> "Project":
        if not paths.is_plain_name(self.name):
            raise EennError(f"project name '{self.name}' must be letters, digits, '.', '_' or '-'")
        check_range("seed", self.seed, 0, MAX_COUNT)
        self.data.validate()
        check_choice("model.if_slower", self.model.if_slower, IF_SLOWER)
        if isinstance(self.model.exits, str) and self.model.exits != AUTO:
            raise EennError(f"model.exits '{self.model.exits}': give a list of exit points, or \"{AUTO}\" to have them "
                            "chosen")
        entry = self.entry
        if self.automatic:
            return self._validate_automatic(entry)
        unknown = [p for p in self.exit_points if p not in entry.exit_points]
        if unknown:
            raise EennError(f"model '{entry.name}' has no exit point '{unknown[0]}'; "
                            f"candidates: {', '.join(entry.exit_points)}")
        heads.check_order(self.exit_points, entry.exit_points)  # candidates come in network order
        heads.per_exit(self.head, len(self.exit_points))
        self.decision.validate(len(self.exit_points))
        self.training.resolved(entry.pretrained).validate(len(self.exit_points) + 1)
        self.deployment.validate(len(self.exit_points) + 1)
        mechanism = self.mechanisms[0]
        if self.calibration.method != NO_CALIBRATION:
            self.calibration.validate(mechanism)
        elif self.decision.threshold is None and mechanism in THRESHOLD_MECHANISMS:
            raise EennError(f"decision.threshold is not given and calibration.method is '{NO_CALIBRATION}': "
                            f"give a threshold, or one of {', '.join(riskcontrol.METHODS)}")
        return self

    def _validate_automatic(self, entry) -> "Project":
        """What exits chosen automatically need: a trained backbone to train heads on, frozen,
        and thresholds to calibrate."""
        self.decision.validate(None)
        training = self.training.resolved(entry.pretrained)
        if self.training.mode == "joint":
            raise EennError(f"model.exits \"{AUTO}\" trains every candidate head on the frozen backbone; training.mode "
                            "joint needs the exits named (model.exits)")
        if training.exit_loss_weights is not None:
            raise EennError("training.exit_loss_weights weigh named exits; with exits chosen automatically, leave "
                            "them out")
        training.validate(1)
        if self.calibration.method == NO_CALIBRATION:
            raise EennError(f"exits chosen automatically are chosen under the risk bound: calibration.method "
                            f"'{NO_CALIBRATION}' needs the exits named (model.exits)")
        for mechanism in self.mechanisms:
            self.calibration.validate(mechanism)
        if self.deployment.split is not None:
            raise EennError("deployment.split names a stage of exits not chosen yet: name the exits (model.exits), "
                            "or name the link (deployment.link) to have the split chosen with them")
        self.deployment.validate(2)
        return self


_SECTIONS = {"data": DataConfig, "model": ModelConfig, "training": TrainingConfig, "decision": DecisionConfig,
             "calibration": CalibrationConfig, "deployment": DeploymentConfig}


def load(path: "Path | None" = None, **changes) -> Project:
    """The project described by a TOML file (the defaults when `path` is None), with `changes`
    (see `override`) applied, validated: an error names the file."""
    if path is None:
        return _validated(override(Project(), **changes), None)
    path = Path(path)
    try:
        with open(path, "rb") as f:
            doc = tomllib.load(f)
    except FileNotFoundError:
        raise EennError(f"{path}: no such project file") from None
    except IsADirectoryError:
        raise EennError(f"{path}: a directory, not a file; give the project file (.toml)") from None
    except OSError as e:
        raise EennError(f"{path}: cannot read the project file ({e.strerror})") from None
    except UnicodeDecodeError:
        raise EennError(f"{path}: not a text file; a project file is TOML text (see README, 'Options and the "
                        "project file')") from None
    except tomllib.TOMLDecodeError as e:
        raise EennError(f"{path}: not valid TOML ({e})") from None
    return _validated(override(from_document(doc, str(path)), **changes), str(path))


def _validated(project: Project, source: "str | None") -> Project:
    try:
        return project.validate()
    except EennError as e:
        if source is None:
            raise
        raise EennError(f"{source}: {e}") from None


def from_document(doc: dict, source: str) -> Project:
    """A project from its TOML (or JSON) document; `source` names it in errors."""
    top = {}
    sections = {}
    for key, value in doc.items():
        if key in _SECTIONS:
            if not isinstance(value, dict):
                raise EennError(f"{source}: '{key}' must be a table ([{key}])")
            sections[key] = fields.from_table(_SECTIONS[key], value, source, f"{key}.")
        elif key in ("name", "seed"):
            top[key] = fields.typed(source, key, value, "str" if key == "name" else "int")
        else:
            raise EennError(f"{source}: unknown key '{key}'; expected name, seed, or a table {', '.join(_SECTIONS)}")
    return Project(**top, **sections)


@functools.lru_cache(maxsize=8)
def _file_entry(path: str, stamp) -> zoo.ZooEntry:
    """A model file's entry, read once per file version (`stamp`: modification time and size)."""
    from .frontend import augment

    return augment.entry(Path(path))


def as_dict(project: Project) -> dict:
    """The project as a TOML document (keys left at None are left out)."""
    def clean(value):
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items() if v is not None}
        return list(value) if isinstance(value, tuple) else value

    return clean(asdict(project))


def override(project: Project, **changes) -> Project:
    """Apply CLI flags given as 'section.key' (or top-level) -> value; None means not given."""
    for dotted, value in changes.items():
        if value is None:
            continue
        if "." in dotted:
            section, key = dotted.split(".", 1)
            project = replace(project, **{section: replace(getattr(project, section), **{key: value})})
        else:
            project = replace(project, **{dotted: value})
    return project
