"""The cost model: counts per kernel call, the fit, the committed tables, and predictions
held against instructions counted under QEMU for layers and stages the fit never saw."""

import sys

import numpy as np
import pytest

from eenn import artifact
from eenn.codegen import features, fusion, singleop
from eenn.costs import fit, predict, timing
from eenn.errors import EennError
from eenn.hardware import boards

M4 = boards.get("mps2-an386")


def _window_taps_by_loop(p, dilation=(1, 1)) -> int:
    """Window taps inside the input, counted the way the reference kernel loops."""
    count = 0
    for oy in range(p.out_h):
        for ox in range(p.out_w):
            for ky in range(p.k_h):
                for kx in range(p.k_w):
                    y = oy * p.stride_h - p.pad_h + ky * dilation[0]
                    x = ox * p.stride_w - p.pad_w + kx * dilation[1]
                    count += 0 <= y < p.in_h and 0 <= x < p.in_w
    return count


@pytest.mark.parametrize("layer", [singleop.conv2d((7, 5), 3, 4, (3, 3), 2, "SAME"),
                                   singleop.conv2d((6, 6), 2, 4, (5, 5), 1, "SAME", depthwise=True),
                                   singleop.pool("MAX_POOL_2D", (9, 9), 3, (3, 3), 2, "SAME")])
def test_window_counts_match_the_kernel_loops(layer):
    call = layer.call
    f = features.features(call)
    p = call.params
    inside = _window_taps_by_loop(p)
    if call.function == "eenn_conv2d":  # im2col: every tap, padded ones included
        assert f["macs"] == p.out_h * p.out_w * p.k_h * p.k_w * p.in_c * p.out_c
    elif call.function == "eenn_depthwise_conv2d":  # the window clipped to the input
        assert 4 * (f["group_taps"] + 3 * f["group_rows_of_three"]) + f["single_taps"] == inside * p.out_c
        assert f["multiplied_taps"] == (inside * p.out_c if p.depth_multiplier != 1 else 0)
    else:
        assert f["reads"] == inside * p.channels
    assert set(f) == set(features.FEATURES[call.function])


def test_the_fit_recovers_known_coefficients(rng):
    names = features.FEATURES["eenn_conv2d"]
    truth = dict(zip(names, rng.choice([0.0, 0.5, 2.0, 6.0, 30.0, 120.0], size=len(names))))
    rows = [{n: float(rng.integers(1, 10_000)) for n in names} | {"calls": 1} for _ in range(4 * len(names))]
    measured = [sum(truth[n] * r[n] for n in names) for r in rows]
    fitted, error = fit.fit_kernel("eenn_conv2d", rows, measured)
    assert error < 1e-6
    assert fitted == pytest.approx(truth, abs=1e-4)


def test_expected_cost_weights_each_exit_by_how_often_it_is_taken():
    assert predict.expected([1, 1], [10.0, 20.0]) == pytest.approx((10 + 30) / 2)
    assert predict.expected([0, 0, 4], [1.0, 2.0, 3.0]) == pytest.approx(6.0)


@pytest.mark.parametrize("cpu", predict.cpus())
def test_every_emulated_cpu_has_a_current_table(cpu):
    table = predict.load(cpu)  # refuses a table measured for other kernel sources or flags
    assert set(table.kernels) == set(features.FEATURES)
    assert all(set(c) == set(features.FEATURES[k]) for k, c in table.kernels.items())
    assert max(table.errors.values()) < 0.15


def test_a_stale_table_is_refused(tmp_path, monkeypatch):
    text = predict.table_path("cortex-m4").read_text()
    monkeypatch.setattr(predict, "CPU_DIR", tmp_path)
    (tmp_path / "cortex-m4.toml").write_text(text.replace('digest = "', 'digest = "0'))
    with pytest.raises(EennError, match="measured for other kernels, counts or compiler flags: run .make costs."):
        predict.load("cortex-m4")
    (tmp_path / "cortex-m4.toml").write_text(text.replace("padded_macs = ", "padded = "))
    with pytest.raises(EennError, match="measured for other kernels, counts or compiler flags"):
        predict.load("cortex-m4")
    with pytest.raises(EennError, match="no cost table for cortex-m7"):
        predict.load("cortex-m7")


