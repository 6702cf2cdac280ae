"""Exits chosen automatically (eenn.design) and the rule that an EENN is never costlier than
the network without a word: the greedy choice on synthetic scores, the guarantee kept by
certifying on rows the choice did not see, and the fallback to the network alone."""

from dataclasses import replace

import numpy as np
import pytest

from eenn import artifact, design, pipeline, project
from eenn.decision import mechanisms
from eenn.decision.calibration import THRESHOLD_MECHANISMS, CalibrationConfig
from eenn.errors import EennError
from eenn.firmware import hostrun
from eenn.frontend import data
from eenn.frontend.heads import HeadSpec
from eenn.project import DecisionConfig
from eenn.tflite import flatbuffer as fb
from eenn.tflite.reference import Records

SOFTMAX = fb.Quantization((1 / 256,), (-128,))
CLASSES = 4
SAMPLES = 600


def _confident(labels, rng, right: float) -> np.ndarray:
    """int8 softmax outputs that answer the label (with probability `right`, else a random
    class) with a confidence near 1."""
    answers = np.where(rng.random(len(labels)) < right, labels, rng.integers(0, CLASSES, len(labels)))
    probs = np.full((len(labels), CLASSES), -128, np.int8)
    probs[np.arange(len(labels)), answers] = 127
    return probs


def _scored(heads_probs: list, reach: list, head: list, full_macs: int, labels) -> design._Scored:
    probs = np.stack(heads_probs + [_confident(labels, np.random.default_rng(9), 1.0)], axis=1)
    return design._Scored(Records(probs, labels), [SOFTMAX] * probs.shape[1], np.array(reach), np.array(head),
                          full_macs, CalibrationConfig(), DecisionConfig(), 0)


def _candidates(points, reach, head):
    return tuple(design.Candidate(p, HeadSpec("dense"), r, h, 0.0, 0.0) for p, r, h in zip(points, reach, head))


def test_the_greedy_choice_takes_the_cheap_head_that_agrees_and_leaves_the_rest():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, CLASSES, SAMPLES)
    noise = np.full((SAMPLES, CLASSES), -64, np.int8)  # never confident: no sample ever leaves there
    heads_probs = [noise, _confident(labels, rng, 1.0), _confident(labels, rng, 1.0)]
    reach, head = [10, 40, 990], [5, 5, 20]  # the last one cannot pay: 1,010 MACs of 1,000
    scored = _scored(heads_probs, reach, head, 1000, labels)
    candidates = _candidates(("a", "b", "c"), reach, head)
    subset, mechanism, cost = design._greedy(candidates, scored, THRESHOLD_MECHANISMS, ("a", "b", "c"))
    assert subset == (1,) and mechanism in THRESHOLD_MECHANISMS
    assert cost == pytest.approx(45)  # every sample leaves at b: 40 + 5 MACs


def test_no_exit_is_chosen_when_none_pays():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, CLASSES, SAMPLES)
    wrong = _confident((labels + 1) % CLASSES, rng, 1.0)  # confident and always disagreeing
    scored = _scored([wrong, _confident(labels, rng, 1.0)], [100, 900], [10, 150], 1000, labels)
    candidates = _candidates(("a", "b"), [100, 900], [10, 150])
    assert design._greedy(candidates, scored, THRESHOLD_MECHANISMS, ("a", "b")) == ((), "confidence", 1000.0)


def test_the_halves_of_the_calibration_split_are_disjoint_and_seeded():
    selection, certification = design.halves(359, seed=3)
    assert len(selection) == 179 and len(certification) == 180
    assert not set(selection) & set(certification) and set(selection) | set(certification) == set(range(359))
    np.testing.assert_array_equal(design.halves(359, seed=3)[0], selection)
    assert not np.array_equal(design.halves(359, seed=4)[0], selection)


def test_a_calibration_split_too_small_to_halve_is_refused_before_training():
    with pytest.raises(EennError, match=r"80 calibration samples are too few.*needs 45"):
        design.check_calibration(CalibrationConfig(), THRESHOLD_MECHANISMS, 80)
    design.check_calibration(CalibrationConfig(), THRESHOLD_MECHANISMS, 90)
    with pytest.raises(EennError, match="in each of 4 parts"):
        design.check_calibration(CalibrationConfig(per_exit=True), THRESHOLD_MECHANISMS, 90)


