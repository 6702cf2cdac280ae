"""The guarantees hold over random calibration/test splits: thresholds certified on the
calibration part keep the test part's risk below epsilon in all but delta of 500 splits (UCB,
LTT), or on average (CRC).

The records are seeded synthetic exit outputs with a known structure (tests/synthetic.py), so
that the checks that a method does exit early, and that the unbounded choice fails, do not
depend on what one machine's training produced; the guarantee alone is also checked on the
default build's own records, whatever model that is.

Run as a script on a build (`.venv/bin/python tests/test_calibration_validity.py generated/default`)
it prints the table of docs/calibration.md."""

import sys

import numpy as np
import pytest

import synthetic
from eenn import artifact
from eenn.decision import calibration, riskcontrol, risks, streams
from eenn.decision.mechanisms import DecisionSpec
from eenn.tflite.reference import Records

SPLITS = 500
DELTA = 0.1
TOLERANCE = 3 * np.sqrt(DELTA * (1 - DELTA) / SPLITS)  # of the share of splits breaking epsilon
CHUNK = 50  # splits calibrated at once (memory: CHUNK x samples x settings)
EPSILON = {"consistency": 0.05, "prediction-gap": 0.03, "brier-gap": 0.1, "brier-consistency": 0.1,
           "hellinger": 0.05}
VARIANTS = [(name, False) for name in risks.RISKS] + [(n, True) for n, r in risks.RISKS.items() if r.low < 0]


def _pool(build):
    """Every recorded sample of a build, its exits' quantizations and cumulative MACs."""
    parts = [build.records(name) for name in ("calib", "test")]
    records = Records(np.concatenate([p.probs for p in parts]), np.concatenate([p.labels for p in parts]))
    return records, build.manifest.exit_quantizations, build.manifest.cumulative_macs


@pytest.fixture(scope="module")
def pool():
    return synthetic.records(), [synthetic.SOFTMAX] * 3, list(synthetic.CUMULATIVE_MACS)


def _confidence_losses(pool, risk, clip):
    """Loss and MACs per sample and shared confidence threshold (every int8 level)."""
    records, quantizations, cumulative = pool
    grid = calibration.grid("confidence", DecisionSpec(), records.num_exits, records.probs.shape[-1],
                            quantizations[0])
    losses, exits = calibration.setting_losses(grid.specs, risk, clip, records, quantizations)
    return losses, np.asarray(cumulative, np.float64)[exits]


def _splits(n: int, calib: int, seed: int = 0):
    order = np.argsort(np.random.default_rng(seed).random((SPLITS, n)), axis=1)
    return order[:, :calib], order[:, calib:]


def _test_risk_of_chosen(losses, costs, method, epsilon, low, high, calib_rows, test_rows):
    """Per split: the cheapest certified setting on the calibration rows, its test-row risk."""
    chosen = np.empty(SPLITS, np.int64)
    for start in range(0, SPLITS, CHUNK):
        rows = calib_rows[start:start + CHUNK]
        result = riskcontrol.calibrate(losses[rows], method, epsilon, DELTA, low, high, bounds=False)
        chosen[start:start + CHUNK] = riskcontrol.cheapest(result.certified, costs[rows].mean(axis=1))
    chosen = np.maximum(chosen, 0)  # nothing certified: never exit early, index 0
    return losses[test_rows, chosen[:, None]].mean(axis=1), chosen