def test_a_refit_keeps_the_other_kernels_and_refuses_a_table_of_other_sources(tmp_path, monkeypatch):
    committed = predict.load("cortex-m4")
    monkeypatch.setattr(fit, "FITTING", (singleop.add((4, 4), 8, "SUB"), singleop.add((2, 2), 16, "SUB"),
                                         singleop.add((8, 8), 4, "SUB"), singleop.add((8, 8), 4)))
    table, samples = fit.refit("cortex-m4", ("eenn_sub",))
    assert len(samples) == 3 and {k: v for k, v in table.kernels.items() if k != "eenn_sub"} == {
        k: v for k, v in committed.kernels.items() if k != "eenn_sub"}
    assert table.errors["eenn_sub"] < 0.05 and table.digest == committed.digest
    with pytest.raises(EennError, match="no kernel eenn_nothing"):
        fit.refit("cortex-m4", ("eenn_nothing",))
    text = predict.table_path("cortex-m4").read_text()
    monkeypatch.setattr(predict, "CPU_DIR", tmp_path)
    (tmp_path / "cortex-m4.toml").write_text(text.replace('digest = "', 'digest = "0'))
    with pytest.raises(EennError, match="measured for other kernel sources or flags: run 'make costs'"):
        fit.refit("cortex-m4", ("eenn_sub",))


def test_measuring_fits_the_kernels_of_the_layers_timed():
    shapes = [(16, 4), (256, 10), (32, 128), (1024, 4), (30, 7), (100, 2), (64, 64), (8, 3)]
    table, samples = fit.measure("cortex-m4", tuple(singleop.fully_connected(n, m) for n, m in shapes))
    assert table.measured_on == "mps2-an386" and set(table.kernels) == {"eenn_fully_connected"}
    assert len(samples) == len(shapes) and table.errors["eenn_fully_connected"] < 0.10
    committed = predict.load("cortex-m4")
    kernels = features.stage_kernels([fusion.alone(singleop.fully_connected(100, 20).call)])
    assert table.instructions(kernels) == pytest.approx(committed.instructions(kernels), rel=0.05)


# Layers outside the fitting set: issue 8's benchmark layers b, c and d.
UNSEEN = [singleop.conv2d((25, 5), 64, 64, (1, 1), 1, "VALID"), singleop.conv2d((25, 5), 64, 64, (3, 3), 1, "SAME", depthwise=True),
          singleop.fully_connected(1024, 64)]


@pytest.mark.parametrize("layer", UNSEEN, ids=lambda layer: layer.name)
def test_prediction_of_an_unseen_layer_is_within_ten_percent(layer):
    (measured,) = timing.measure([("layer.tflite", layer.tflite)], M4)
    predicted = predict.load(M4.cpu).instructions(features.stage_kernels([fusion.alone(layer.call)]))
    assert predicted == pytest.approx(measured, rel=0.10)


def test_prediction_of_the_default_models_stages_is_within_ten_percent(generated_build):
    measured = timing.measure(generated_build.stage_models(), M4)
    model = predict.model_costs(generated_build, boards.get("nrf52"))
    predicted = [s["instructions"] for s in model["stages"]]
    np.testing.assert_allclose(predicted, measured, rtol=0.10)
    assert model["expected"]["instructions"] < sum(predicted)
    assert model["expected"]["energy_j"] == pytest.approx(model["expected"]["cycles"] / 64e6 * 9.9e-3)


def _validation(directory: str) -> str:
    """The docs' figures: unseen layers on the M4, and a build's stages on every CPU, measured / predicted."""
    m4 = predict.load(M4.cpu)
    lines = []
    for layer in [*UNSEEN, singleop.conv2d((32, 32), 16, 16)]:
        (measured,) = timing.measure([("layer.tflite", layer.tflite)], M4)
        predicted = m4.instructions(features.stage_kernels([fusion.alone(layer.call)]))
        lines.append(f"{layer.name}: {measured:,.0f} measured, {predicted:,.0f} predicted ({100 * (predicted / measured - 1):+.1f}%)")
    build = artifact.Build.open(directory)
    for cpu in predict.cpus():
        board = predict.measuring_board(cpu)
        measured = timing.measure(build.stage_models(), board)
        predicted = predict.stage_instructions(board, build.code())
        lines.append(f"{cpu}: " + " | ".join(f"{m:,.0f} / {p:,.0f} ({100 * (p / m - 1):+.1f}%)"
                                             for m, p in zip(measured, predicted)))
    return "\n".join(lines)


if __name__ == "__main__":
    print(_validation(sys.argv[1] if len(sys.argv) > 1 else "generated/default"))
