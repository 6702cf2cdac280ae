"""The guarantees hold on the default EENN's own int8 records: over 500 random calibration/test
splits of its 719 recorded samples, thresholds certified on the calibration part keep the test
part's risk below epsilon in all but delta of the splits (UCB, LTT), or on average (CRC)."""

import numpy as np
import pytest

from eenn import calibration, pipeline, riskcontrol, risks, streams
from eenn.decisions import DecisionSpec
from eenn.simulate import Records

SPLITS = 500
DELTA = 0.1
CHUNK = 50  # splits calibrated at once (memory: CHUNK x samples x settings)
EPSILON = {"consistency": 0.05, "prediction-gap": 0.03, "brier-gap": 0.1, "brier-consistency": 0.1,
           "hellinger": 0.05}
VARIANTS = [(name, False) for name in risks.RISKS] + [(n, True) for n, r in risks.RISKS.items() if r.low < 0]


@pytest.fixture(scope="module")
def pool(default_build):
    """Every recorded sample of the default build, and the confidence grid's quantizations."""
    d, m = default_build.directory, default_build.manifest
    parts = [pipeline.load_records(d, m, name) for name in ("calib", "test")]
    records = Records(np.concatenate([p.probs for p in parts]), np.concatenate([p.labels for p in parts]))
    return records, pipeline.exit_quantizations(m), [s["cumulative_macs"] for s in m["stages"]]


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
    records, quantizations, cumulative = pool
    risk = risks.get(name)
    low, high = risk.bounds(clip)
    epsilon = EPSILON[name]
    grid = calibration.grid("confidence", DecisionSpec(), records.num_exits, records.probs.shape[-1],
                            quantizations[0])
    losses, exits = calibration.setting_losses(grid.specs, risk, clip, records, quantizations)
    costs = np.asarray(cumulative, np.float64)[exits]
    calib_rows, test_rows = _splits(len(records), len(records) // 2)
    tolerance = 3 * np.sqrt(DELTA * (1 - DELTA) / SPLITS)
    for method in riskcontrol.GUARANTEED_WITH_DELTA:
        test_risk, chosen = _test_risk_of_chosen(losses, costs, method, epsilon, low, high, calib_rows, test_rows)
        assert np.mean(test_risk > epsilon) <= DELTA + tolerance, method
    test_risk, chosen = _test_risk_of_chosen(losses, costs, "crc", epsilon, low, high, calib_rows, test_rows)
    assert test_risk.mean() <= epsilon + 3 * test_risk.std() / np.sqrt(SPLITS)
    assert np.mean(chosen > 0) > 0.9  # CRC does exit early: the check is not vacuous


def test_the_empirical_choice_breaks_the_guarantee_the_others_keep(pool):
    """Choosing the threshold whose calibration risk just meets epsilon, with no bound, exceeds
    epsilon on the test part in far more than delta of the splits: the test can fail."""
    records, quantizations, cumulative = pool
    risk = risks.get("consistency")
    grid = calibration.grid("confidence", DecisionSpec(), records.num_exits, records.probs.shape[-1],
                            quantizations[0])
    losses, exits = calibration.setting_losses(grid.specs, risk, False, records, quantizations)
    costs = np.asarray(cumulative, np.float64)[exits]
    calib_rows, test_rows = _splits(len(records), len(records) // 2, seed=1)
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
    assert violations / SPLITS <= DELTA + 3 * np.sqrt(DELTA * (1 - DELTA) / SPLITS)


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
    tolerance = 3 * np.sqrt(DELTA * (1 - DELTA) / SPLITS)
    for method in riskcontrol.GUARANTEED_WITH_DELTA:
        test_risk, chosen = _test_risk_of_chosen(losses, costs, method, 0.02, 0.0, 1.0, calib_rows, test_rows)
        assert np.mean(test_risk > 0.02) <= DELTA + tolerance, method
        assert np.mean(chosen > 0) > 0.9, method
