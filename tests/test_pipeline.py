"""The default build, end to end: acceptance figures, the manifest, and all-or-nothing output."""

import hashlib
import json

import numpy as np
import pytest

from command import TENSORFLOW_NOISE, run_eenn
from eenn import artifact, pipeline, project
from eenn.errors import EennError
from eenn.frontend import data, quantize
from eenn.report import build_table
from eenn.tflite.reference import Records, StageChain


def test_default_eenn_meets_the_targets(default_build):
    """Bounds for whatever model this machine trains: five different models of the default
    project (oneDNN on and off, AVX-512 and AVX2, 1 and 2 cores) had a final int8 accuracy of
    97.2-98.1% and an int8/float agreement of 98.3-100% at every exit."""
    m = default_build.manifest
    assert m.metrics.int8_accuracy[-1] >= 0.95
    assert m.stages[0].cumulative_macs <= 0.25 * m.full_model_macs  # the architecture's, not training's
    assert min(m.metrics.int8_float_agreement) >= 0.96
    assert m.dataset.split["test"] >= 300


def test_manifest_describes_the_stage_files(default_build):
    d, m = default_build.directory, default_build.manifest
    assert artifact.Build.open(d).manifest == m
    for k, s in enumerate(m.stages):
        blob = (d / s.file).read_bytes()
        assert hashlib.sha256(blob).hexdigest() == s.sha256
        if k:
            assert s.input == m.stages[k - 1].boundary  # same tensor, same quantization
    assert m.stages[-1].boundary is None
    assert [e.point for e in m.exits] == ["block1", "block2", "final"]
    assert m.decision.spec.mechanism == "confidence" and len(m.decision.spec.thresholds) == 2
    assert len(m.dataset.split_digest) == 64
    assert m.project == project.Project()  # the validated project, as given


def test_records_are_what_the_stages_compute(default_build):
    d, m = default_build.directory, default_build.manifest
    rec = default_build.records("test")
    assert rec.probs.shape == (m.dataset.split["test"], 3, 10)
    chain = StageChain([(d / s.file).read_bytes() for s in m.stages])
    split = data.split(data.load("digits"), seed=0)
    q = m.input.quantization
    x = quantize.quantize_input(split.test.x[:20], q.scale[0], q.zero_point[0])
    np.testing.assert_array_equal(chain.run(x).probs, rec.probs[:20])
    np.testing.assert_array_equal(rec.labels, split.test.y)


def test_report_lists_every_exit(default_build):
    report = (default_build.directory / pipeline.REPORT).read_text()
    lines = report.splitlines()
    assert lines[0].startswith("default: digits-cnn on digits")
    assert any(" block1 " in line for line in lines) and any(" final " in line for line in lines)
    assert "EENN accuracy" in lines[-1]
    assert report == build_table(default_build.manifest) + "\n"


def test_a_failed_build_leaves_nothing_behind(tmp_path):
    bad = tmp_path / "bad.npz"
    np.savez(bad, x=np.zeros((10, 8, 8, 1)), y=np.full(10, -1))
    p = project.override(project.Project(), name="broken", **{"data.source": str(bad)})
    with pytest.raises(EennError, match="label -1"):
        pipeline.build(p, tmp_path / "generated", progress=False, log=lambda *_: None)
    assert not (tmp_path / "generated" / "broken").exists()
    assert not any(p.name.startswith(".broken") for p in (tmp_path / "generated").glob(".*"))


def test_untrained_zoo_model_builds_without_data(tmp_path):
    p = project.override(project.Project(), name="kws", **{"model.name": "ds-cnn", "training.epochs": 1})
    result = pipeline.build(p, tmp_path, progress=False, log=lambda *_: None)
    m = result.build.manifest
    assert m.dataset.trained is False and m.metrics.int8_accuracy is None
    assert m.input.shape == (1, 49, 10, 1) and len(m.stages) == 3
    assert Records.load(result.directory / "records_calib.npz").labels.tolist() == [-1] * 20


def test_data_of_the_wrong_rank_is_refused(tmp_path):
    p = project.override(project.Project(), **{"data.source": "mnist1d"})
    with pytest.raises(EennError, match="model 'digits-cnn' takes rank-3 samples"):
        pipeline.build(p, tmp_path, progress=False)


