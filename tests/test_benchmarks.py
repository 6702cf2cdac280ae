"""The benchmark suite: MACs as the issue counts them, regressions and missed targets named,
and a zoo build measured on a core end to end."""

import pytest

from eenn.studies import benchmarks


def test_layer_macs_count_every_tap_of_the_window():
    macs = {key: layer.macs for key, layer in benchmarks.LAYERS.items()}
    assert macs == {"a": 2_359_296, "b": 512_000, "c": 72_000, "d1": 2_560, "d2": 65_536, "e": 442_368}


def _results(per_mac: float, arena: int, flash: int) -> dict:
    layers = {"cortex-m4": {"d2": {"layer": "fully connected 1024->64", "macs": 65_536, "fits": True,
                                   "instructions": per_mac * 65_536, "per_mac": per_mac}}}
    models = {"resnet8": {"cortex-m4": {"macs": [10], "arena_bytes": arena, "tflm_arena_bytes": 10_000,
                                        "weight_bytes": 1, "fits": True, "instructions": [100.0],
                                        "total_instructions": 100.0, "per_mac": 10.0, "runtime_flash_bytes": flash}}}
    return {"layers": layers, "models": models, "machines": {"cortex-m4": "mps2-an386"}}


def test_a_figure_worse_than_the_previous_runs_is_a_regression():
    before = _results(1.6, 5_000, 9_000)
    assert benchmarks.compare(before, before) == []
    assert benchmarks.compare(before, _results(1.5, 4_000, 9_000)) == []
    worse = benchmarks.compare(before, _results(1.7, 5_000, 9_100))
    assert len(worse) == 2 and worse[0].startswith("layer d2 on cortex-m4, instructions")
    assert "runtime flash bytes: 9,000 -> 9,100 (+1.1%)" in worse[1]


def test_missed_targets_are_named_with_their_figures():
    assert benchmarks.targets(_results(1.5, 5_000, 9_000)) == []
    missed = benchmarks.targets(_results(2.0, 7_000, 13_000))
    assert missed[0] == "layer d2 (fully connected 1024->64) on cortex-m4: 2.00 instructions per MAC, target 1.54"
    assert missed[1] == "resnet8: arena 7,000 bytes > 0.6 x TFLM's 10,000"
    assert missed[2].startswith("resnet8 on cortex-m4: 13,000 bytes of flash beyond the constants")


def test_a_layer_too_large_for_the_m0_board_is_counted_on_the_larger_one():
    (core,) = benchmarks.cores(("cortex-m0",))
    assert (core.board.name, core.larger.name) == ("microbit", "mps2-an385-m0")
    assert benchmarks.cores(("cortex-m4",))[0].larger is None  # the M4's own machine has the most RAM
    results = {"layers": {"cortex-m0": {"a": {"layer": "conv", "macs": 10, "fits": False, "board": "mps2-an385-m0",
                                              "instructions": 50.0, "per_mac": 5.0}}},
               "models": {}, "machines": {"cortex-m0": "microbit"}}
    table = benchmarks.markdown(results)
    assert f"| a | {benchmarks.LAYERS['a'].name} | 10 | 5.00* |" in table and "* on a board with more RAM for the same code: mps2-an385-m0" in table
    assert "| a | 5.00* | 7.56 | 6.05 |" in table and benchmarks.targets(results) == []


def test_a_build_is_measured_per_stage_on_a_core(generated_build, tmp_path):
    (core,) = benchmarks.cores(("cortex-m4",))
    result = benchmarks.bench_model(generated_build, core, benchmarks.model_figures(generated_build))
    assert len(result["instructions"]) == len(generated_build.manifest.stages) and min(result["instructions"]) > 0
    assert result["total_instructions"] == pytest.approx(sum(result["instructions"]))
    assert 0 < result["runtime_flash_bytes"] <= benchmarks.RUNTIME_FLASH_TARGET
    assert result["arena_bytes"] <= result["tflm_arena_bytes"]
    results = {"layers": {"cortex-m4": {}}, "models": {"digits-cnn": {"cortex-m4": result}},
               "machines": {"cortex-m4": "mps2-an386"}}
    path, regressions = benchmarks.save(results, tmp_path)
    assert regressions == [] and "| digits-cnn |" in (tmp_path / "results.md").read_text()
    assert (tmp_path / "layers.png").stat().st_size > 0
    assert benchmarks.save(results, tmp_path)[1] == []  # the same figures again: no regression
