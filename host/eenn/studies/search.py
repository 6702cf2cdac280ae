"""Where to put exits, and how big their heads are, under a board's budget: a multi-objective
search with Optuna (NSGA-II) over a trained backbone's candidate exits.

The search starts from what the automatic design (eenn.design) knows: every candidate head
trained in one pass on the frozen backbone (the same cached training) and scored, and the
heads whose point and head cost the network's MACs or more are left out of the space. A trial
picks a subset of the candidate exits (at least one), one of the heads that can pay per exit,
and how much of the certified range of thresholds to use. It is built like any project
(eenn.pipeline.build with training mode "candidates": its heads' weights from that one pass;
int8 stages; TFLM records; thresholds certified with risk control), and the generator plans
its memory; a trial that cannot be built is infeasible. Every trial's thresholds are certified
at the project's epsilon and delta; its calibration headroom (0: the cheapest certified
threshold, 1: never exit early) trades cost for accuracy inside the guarantee. Objectives, on
the calibration split: accuracy of the EENN (maximized) and its expected cost per inference
(minimized), P(exit) coming from the certified decision: MACs, or cycles or energy on the
board from its CPU's cost table (eenn.costs.predict). Constraints: the board's RAM (arena +
stack) and flash (constants + the runtime's allowance), and optionally a largest worst-case
MACs and a smallest accuracy. NSGA-II evolves generations of `population` trials; the first
one is random sampling.

The study lives in a storage: by default a SQLite file under generated/search/<name>/, so an
interrupted search resumes where it stopped; with `storage` a PostgreSQL URL, workers on many
machines share one study (each trains the backbone itself; a worker whose backbone differs
from the study's is refused). The choice written as a project file is the cheapest Pareto
point within `max_loss` of the full network's accuracy.
"""

import math
import os
import socket
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .. import design, pipeline, project
from ..codegen import features
from ..costs import predict
from ..decision import mechanisms
from ..errors import EennError, check_choice, check_range
from ..limits import MAX_EPOCHS
from ..firmware import image
from ..frontend import training
from ..hardware import boards
from ..util import atomic, plots, tables

RUNTIME_FLASH_BYTES = 12 * 1024  # flash allowed for the runtime and decision logic beside the constants
OBJECTIVES = {"macs": "expected MACs per inference (% of the full network)",
              "cycles": "expected cycles per inference (thousands)",
              "energy": "expected energy per inference (uJ)"}
BACKBONE = "backbone.keras"
CHOICE = "project.toml"


@dataclass(frozen=True)
class SearchConfig:
    trials: int = 20
    board: str = "nrf52"
    objective: str = "macs"  # the cost minimized: one of OBJECTIVES
    max_loss: float = 0.01  # the choice: cheapest Pareto point within this of the full accuracy
    max_macs: "int | None" = None
    min_accuracy: "float | None" = None
    epochs: "int | None" = None  # the one-pass training of every candidate head; None: the project's
    population: int = 10  # NSGA-II's generation size: its first generation is random sampling
    seed: int = 0

    def validate(self) -> "SearchConfig":
        check_range("search trials", self.trials, 1)
        check_choice("search objective", self.objective, OBJECTIVES)
        check_range("search max_loss", self.max_loss, 0, 1)
        if self.max_macs is not None:
            check_range("search max_macs", self.max_macs, 1)
        if self.min_accuracy is not None:
            check_range("search min_accuracy", self.min_accuracy, 0, 1)
        if self.epochs is not None:
            check_range("search epochs", self.epochs, 1, MAX_EPOCHS)
        check_range("search population", self.population, 2, why="NSGA-II breeds pairs")
        return self


def prepare_backbone(base: project.Project, directory: Path, progress: bool = True) -> Path:
    """The trained backbone as a model file: the project's own file, or its zoo backbone
    trained without exits (cached)."""
    if base.model.file:
        return Path(base.model.file)
    entry = base.entry
    split, trained = pipeline.load_split(base, entry)
    if not trained:
        raise EennError(f"model '{entry.name}' has no data to train on: a search needs a trained backbone")
    path = Path(directory) / BACKBONE
    if not path.exists():
        training.save(training.train_backbone(entry, split, base.training, base.seed, progress), path)
    return path


