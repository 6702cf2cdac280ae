"""The automatic design (eenn.design) against a search (eenn.studies.search) on four models:
the zoo's digits-cnn and mnist1d-cnn, and two trained Keras models eenn had not seen
(eenn.studies.usermodels). Per model: the network's own MACs and accuracy, the automatic
build's expected MACs and accuracy on the test split and its wall time, and the same for
the search's cheapest trial (every trial's thresholds certified at the same risk bound) and
the search's time. `make augment-study` runs it and writes docs/augment.md and augment.png
(the figures as JSON in generated/augment-study/results.json).

    python -m eenn.studies.augmentation [--trials 40] [--out generated] [--docs docs]
"""

import argparse
import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path

from .. import pipeline, project
from ..util import atomic, plots, tables
from . import search, usermodels

MODELS = {"digits-cnn": None, "mnist1d-cnn": None, "depthwise_residual_2d": "digits", "residual_1d": "mnist1d"}
TRIALS = 40
WITHIN = 0.10  # the automatic design's expected MACs at most this much above the search's best
TIME_SHARE = 0.2  # ... in at most this share of the search's time


def base_project(name: str, out_root: Path, progress: bool = True) -> project.Project:
    """A study model's project, its exits chosen automatically: the trained model as a file
    (a zoo model's backbone trained alone first, as eenn search does), outside either timing."""
    directory = Path(out_root) / "augment-study"
    if MODELS[name] is None:
        zoo_project = project.override(project.Project(), name=name, **{"model.name": name})
        path = search.prepare_backbone(zoo_project, search.study_directory(out_root, name), progress)
        source = zoo_project.entry.dataset
    else:
        path, source = usermodels.train(name, directory / f"{name}.keras"), MODELS[name]
    return project.override(project.Project(), name=f"study-{name}",
                            **{"model.file": str(path), "data.source": source})


def _cold(directory: Path) -> Path:
    """An output directory emptied: no cached heads, scores or trials carry over into a timing."""
    shutil.rmtree(directory, ignore_errors=True)
    return directory


def run_model(name: str, out_root: Path, trials: int = TRIALS, progress: bool = True, log=print) -> dict:
    """The automatic build and the search, each in its own output directory from a cold start
    (each trains the one-pass heads it starts from)."""
    base = base_project(name, out_root, progress)
    directory = Path(out_root) / "augment-study"
    start = time.monotonic()
    built = pipeline.build(base, _cold(directory / "auto"), progress=progress, log=log).build
    auto_seconds = time.monotonic() - start
    m = built.manifest
    test = m.metrics.policy
    start = time.monotonic()
    study = search.run(base, search.SearchConfig(trials=trials), _cold(directory / "search"), progress=progress,
                       log=log)
    search_seconds = time.monotonic() - start
    best = min((t for t in study.get_trials(deepcopy=False) if search.meets_constraints(t)), key=lambda t: t.values[1])
    summary = best.user_attrs["summary"]
    return {
        "model": name, "full_macs": m.full_model_macs, "full_accuracy": m.metrics.int8_accuracy[-1],
        "auto": {"exits": list(m.model.exit_points), "heads": m.model.head, "mechanism": m.decision.spec.mechanism,
                 "mean_macs": test["mean_macs"], "accuracy": test["accuracy"], "seconds": auto_seconds},
        "search": {"trials": trials, "best_trial": best.number, "exits": summary["exits"],
                   "mean_macs": summary["test"]["mean_macs"], "accuracy": summary["test"]["accuracy"],
                   "seconds": search_seconds},
    }


def checks(result: dict) -> dict:
    auto, best = result["auto"], result["search"]
    return {"never above the network": auto["mean_macs"] <= result["full_macs"],
            f"within {100 * WITHIN:g}% of the search's best": auto["mean_macs"] <= (1 + WITHIN) * best["mean_macs"],
            f"at most {TIME_SHARE:g} of its time": auto["seconds"] <= TIME_SHARE * best["seconds"]}