def _dense_only(keras):
    """Its one candidate exit, `fc`, reaches all but the classifier: no head there can pay."""
    layers = keras.layers
    inp = keras.Input((8, 8, 1))
    x = layers.Flatten()(inp)
    x = layers.Dense(32, activation="relu", name="fc")(x)
    return keras.Model(inp, layers.Dense(10, activation="softmax", name="classifier")(x), name="dense_only")


def _small_cnn(keras):
    layers = keras.layers
    inp = keras.Input((8, 8, 1))
    x = layers.Conv2D(8, 3, padding="same", activation="relu", name="conv1")(inp)
    x = layers.Conv2D(16, 3, padding="same", activation="relu", name="conv2")(x)
    x = layers.MaxPooling2D(2, name="pool")(x)
    x = layers.Conv2D(16, 3, padding="same", activation="relu", name="conv3")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    return keras.Model(inp, layers.Dense(10, activation="softmax", name="classifier")(x), name="small_cnn")


@pytest.fixture(scope="module")
def model_files(tmp_path_factory):
    import keras

    out = tmp_path_factory.mktemp("models")
    split = data.split(data.load("digits"), seed=0)
    files = {}
    for make in (_dense_only, _small_cnn):
        keras.utils.set_random_seed(0)
        model = make(keras)
        model.compile("adam", "sparse_categorical_crossentropy")
        model.fit(split.train.x, split.train.y, epochs=20, verbose=0)
        files[model.name] = out / f"{model.name}.keras"
        model.save(files[model.name])
    return files


def _project(path, name=None, **changes):
    return project.override(project.Project(), name=name or path.stem, **{
        "model.file": str(path), "data.source": "digits", "training.epochs": 8, **changes})


@pytest.fixture(scope="module")
def automatic(model_files, tmp_path_factory):
    out = tmp_path_factory.mktemp("generated")
    lines = []
    built = pipeline.build(_project(model_files["small_cnn"]), out, progress=False, log=lines.append).build
    return built, lines


def test_a_model_file_gets_its_exits_chosen_and_certified_on_rows_the_choice_did_not_see(automatic):
    built, lines = automatic
    m = built.manifest
    chosen = m.model.design
    candidates = [c["point"] for c in chosen["candidates"]]
    assert set(m.model.exit_points) <= set(candidates)
    assert list(m.model.exit_points) == [candidates[k] for k in chosen["chosen"]]
    assert not set(chosen["selection_rows"]) & set(chosen["certification_rows"])
    calibrated = m.decision.calibration
    if m.model.exit_points:
        assert calibrated["units"] == len(chosen["certification_rows"])
        assert calibrated["mechanism"] == chosen["mechanism"] == m.decision.spec.mechanism
    assert any(line.startswith(("design: chosen", "warning: no EENN beats")) for line in lines)
    assert "MACs to reach" in (built.directory / "report.txt").read_text()


def test_a_chosen_design_is_never_costlier_than_the_network(automatic):
    """Its certified mean MACs (on the certification rows) are at most the network's, or the
    build is the network alone."""
    built, _ = automatic
    m = built.manifest
    if m.model.exit_points:
        assert m.decision.calibration["test"]["mean_macs"] <= m.cumulative_macs[-1]
        rows = m.model.design["certification_rows"]
        calib = built.records("calib")
        taken = mechanisms.evaluate(Records(calib.probs[rows], calib.labels[rows]), m.decision.spec,
                                             m.cumulative_macs, m.full_model_macs)
        assert taken["mean_macs"] <= m.full_model_macs
    else:
        assert len(m.stages) == 1


def test_recalibrating_a_chosen_design_certifies_on_the_same_rows(automatic, tmp_path):
    import shutil

    built, _ = automatic
    if not built.manifest.model.exit_points:
        pytest.skip("the network alone: nothing to recalibrate")
    copy = tmp_path / built.directory.name
    shutil.copytree(built.directory, copy)
    again, calibrated = pipeline.recalibrate(artifact.Build.open(copy), built.manifest.decision.config,
                                             replace(CalibrationConfig(), epsilon=0.1), log=lambda *_: None)
    assert calibrated.units == len(built.manifest.model.design["certification_rows"])