def _trial_project(trial, base: project.Project, backbone: Path, candidates: dict, epochs: int) -> project.Project:
    chosen = [c for c in candidates if trial.suggest_categorical(f"exit:{c}", [False, True])]
    if not chosen:
        import optuna

        raise optuna.TrialPruned("no exit chosen")
    labels = [trial.suggest_categorical(f"head:{c}", list(candidates[c])) for c in chosen]
    options = {design.label(h): h for h in design.HEAD_OPTIONS}
    heads = [options[x] for x in labels]
    headroom = trial.suggest_float("headroom", 0.0, 1.0)
    return project.override(base, name=f"trial-{trial.number}", **{
        "model.file": str(backbone), "model.exits": tuple(chosen),
        "model.head": tuple(h.family for h in heads), "model.head_width": tuple(h.width for h in heads),
        "model.if_slower": "keep", "training.mode": "candidates", "training.epochs": epochs,
        "decision.mechanism": "confidence", "decision.threshold": None, "calibration.headroom": headroom})


def payable_heads(base: project.Project, backbone: Path, epochs: int, out_root: Path, progress: bool = True) -> dict:
    """Per candidate point, the heads (eenn.design's labels) whose point and head cost less than
    the network: every candidate head trained in one pass and scored, as the automatic design
    does (and with its cache, so a search after a build trains nothing)."""
    proj = project.override(base, **{"model.file": str(backbone), "training.epochs": epochs})
    entry = proj.entry
    split, _ = pipeline.load_split(proj, entry)
    model, pairs, path = design.train(entry, split, proj.training, proj.seed, Path(out_root) / ".cache" / "models",
                                      progress)
    _, macs, _ = design.scores(entry, model, pairs, split, design.scores_file(path), progress)
    payable = {}
    for (point, head), (reach, own) in zip(pairs, macs):
        if reach + own < macs[-1][0]:
            payable.setdefault(point, []).append(design.label(head))
    if not payable:
        raise EennError(f"no candidate head of {entry.name} costs less than the network itself: nothing to search")
    return payable


def evaluate(trial, base: project.Project, backbone: Path, candidates: dict, epochs: int, config: SearchConfig,
             board: boards.Board, table: predict.Table, directory: Path) -> tuple:
    """Build the trial's EENN (`candidates`: payable_heads) and return (accuracy, expected cost)
    on the calibration split."""
    proj = _trial_project(trial, base, backbone, candidates, epochs)
    try:
        built = pipeline.build(proj, directory, progress=False, log=lambda *_: None).build
        generated, _ = pipeline.generate(built)
    except EennError as e:  # this design cannot become firmware (e.g. a stage boundary of two tensors)
        import optuna

        trial.set_user_attr("refused", str(e))
        raise optuna.TrialPruned(f"cannot be built: {e}") from None
    manifest = built.manifest
    calib = built.records("calib")
    cumulative = manifest.cumulative_macs
    spec = manifest.decision.spec
    results = {"calib": mechanisms.evaluate(calib, spec, cumulative, manifest.full_model_macs),
               "test": manifest.metrics.policy}
    instructions = [table.instructions(features.stage_kernels(s.segments)) for s in generated.stages]
    for split in ("calib", "test"):
        cost = predict.on_board(board, predict.expected(results[split]["exit_histogram"], instructions))
        results[split] = {**results[split], "cost": cost}
    weights = sum(s.weight_bytes for s in generated.stages)
    ram = generated.plan.arena_bytes + image.STACK_BYTES
    flash = weights + RUNTIME_FLASH_BYTES
    trial.set_constraint("ram", ram - board.memory.ram_bytes)
    trial.set_constraint("flash", flash - board.memory.flash_bytes)
    if config.max_macs is not None:
        trial.set_constraint("max_macs", cumulative[-1] - config.max_macs)
    if config.min_accuracy is not None:
        trial.set_constraint("min_accuracy", config.min_accuracy - results["calib"]["accuracy"])
    trial.set_user_attr("project", project.as_dict(replace(proj, name=f"{base.name}-search")))
    trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
    trial.set_user_attr("summary", {
        "exits": list(proj.model.exits), "heads": list(proj.model.head), "widths": list(proj.model.head_width),
        "thresholds": list(spec.thresholds), "calib": results["calib"], "test": results["test"],
        "full_accuracy": float(np.mean(calib.predictions[:, -1] == calib.labels)),
        "full_macs": manifest.full_model_macs, "ram": ram, "flash": flash, "directory": str(built.directory)})
    return results["calib"]["accuracy"], objective_value(config.objective, results["calib"])