@pytest.mark.parametrize("args, message", [
    (["build", "--dataset", "nowhere.npz"], "nowhere.npz: no such file"),
    (["build", "--model", "vgg16"], "unknown model 'vgg16'"),
    (["build", "--exits", "block2,block1"], "must be distinct and in network order"),
    (["build", "--exits", "conv9"], "no exit point 'conv9'"),
    (["build", "--project", "missing.toml"], "missing.toml: no such project file"),
    (["simulate", "--name", "never-built"], "no manifest; run 'eenn build' first"),
])
def test_cli_errors_are_one_line(tmp_path, args, message):
    r = run_eenn(*args, cwd=tmp_path)
    assert r.returncode == 1
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("eenn: error: ") and message in r.stderr
    assert not (tmp_path / "generated").exists() or not any((tmp_path / "generated").iterdir())


def test_an_error_after_tensorflow_has_loaded_is_one_line(tmp_path):
    """Reading a model file loads TensorFlow, whose start-up notices must not come before the error."""
    import keras

    layers = keras.layers
    keras.Sequential([keras.Input((8, 8, 1)), layers.Conv2D(4, 3, name="conv"), layers.Flatten(),
                      layers.Dense(10, activation="softmax")]).save(tmp_path / "m.keras")
    r = run_eenn("build", "--model-file", "m.keras", "--dataset", "digits", "--exits", "nowhere", cwd=tmp_path)
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and r.stderr.startswith("eenn: error: "), r.stderr
    assert "has no exit point 'nowhere'" in r.stderr


def _named_file_digests(directory) -> dict:
    """sha256 of the manifest and of every file it names."""
    manifest = json.loads((directory / "manifest.json").read_text())
    names = ["manifest.json", "model.tflite", *(s["file"] for s in manifest["stages"]), *manifest["records"].values()]
    return {name: hashlib.sha256((directory / name).read_bytes()).hexdigest() for name in names}


def test_two_cold_builds_are_bit_identical_and_tensorflow_stays_quiet(tmp_path):
    """The same project twice on one machine, nothing cached, in fresh processes: the same bytes
    in every file the manifest names, and none of TensorFlow's own lines on the terminal."""
    digests = []
    for out in ("first", "second"):
        r = run_eenn("build", "--epochs", "3", "--out", out, cwd=tmp_path, timeout=600)
        assert r.returncode == 0, r.stderr
        assert not [word for word in TENSORFLOW_NOISE if word in r.stdout + r.stderr], r.stdout + r.stderr
        digests.append(_named_file_digests(tmp_path / out / "default"))
    assert digests[0] == digests[1]


def test_cli_usage_error_exits_2(tmp_path):
    assert run_eenn("build", "--threshold", "high", cwd=tmp_path).returncode == 2


def test_cli_simulate_reads_a_build(default_build):
    out = default_build.directory.parent
    r = run_eenn("simulate", "--out", str(out), "--threshold", "1.0", cwd=out)
    assert r.returncode == 0, r.stderr
    n = default_build.manifest.dataset.split["test"]
    assert "confidence: integer thresholds 128, 128" in r.stdout and f"exits taken 0 / 0 / {n}" in r.stdout
    r = run_eenn("simulate", "--out", str(out), "--split", "calib", "--threshold", "0,0", cwd=out)
    assert f"exits taken {default_build.manifest.dataset.split['calib']} / 0 / 0" in r.stdout
    r = run_eenn("simulate", "--out", str(out), "--mechanism", "margin", "--threshold", "1.0", cwd=out)
    assert "margin: integer thresholds 256, 256" in r.stdout and f"exits taken 0 / 0 / {n}" in r.stdout
    r = run_eenn("simulate", "--out", str(out), "--mechanism", "nonsense", cwd=out)
    assert r.returncode == 1 and "decision mechanism 'nonsense' is not one of" in r.stderr


def test_cli_zoo_lists_models():
    r = run_eenn("zoo", cwd=".")
    assert r.returncode == 0
    for name in ("digits-cnn", "mnist1d-cnn", "resnet8", "ds-cnn", "mobilenetv1-0.25"):
        assert name in r.stdout
