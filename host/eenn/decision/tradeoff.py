"""Accuracy against cost for every decision mechanism over a range of its parameter, on
i.i.d. test records or on a stream: a table and a plot (one curve per mechanism)."""

from dataclasses import replace
from pathlib import Path

from ..util import plots
from ..util.tables import table as text_table
from . import mechanisms

CASCADE_THRESHOLD = 0.9  # the temporal mechanisms' cascade when the project's thresholds are calibrated
# The parameter each mechanism is swept over, and its values.
GRID = {
    "confidence": ("threshold", (0.5, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0)),
    "margin": ("threshold", (0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 1.0)),
    "entropy": ("threshold", (0.02, 0.05, 0.1, 0.2, 0.4, 0.7, 1.0)),
    "patience": ("patience", (1, 2, 3)),
    "difference": ("tau", (0, 8, 16, 32, 64, 128, 256)),
    "temporal-patience": ("patience", (1, 2, 3, 5, 8)),
}


def sweep(records, config, exit_quantizations: list, cumulative_macs: list, full_macs: int, starts=None) -> list:
    """One row per mechanism and parameter value: the project's [decision] with that change."""
    rows = []
    for mechanism, (parameter, values) in GRID.items():
        for value in values:
            c = replace(config, mechanism=mechanism, **{parameter: value})
            if mechanism in mechanisms.TEMPORAL:  # the cascade keeps the project's thresholds, if it has some
                c = replace(c, threshold=CASCADE_THRESHOLD if config.threshold is None else config.threshold)
            spec = mechanisms.spec_for(c, exit_quantizations)
            result = mechanisms.evaluate(records, spec, cumulative_macs, full_macs, starts)
            rows.append({"mechanism": mechanism, "parameter": parameter, "value": value, **result})
    return rows


def table(rows: list) -> str:
    return text_table(
        ["mechanism", "parameter", "accuracy", "MACs of full", "exits taken"],
        [[r["mechanism"], f"{r['parameter']}={r['value']}", f"{100 * r['accuracy']:.1f}%",
          f"{100 * r['mean_macs_relative']:.1f}%", " / ".join(map(str, r["exit_histogram"]))] for r in rows])


def plot(rows: list, title: str, path: Path) -> None:
    fig, ax = plots.figure()
    for mechanism in GRID:
        points = sorted((100 * r["mean_macs_relative"], 100 * r["accuracy"]) for r in rows
                        if r["mechanism"] == mechanism)
        ax.plot(*zip(*points), marker="o", label=mechanism)
    plots.save(fig, ax, path, title, "mean MACs per inference (% of the full network)", "accuracy (%)")