def objective_value(objective: str, result: dict) -> float:
    """The cost a trial minimizes, from its evaluation on a split (plotted as is, but MACs)."""
    if objective == "macs":
        return result["mean_macs"]
    if objective == "cycles":
        return result["cost"]["cycles"] / 1e3
    return result["cost"]["energy_j"] * 1e6


def study_directory(out_root: Path, name: str) -> Path:
    """Where a study keeps its backbone, trials, storage and results."""
    return Path(out_root) / "search" / name


def storage_url(storage: "str | None", directory: Path) -> str:
    return storage or f"sqlite:///{(Path(directory) / 'study.db').resolve()}"


def check_storage(storage: "str | None") -> None:
    """Refuse a storage URL that SQLAlchemy cannot parse or has no database driver for."""
    if storage is None:
        return
    import sqlalchemy

    try:
        sqlalchemy.engine.make_url(storage).get_dialect()
    except (sqlalchemy.exc.ArgumentError, sqlalchemy.exc.NoSuchModuleError, ValueError) as e:
        first = str(e).strip().splitlines()[0]
        raise EennError(f"--storage '{storage}' is not a database URL SQLAlchemy can open ({first}); e.g. "
                        "postgresql://user@host/db or sqlite:///study.db") from None


def open_study(name: str, storage, seed: int, population: int = SearchConfig.population, attempts: int = 5):
    """The study `name` in `storage`, made if new. Workers starting together on a fresh database
    race to create its tables; the loser tries again."""
    import optuna
    import sqlalchemy

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    for attempt in range(attempts):
        try:
            return optuna.create_study(study_name=name, storage=storage, load_if_exists=True,
                                       sampler=optuna.samplers.NSGAIISampler(population_size=population, seed=seed),
                                       directions=["maximize", "minimize"])
        except sqlalchemy.exc.SQLAlchemyError as e:
            if attempt == attempts - 1:
                first = str(e).strip().splitlines()[0]
                raise EennError(f"study storage: {first}") from None
            time.sleep(1 + attempt)


def _finished(study) -> int:
    """Trials that ended: complete, or pruned (no exit chosen)."""
    import optuna

    done = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    return sum(t.state in done for t in study.get_trials(deepcopy=False))


def meets_constraints(trial) -> bool:
    return trial.values is not None and bool(trial.constraints) and all(c <= 0 for c in trial.constraints.values())


def feasible_front(study) -> list:
    """The Pareto-optimal trials that meet every constraint."""
    return [t for t in study.best_trials if meets_constraints(t)]


def run(base: project.Project, config: SearchConfig, out_root: Path = Path("generated"), storage=None,
        progress: bool = True, log=print):
    """Run trials until the study has `config.trials` finished ones; return the study."""
    from tqdm import tqdm

    board = boards.get(config.validate().board)
    check_storage(storage)
    if config.objective == "energy" and board.power is None:
        raise EennError(f"board {board.name} has no power figure: search with --objective cycles or macs")
    table = predict.load(board.cpu)  # a missing or stale cost table stops the search before any training
    base = project.override(base, **{"data.source": base.data.source or base.entry.dataset}).validate()
    directory = study_directory(out_root, base.name)
    directory.mkdir(parents=True, exist_ok=True)
    backbone = prepare_backbone(base, directory, progress)
    study = open_study(base.name, storage_url(storage, directory), config.seed, config.population)
    digest = project.override(base, **{"model.file": str(backbone)}).entry.digest
    for key, mine, hint in [("backbone", digest, "train it with the same data, seed and versions"),
                            ("objective", config.objective, "start a study of another name"),
                            ("board", board.name, "start a study of another name")]:
        known = study.user_attrs.get(key)
        if known is None:
            study.set_user_attr(key, mine)
        elif known != mine:
            raise EennError(f"study '{base.name}' was made with {key} {known}; this worker's is {mine} ({hint})")
    epochs = config.epochs or base.training.epochs
    candidates = payable_heads(base, backbone, epochs, out_root, progress)
    bar = tqdm(total=config.trials, initial=_finished(study), desc=f"search {base.name}", unit="trial",
               file=sys.stderr, disable=not progress)
    while _finished(study) < config.trials:
        study.optimize(lambda t: evaluate(t, base, backbone, candidates, epochs, config, board, table, directory),
                       n_trials=1)
        bar.n = _finished(study)
        bar.set_postfix_str(f"pareto {len(feasible_front(study))}")
        bar.refresh()
    bar.close()
    return study


