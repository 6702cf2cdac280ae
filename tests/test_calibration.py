"""Calibrating exit decisions: grids, the vectorized decisions against the firmware's rules,
the per-exit path, and the calibrated default build."""

import shutil
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from command import run_eenn
from eenn import artifact, pipeline
from eenn.decision import calibration, mechanisms
from eenn.decision.calibration import CalibrationConfig
from eenn.decision.mechanisms import DecisionSpec
from eenn.errors import EennError
from eenn.project import DecisionConfig
from eenn.tflite.flatbuffer import Quantization
from eenn.tflite.reference import Records

SOFTMAX = Quantization((1 / 256,), (-128,))


@settings(max_examples=40, deadline=None)
@given(probs=arrays(np.int8, (12, 3, 5)), mechanism=st.sampled_from(calibration.THRESHOLD_MECHANISMS),
       levels=st.lists(st.tuples(st.integers(-128, 128), st.integers(-128, 128)), min_size=1, max_size=6))
def test_vectorized_outcomes_equal_the_firmware_rules(probs, mechanism, levels):
    scale = {"confidence": 1, "margin": 2, "entropy": -700}[mechanism]
    specs = [DecisionSpec(mechanism, (a * scale, b * scale)) for a, b in levels]
    exits, answers = calibration.outcomes(specs, probs)
    for k, spec in enumerate(specs):
        expected_exits, expected_answers = mechanisms.simulate(spec, probs)
        np.testing.assert_array_equal(exits[:, k], expected_exits)
        np.testing.assert_array_equal(answers[:, k], expected_answers)


@pytest.mark.parametrize("mechanism", mechanisms.MECHANISMS)
def test_every_grid_starts_with_never_exiting_early(mechanism, rng):
    probs = rng.integers(-128, 128, (50, 3, 10)).astype(np.int8)
    grid = calibration.grid(mechanism, DecisionSpec(mechanism, (103, 103)), 3, 10, SOFTMAX)
    starts = np.zeros(50, bool)
    starts[0] = True
    exits, _ = calibration.outcomes(grid.specs, probs, starts)
    assert np.all(exits[:, 0] == 2)
    assert len(grid.labels) == len(grid.specs) == len(grid.values)
    if mechanism in calibration.THRESHOLD_MECHANISMS:
        assert np.all(exits[:, -1] == 0)  # ... and ends exiting at the first exit, always


def test_confidence_grid_is_every_int8_level():
    grid = calibration.grid("confidence", DecisionSpec(), 3, 10, SOFTMAX)
    assert [s.thresholds[0] for s in grid.specs] == list(range(128, -129, -1))
    assert grid.labels[0] == "never (128)" and grid.values[-1] == 0.0


def test_per_exit_path_lowers_one_threshold_at_a_time(rng):
    probs = rng.integers(-128, 128, (80, 3, 10)).astype(np.int8)
    records = Records(probs, rng.integers(0, 10, 80))
    calib, test = Records(probs[:40], records.labels[:40]), Records(probs[40:], records.labels[40:])
    cumulative = [10, 50, 100]
    result = calibration.calibrate(CalibrationConfig(method="crc", epsilon=0.5, per_exit=True), DecisionSpec(),
                                   calib, test, [SOFTMAX] * 3, cumulative, 90, warn=lambda _: None)
    path = np.array([s.thresholds for s in result.grid.specs])
    assert path[0].tolist() == [128, 128]
    steps = np.diff(path, axis=0)
    assert np.all(steps <= 0) and np.all((steps < 0).sum(axis=1) == 1)
    assert result.units == 20  # half found the path, the other half is the evidence


@pytest.fixture(scope="module")
def parts(default_build):
    m = default_build.manifest
    return (default_build.records("calib"), default_build.records("test"), m.exit_quantizations, m.cumulative_macs,
            m.full_model_macs)


def test_the_default_build_is_calibrated(default_build, parts):
    """Its firmware thresholds are the cheapest certified ones, and the build reports them."""
    m = default_build.manifest
    cal = m.decision.calibration
    assert (cal["method"], cal["risk"], cal["epsilon"], cal["delta"]) == ("ucb-hb", "consistency", 0.05, 0.1)
    calib, test, quantizations, cumulative, full = parts
    again = calibration.calibrate(CalibrationConfig(), DecisionSpec(), calib, test, quantizations, cumulative, full)
    assert m.decision.spec.thresholds == again.spec.thresholds
    assert again.chosen > 0 and again.certified_bound < 0.05 and again.certified[: again.chosen + 1].all()
    assert again.cost[again.chosen] == again.cost[again.certified].min()
    assert m.metrics.policy == cal["test"]
    assert cal["macs_saved"] > 0.5 * full  # 86.5-89.8% for five models trained on different CPUs and cores
    report = (default_build.directory / "calibration.txt").read_text()
    assert "consistency risk <= 0.05 with probability >= 0.9" in report and "saves" in report
    assert (default_build.directory / "calibration.png").stat().st_size > 10_000