def test_the_chosen_eenn_generated_c_equals_tflm(automatic, tmp_path):
    built, _ = automatic
    generated, _ = pipeline.generate(built)
    host = hostrun.HostModel(generated, tmp_path)
    records = built.records("test")
    probs = np.stack([np.stack(host.run_one(sample[None])) for sample in records.inputs])
    np.testing.assert_array_equal(probs, records.probs)


def test_when_no_exit_can_pay_the_build_says_so_and_is_the_network_alone(model_files, tmp_path):
    lines = []
    built = pipeline.build(_project(model_files["dense_only"]), tmp_path, progress=False, log=lines.append).build
    assert len(built.manifest.stages) == 1 and built.manifest.model.exit_points == ()
    warning = [line for line in lines if line.startswith("warning:")]
    assert len(warning) == 1 and "2,368 MACs" in warning[0] and "network alone" in warning[0]
    with pytest.raises(EennError, match="no EENN beats"):
        pipeline.build(_project(model_files["dense_only"], **{"model.if_slower": "refuse"}), tmp_path,
                       progress=False, log=lambda *_: None)


@pytest.fixture(scope="module")
def costly(model_files):
    """conv3 is the last candidate: a conv16 head there costs more than the rest of the network
    (the classifier), so any early exit makes the EENN costlier, whatever the training."""
    return {"model.exits": ("conv3",), "model.head": "conv", "model.head_width": 16, "training.epochs": 2}


def test_named_exits_that_cannot_pay_are_not_built_silently(model_files, costly, tmp_path):
    path = model_files["small_cnn"]
    lines = []
    built = pipeline.build(_project(path, **costly), tmp_path, progress=False, log=lines.append).build
    assert len(built.manifest.stages) == 1
    assert any(line.startswith("warning: the certified EENN costs") and "network alone" in line for line in lines)
    with pytest.raises(EennError, match=r"the certified EENN costs [\d,]+ MACs per inference on average, [\d.]+% of "
                                        r"the network's own [\d,]+"):
        pipeline.build(_project(path, name="refused", **costly, **{"model.if_slower": "refuse"}), tmp_path,
                       progress=False, log=lambda *_: None)
    assert not (tmp_path / "refused").exists()
    lines.clear()
    kept = pipeline.build(_project(path, name="kept", **costly, **{"model.if_slower": "keep"}), tmp_path,
                          progress=False, log=lines.append).build
    assert len(kept.manifest.stages) == 2 and any("kept as model.if_slower" in line for line in lines)


def test_an_early_exit_more_accurate_than_the_final_one_gets_the_prediction_gap_advice():
    """The early exit is always right and the final one right 60% of the time: consistency (the
    final answer taken for the truth) keeps the exit shut, prediction-gap lets every sample out."""
    from types import SimpleNamespace

    rng = np.random.default_rng(2)
    labels = rng.integers(0, CLASSES, SAMPLES)
    early = _confident(labels, rng, 1.0)
    final = _confident(labels, rng, 0.6)
    stage = lambda macs: SimpleNamespace(exit_output=SimpleNamespace(quantization=SOFTMAX), macs=macs)
    records = Records(np.stack([early, final], axis=1), labels)
    eenn = pipeline._Quantized(("block1",), HeadSpec(), b"", [stage(300), stage(800)], 1000,
                               {"calib": records, "test": records}, None)
    proj = project.Project(name="p")
    config = DecisionConfig().resolved()
    _, calibrated = pipeline._decided(eenn, config, CalibrationConfig(), 0, None, lambda *_: None)
    assert pipeline.certified_macs(calibrated, eenn.cumulative_macs) == 1100  # never exits early
    advice = pipeline._risk_advice(proj, eenn, config, CalibrationConfig(), None, None, kept=True)
    assert advice.startswith("note: exit 0 (block1) is more accurate than the final exit (100.0% against")
    assert "cost 300 MACs per inference (70.0% saved)" in advice
    assert advice.endswith("eenn calibrate --name p --risk prediction-gap --clip")
    assert pipeline._risk_advice(proj, eenn, config, CalibrationConfig(risk="prediction-gap"), None, None,
                                 kept=True) is None