def choose(front: list, max_loss: float):
    """The cheapest Pareto trial within `max_loss` of the full network's accuracy, else the most
    accurate."""
    if not front:
        raise EennError("no trial meets the constraints; relax them or run more trials")
    within = [t for t in front if t.values[0] >= t.user_attrs["summary"]["full_accuracy"] - max_loss - 1e-12]
    return min(within, key=lambda t: t.values[1]) if within else max(front, key=lambda t: t.values[0])


def table(study) -> str:
    front = {t.number for t in feasible_front(study)}
    rows = []
    for t in sorted(study.get_trials(deepcopy=False), key=lambda t: t.values[1] if t.values else math.inf):
        if t.values is None:
            continue
        s = t.user_attrs["summary"]
        heads = ", ".join(f"{e}:{h}{w if h == 'conv' else ''}" for e, h, w in zip(s["exits"], s["heads"], s["widths"]))
        energy = s["calib"]["cost"]["energy_j"]
        rows.append([t.number, "*" if t.number in front else "", heads, f"{100 * t.values[0]:.1f}%",
                     f"{100 * s['calib']['mean_macs_relative']:.1f}%", f"{s['calib']['cost']['cycles']:,.0f}",
                     "n/a" if energy is None else f"{1e6 * energy:,.1f}", f"{100 * s['test']['accuracy']:.1f}%",
                     f"{100 * s['test']['mean_macs_relative']:.1f}%", f"{s['ram']:,}", f"{s['flash']:,}"])
    return tables.table(["trial", "pareto", "exits (head, width)", "calib acc", "calib MACs", "calib cycles",
                         "calib uJ", "test acc", "test MACs", "RAM", "flash"], rows)


def plot(study, title: str, path: Path, chosen=None) -> None:
    """Every trial's accuracy against its expected cost, the feasible Pareto front and the choice."""
    objective = study.user_attrs["objective"]

    def point(t):
        if objective == "macs":
            return 100 * t.values[1] / t.user_attrs["summary"]["full_macs"], 100 * t.values[0]
        return t.values[1], 100 * t.values[0]

    done = [t for t in study.get_trials(deepcopy=False) if t.values is not None]
    front = sorted(feasible_front(study), key=lambda t: t.values[1])
    fig, ax = plots.figure()
    if done:
        ax.scatter(*zip(*map(point, done)), color="lightgray", label="trials")
        ax.axhline(100 * done[0].user_attrs["summary"]["full_accuracy"], color="k", linestyle="--", linewidth=1,
                   label="full network")
    if front:
        ax.plot(*zip(*map(point, front)), marker="o", label="Pareto front")
    if chosen is not None:
        ax.scatter(*point(chosen), s=120, facecolors="none", edgecolors="r", label=f"chosen: trial {chosen.number}")
    plots.save(fig, ax, path, title, OBJECTIVES[objective], "accuracy on the calibration split (%)")


def report(study, name: str, config: SearchConfig, out_root: Path = Path("generated")) -> tuple:
    """A study's table, plot and choice, written into its directory (pareto.txt, pareto.png and
    the chosen trial as a project file); the table as text and the chosen trial."""
    directory = study_directory(out_root, name)
    text = table(study)
    refused = [t for t in study.get_trials(deepcopy=False) if "refused" in t.user_attrs]
    if refused:
        text += (f"\n{len(refused)} trial(s) could not be built and count as infeasible; trial {refused[0].number}: "
                 f"{refused[0].user_attrs['refused']}")
    atomic.write_text(directory / "pareto.txt", text + "\n")
    chosen = choose(feasible_front(study), config.max_loss)
    plot(study, f"{name}: {config.trials} trials", directory / "pareto.png", chosen)
    write_choice(chosen, directory / CHOICE)
    return text, chosen


def write_choice(trial, path: Path) -> dict:
    """The chosen trial's project as a file that `eenn build` and `make firmware` accept."""
    import tomli_w

    doc = trial.user_attrs["project"]
    atomic.write_text(path, tomli_w.dumps(doc))
    return doc