def test_nothing_certified_means_never_exiting_early(parts):
    calib, test, quantizations, cumulative, full = parts
    warnings = []
    result = calibration.calibrate(CalibrationConfig(method="ucb-hb", risk="brier-gap", epsilon=0.01), DecisionSpec(),
                                   calib, test, quantizations, cumulative, full, warn=warnings.append)
    assert result.chosen == -1 and result.spec == calibration.never_early(3)
    assert result.test["exit_histogram"][:2] == [0, 0]
    assert len(warnings) == 1 and "will never exit early" in warnings[0]


@pytest.mark.parametrize("config, mechanism, message", [
    (CalibrationConfig(epsilon=0.001, delta=1e-6), "confidence", "too few for ucb-hb .* it needs at least"),
    (CalibrationConfig(method="bonferroni"), "confidence", "'bonferroni' is not one of"),
    (CalibrationConfig(delta=1.5), "confidence", "delta must be in"),
    (CalibrationConfig(per_exit=True), "patience", "per exit apply to"),
    (CalibrationConfig(risk="hellinger"), "difference", "compares distributions"),
])
def test_bad_calibration_requests_are_refused(parts, config, mechanism, message):
    calib, test, quantizations, cumulative, full = parts
    with pytest.raises(EennError, match=message):
        calibration.calibrate(config, DecisionSpec(mechanism, (103, 103)), calib, test, quantizations,
                              cumulative, full)


def test_temporal_parameters_are_calibrated_over_streams(parts):
    calib, test, quantizations, cumulative, full = parts
    config = CalibrationConfig(method="ltt-hb", streams=60, stream_steps=30)
    result = calibration.calibrate(config, DecisionSpec("temporal-patience", (103, 103), max_run=16), calib, test,
                                   quantizations, cumulative, full)
    assert result.unit_kind == "streams" and result.units == 60 and result.test["samples"] == 60 * 30
    assert result.spec.mechanism == "temporal-patience" and result.certified_bound < 0.05



def test_calibrate_command_rewrites_the_build(default_build, tmp_path):
    out = tmp_path / "generated"
    shutil.copytree(default_build.directory, out / "default")
    r = run_eenn("calibrate", "--out", str(out), "--method", "crc", "--risk", "prediction-gap", "--clip",
                 "--epsilon", "0.02", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "crc on 360 calibration samples: expected prediction-gap risk <= 0.02, clipped at 0" in r.stdout
    decision = artifact.Build.open(out / "default").manifest.decision
    cal = decision.calibration
    assert (cal["method"], cal["risk"], cal["clip"], cal["epsilon"]) == ("crc", "prediction-gap", True, 0.02)
    assert decision.spec.thresholds != default_build.manifest.decision.spec.thresholds
    assert "crc" in (out / "default" / "report.txt").read_text()
    r = run_eenn("simulate", "--out", str(out), cwd=tmp_path)
    assert f"integer thresholds {', '.join(map(str, decision.spec.thresholds))}" in r.stdout


@pytest.mark.parametrize("args, message", [
    (["--epsilon", "2"], "eenn: error: epsilon must be in (0, 1), got 2.0"),
    (["--risk", "prediction-gap", "--mechanism", "difference", "--per-exit"], "per exit apply to"),
    (["--threshold", "0.9"], "the thresholds of confidence are what calibration chooses"),
])
def test_calibrate_command_errors_are_one_line_and_change_nothing(default_build, tmp_path, args, message):
    out = tmp_path / "generated"
    shutil.copytree(default_build.directory, out / "default")
    before = (out / "default" / "manifest.json").read_bytes()
    r = run_eenn("calibrate", "--out", str(out), *args, cwd=tmp_path)
    assert r.returncode == 1 and r.stderr.strip().splitlines() == [r.stderr.strip()] and message in r.stderr
    assert (out / "default" / "manifest.json").read_bytes() == before


def test_records_with_nan_are_refused(tmp_path):
    path = tmp_path / "records.npz"
    np.savez(path, probs=np.full((2, 3, 4), np.nan), labels=np.zeros(2, np.int64))
    with pytest.raises(EennError, match="NaN in the recorded probabilities"):
        Records.load(path)


def test_a_hand_set_threshold_is_not_calibrated(parts):
    calib, test, quantizations, cumulative, full = parts
    records = {"calib": calib, "test": test}
    config = DecisionConfig(threshold=0.9)
    spec, calibrated = pipeline.decide(config, CalibrationConfig(), 0, records, quantizations, cumulative, full)
    assert calibrated is None and spec.thresholds == (103, 103)
    spec, calibrated = pipeline.decide(replace(config, threshold=None), CalibrationConfig(), 0, records,
                                       quantizations, cumulative, full)
    assert calibrated is not None and spec.thresholds == calibrated.spec.thresholds