@pytest.mark.parametrize("name, clip", VARIANTS)
def test_risk_control_holds_over_random_splits(pool, name, clip):
    risk = risks.get(name)
    low, high = risk.bounds(clip)
    epsilon = EPSILON[name]
    losses, costs = _confidence_losses(pool, risk, clip)
    calib_rows, test_rows = _splits(len(losses), len(losses) // 2)
    for method in riskcontrol.GUARANTEED_WITH_DELTA:
        test_risk, chosen = _test_risk_of_chosen(losses, costs, method, epsilon, low, high, calib_rows, test_rows)
        assert np.mean(test_risk > epsilon) <= DELTA + TOLERANCE, method
    test_risk, chosen = _test_risk_of_chosen(losses, costs, "crc", epsilon, low, high, calib_rows, test_rows)
    assert test_risk.mean() <= epsilon + 3 * test_risk.std() / np.sqrt(SPLITS)
    assert np.mean(chosen > 0) > 0.9  # CRC does exit early: the check is not vacuous


def test_the_empirical_choice_breaks_the_guarantee_the_others_keep(pool):
    """Choosing the threshold whose calibration risk just meets epsilon, with no bound, exceeds
    epsilon on the test part in far more than delta of the splits: the test can fail."""
    losses, costs = _confidence_losses(pool, risks.get("consistency"), False)
    calib_rows, test_rows = _splits(len(losses), len(losses) // 2, seed=1)
    empirical, _ = _test_risk_of_chosen(losses, costs, "empirical", 0.05, 0.0, 1.0, calib_rows, test_rows)
    bounded, chosen = _test_risk_of_chosen(losses, costs, "ucb-hb", 0.05, 0.0, 1.0, calib_rows, test_rows)
    assert np.mean(empirical > 0.05) > 0.3
    assert np.mean(bounded > 0.05) <= DELTA and np.mean(chosen > 0) == 1.0


def test_per_exit_thresholds_keep_the_guarantee(pool):
    """Thresholds per exit (a path found on one half, tested on the other), 500 splits."""
    records, quantizations, cumulative = pool
    settings = calibration.CalibrationConfig(method="ltt-hb", per_exit=True)
    violations = 0
    rng = np.random.default_rng(2)
    for _ in range(SPLITS):
        order = rng.permutation(len(records))
        calib, test = (Records(records.probs[rows], records.labels[rows])
                       for rows in (order[: len(order) // 2], order[len(order) // 2:]))
        result = calibration.calibrate(settings, DecisionSpec(), calib, test, quantizations, cumulative,
                                       cumulative[-1], seed=int(rng.integers(1 << 30)), warn=lambda _: None)
        violations += result.test_risk > settings.epsilon
    assert violations / SPLITS <= DELTA + TOLERANCE


def test_the_guarantee_holds_on_the_default_builds_records(default_build):
    """Whatever model this machine trained: only the guarantee is asserted, not how early it exits."""
    losses, costs = _confidence_losses(_pool(default_build),
                                       risks.get("consistency"), False)
    calib_rows, test_rows = _splits(len(losses), len(losses) // 2)
    for method in riskcontrol.GUARANTEED_WITH_DELTA:
        test_risk, _ = _test_risk_of_chosen(losses, costs, method, 0.05, 0.0, 1.0, calib_rows, test_rows)
        assert np.mean(test_risk > 0.05) <= DELTA + TOLERANCE, method


def test_temporal_calibration_over_streams_keeps_the_guarantee(pool):
    """Difference Detection's tau certified with streams as units: 300 streams of 20 steps
    drawn from the pool, 500 random halvings into calibration and test streams."""
    records, quantizations, cumulative = pool
    rng = np.random.default_rng(3)
    streams_, steps = 300, 20
    order = np.concatenate([streams.scenes(records.labels, steps, rng) for _ in range(streams_)])
    starts = np.zeros(len(order), bool)
    starts[::steps] = True
    stream_records = Records(records.probs[order], records.labels[order])
    base = DecisionSpec("difference", (103, 103), tau=0)
    grid = calibration.grid("difference", base, records.num_exits, records.probs.shape[-1], quantizations[0])
    losses, exits = calibration.setting_losses(grid.specs, risks.get("consistency"), False, stream_records,
                                               quantizations, starts)
    costs = calibration.unit_means(np.asarray(cumulative, np.float64)[exits], starts)
    assert losses.shape == (streams_, len(grid.specs))
    calib_rows, test_rows = _splits(streams_, streams_ // 2, seed=4)
    for method in riskcontrol.GUARANTEED_WITH_DELTA:
        test_risk, chosen = _test_risk_of_chosen(losses, costs, method, 0.02, 0.0, 1.0, calib_rows, test_rows)
        assert np.mean(test_risk > 0.02) <= DELTA + TOLERANCE, method
        assert np.mean(chosen > 0) > 0.9, method


def _table(pool, full_macs: int) -> str:
    """Per risk variant and method: the share of splits breaking epsilon (CRC: the mean test
    risk), and the mean MACs of the choice as a share of the full network's."""
    lines = ["| risk | epsilon | " + " | ".join(riskcontrol.METHODS) + " |",
             "| --- | --- | " + " | ".join("---" for _ in riskcontrol.METHODS) + " |"]
    for name, clip in VARIANTS:
        risk = risks.get(name)
        losses, costs = _confidence_losses(pool, risk, clip)
        calib_rows, test_rows = _splits(len(losses), len(losses) // 2)
        cells = []
        for method in riskcontrol.METHODS:
            test_risk, chosen = _test_risk_of_chosen(losses, costs, method, EPSILON[name], *risk.bounds(clip),
                                                     calib_rows, test_rows)
            macs = costs[test_rows, chosen[:, None]].mean() / full_macs
            cells.append(f"mean {100 * test_risk.mean():.2f}%, {100 * macs:.0f}% MACs" if method == "crc" else
                         f"{100 * np.mean(test_risk > EPSILON[name]):.1f}% ({100 * macs:.0f}% MACs)")
        lines.append(f"| {name}{' (clipped)' if clip else ''} | {EPSILON[name]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    build = artifact.Build.open(sys.argv[1] if len(sys.argv) > 1 else "generated/default")
    print(_table(_pool(build), build.manifest.full_model_macs))