def table(results: list) -> str:
    """Per model: the network, the automatic design and the search's best, and the targets missed."""
    rows = []
    for r in results:
        full, auto, best = r["full_macs"], r["auto"], r["search"]
        figures = [[f"{100 * x['mean_macs'] / full:.1f}%", f"{100 * x['accuracy']:.1f}%", f"{x['seconds']:.0f}"]
                   for x in (auto, best)]
        rows.append([r["model"], f"{full:,}", f"{100 * r['full_accuracy']:.1f}%", *figures[0], *figures[1],
                     ", ".join(k for k, ok in checks(r).items() if not ok) or "all met"])
    header = ["model", "network MACs", "network acc", "auto MACs", "auto acc", "auto s", "search best MACs",
              "search acc", "search s", "targets"]
    lines = [tables.table(header, rows)]
    for r in results:
        lines.append(f"{r['model']}: auto {', '.join(r['auto']['exits']) or 'no exits'} "
                     f"({r['auto']['mechanism']}); search trial {r['search']['best_trial']}: "
                     f"{', '.join(r['search']['exits'])}")
    return "\n".join(lines)


def markdown(results: list) -> str:
    trials = results[0]["search"]["trials"]
    return "\n".join([
        "# The automatic design against a search",
        "",
        "Made by `make augment-study` (`python -m eenn.studies.augmentation`) on "
        f"{os.cpu_count()} cores ({platform.machine()}). Per model: the network's own MACs and int8 "
        "accuracy on the test split; the build with its exits chosen automatically (`eenn build "
        "--model-file m.keras`: every candidate head trained in one pass, a greedy choice on half the "
        "calibration split, certified on the other half), its expected MACs and accuracy on the test "
        f"split and its wall time (s); and the cheapest of {trials} `eenn search` trials that meet the "
        "board's budgets (nrf52), every trial certified at the same risk bound (consistency risk <= "
        "0.05 with probability 0.9, ucb-hb), with the search's wall time. Each starts cold, with "
        "no cache, and trains the one-pass heads itself; a zoo model's backbone is trained once "
        "beforehand, outside both timings. Targets: the design never above the network, "
        f"within {100 * WITHIN:g}% of the search's best, in at most {TIME_SHARE:g} of its time.",
        "",
        "```",
        table(results),
        "```",
        "",
        "![expected MACs of the automatic design and of the search's best](augment.png)",
        "",
    ])


def plot(results: list, path: Path) -> None:
    """Each model's expected MACs, the design's beside the search's best, each bar labelled
    with the wall time it took."""
    fig, ax = plots.figure(7.5, 4.0)
    names = [r["model"] for r in results]
    x = range(len(names))
    for kind, offset, label in [("auto", -0.2, "automatic design"),
                                ("search", 0.2, f"search, best of {results[0]['search']['trials']} trials")]:
        bars = ax.bar([i + offset for i in x], [100 * r[kind]["mean_macs"] / r["full_macs"] for r in results], 0.4,
                      label=label)
        ax.bar_label(bars, [f"{r[kind]['seconds']:.0f} s" for r in results], fontsize=8)
    ax.axhline(100, color="k", linestyle="--", linewidth=1, label="the network alone")
    ax.set_xticks(list(x), names, fontsize=8)
    ax.set_ylim(top=115)
    plots.save(fig, ax, path, "Expected MACs on the test split at the same certified risk (wall time on each bar)",
               "", "expected MACs (% of the network)")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=TRIALS)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--out", type=Path, default=Path("generated"))
    parser.add_argument("--docs", type=Path, default=Path("docs"))
    args = parser.parse_args(argv)
    results = [run_model(name, args.out, args.trials, log=lambda line: print(line, file=sys.stderr))
               for name in args.models.split(",")]
    atomic.write_text(args.out / "augment-study" / "results.json", json.dumps(results, indent=1) + "\n")
    atomic.write_text(args.docs / "augment.md", markdown(results))
    plot(results, args.docs / "augment.png")
    print(table(results))
    return 0 if all(all(checks(r).values()) for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