def test_a_search_after_the_build_reuses_its_trained_heads_and_leaves_out_what_cannot_pay(automatic, model_files):
    from eenn.studies import search

    built, _ = automatic
    cache = built.directory.parent / ".cache" / "models"
    before = sorted(cache.iterdir())
    path = model_files["small_cnn"]
    payable = search.payable_heads(_project(path), path, 8, built.directory.parent, progress=False)
    assert sorted(cache.iterdir()) == before  # nothing trained
    chosen = built.manifest.model.design
    for c in chosen["candidates"]:
        pays = c["reach_macs"] + c["head_macs"] < chosen["full_macs"]
        assert (design.label(HeadSpec(**c["head"])) in payable.get(c["point"], [])) == pays


def test_named_exits_take_their_heads_from_the_candidates_or_are_refused_before_training(automatic, model_files,
                                                                                      tmp_path):
    built, _ = automatic
    path = model_files["small_cnn"]
    with pytest.raises(EennError, match=r"trains the heads conv16, conv4, conv8, dense at exit point 'conv1', not "
                                        r"conv32"):
        pipeline.build(_project(path, **{"model.exits": ("conv1",), "model.head_width": 32,
                                         "training.mode": "candidates"}), tmp_path, progress=False,
                       log=lambda *_: None)
    assert not (tmp_path / ".cache").exists()
    named = pipeline.build(_project(path, name="named", **{
        "model.exits": ("conv1",), "model.head": "dense", "training.mode": "candidates",
        "model.if_slower": "keep"}), built.directory.parent, progress=False, log=lambda *_: None).build
    assert named.manifest.model.training_cache == built.manifest.model.training_cache  # the same one-pass training


def test_a_zoo_model_may_have_its_exits_chosen_but_not_with_joint_training():
    proj = project.load(None, **{"model.exits": "auto"})
    assert proj.automatic and proj.exit_points == () and proj.mechanisms == THRESHOLD_MECHANISMS
    with pytest.raises(EennError, match="training.mode joint needs the exits named"):
        project.load(None, **{"model.exits": "auto", "training.mode": "joint"})
    with pytest.raises(EennError, match="model.exits 'everywhere'"):
        project.load(None, **{"model.exits": "everywhere"})


def test_a_decision_set_by_hand_that_makes_the_eenn_costlier_is_warned_about(model_files, costly, tmp_path):
    lines = []
    built = pipeline.build(_project(model_files["small_cnn"], **costly, **{"decision.threshold": 1.0}), tmp_path,
                           progress=False, log=lines.append).build
    assert len(built.manifest.stages) == 2  # as asked: nothing certified it
    assert any(line.startswith("warning: with the decision set by hand the EENN costs") for line in lines)


def test_the_augmentation_study_names_the_targets_a_design_misses():
    from eenn.studies import augmentation

    def result(auto_macs, auto_s, best_macs, best_s):
        return {"model": "m", "full_macs": 1000, "full_accuracy": 0.9,
                "auto": {"exits": ["a"], "heads": [], "mechanism": "margin", "mean_macs": auto_macs,
                         "accuracy": 0.88, "seconds": auto_s},
                "search": {"trials": 40, "best_trial": 7, "exits": ["a", "b"], "mean_macs": best_macs,
                           "accuracy": 0.89, "seconds": best_s}}

    assert all(augmentation.checks(result(500, 10, 480, 100)).values())
    missed = augmentation.checks(result(1200, 30, 500, 100))
    assert [k for k, ok in missed.items() if not ok] == ["never above the network", "within 10% of the search's best",
                                                         "at most 0.2 of its time"]
    text = augmentation.markdown([result(500, 10, 480, 100)])
    assert "| 50.0%" not in text and "50.0%" in text and "all met" in text and "40 `eenn search` trials" in text
