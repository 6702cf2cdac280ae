"""A user's trained Keras model becomes an EENN: candidate exits in its graph, heads trained on a
frozen backbone (its own output unchanged), and the augmented network through quantization
and code generation with zero mismatches against TFLM."""

import re
from pathlib import Path

import numpy as np
import pytest

from eenn import pipeline, project
from eenn.errors import EennError
from eenn.firmware import hostrun
from eenn.frontend import augment, data

EPOCHS = 2


def _residual(keras, layers):
    """Conv-BN-ReLU stem, two residual blocks (one with a 1x1 shortcut), logits out."""
    inp = keras.Input((8, 8, 1), name="input")
    x = layers.Conv2D(8, 3, padding="same", use_bias=False, name="stem_conv")(inp)
    x = layers.BatchNormalization(name="stem_bn")(x)
    x = layers.ReLU(name="stem")(x)
    y = layers.Conv2D(8, 3, padding="same", activation="relu", name="res1_a")(x)
    y = layers.Conv2D(8, 3, padding="same", name="res1_b")(y)
    x = layers.Add(name="res1_add")([x, y])
    x = layers.ReLU(name="res1")(x)
    x = layers.MaxPooling2D(2, name="pool1")(x)
    y = layers.Conv2D(16, 3, padding="same", activation="relu", name="res2_a")(x)
    shortcut = layers.Conv2D(16, 1, name="res2_shortcut")(x)
    x = layers.Add(name="res2")([shortcut, y])
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    return keras.Model(inp, layers.Dense(10, name="logits")(x), name="residual")


def _sequential(keras, layers):
    return keras.Sequential([
        keras.Input((8, 8, 1)),
        layers.Conv2D(8, 3, padding="same", activation="relu", name="conv1"),
        layers.MaxPooling2D(2, name="pool1"),
        layers.Conv2D(16, 3, padding="same", activation="relu", name="conv2"),
        layers.Flatten(name="flatten"),
        layers.Dropout(0.1, name="dropout"),
        layers.Dense(32, activation="relu", name="fc"),
        layers.Dense(10, activation="softmax", name="classifier"),
    ], name="sequential")


@pytest.fixture(scope="module")
def model_files(tmp_path_factory):
    """The two models, trained briefly on digits and saved as .keras files."""
    import keras
    from keras import layers

    out = tmp_path_factory.mktemp("models")
    split = data.split(data.load("digits"), seed=0)
    files = {}
    for name, make, logits in [("residual", _residual, True), ("sequential", _sequential, False)]:
        keras.utils.set_random_seed(0)
        model = make(keras, layers)
        model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=logits))
        model.fit(split.train.x, split.train.y, epochs=EPOCHS, verbose=0)
        files[name] = out / f"{name}.keras"
        model.save(files[name])
    return files


@pytest.mark.parametrize("name, expected", [
    ("residual", ("stem", "res1", "pool1", "res2")),
    ("sequential", ("conv1", "pool1", "conv2", "fc")),
])
def test_candidate_exits_are_where_the_network_is_one_tensor(model_files, name, expected):
    """Not inside a residual branch, not before the BN or ReLU that ends a block, not at no-op
    layers (flatten, dropout) or global average pooling, not at the model's own output."""
    entry = augment.entry(model_files[name])
    assert entry.exit_points == expected
    assert entry.default_exits == augment.spread(expected)
    assert entry.pretrained and entry.input_shape == (8, 8, 1) and entry.num_classes == 10
    assert entry.final_softmax == (name == "residual")


@pytest.fixture(scope="module")
def augmented(model_files, tmp_path_factory):
    out = tmp_path_factory.mktemp("generated")
    builds = {}
    for name, path in model_files.items():
        p = project.override(project.Project(), name=name, **{
            "model.file": str(path), "data.source": "digits", "training.epochs": 15,
            "model.exits": augment.entry(path).default_exits, "model.if_slower": "keep"})
        builds[name] = pipeline.build(p, out, progress=False, log=lambda *_: None).build
    return out, builds


@pytest.mark.parametrize("name", ["residual", "sequential"])
def test_the_final_exit_is_the_input_model_untouched(model_files, augmented, name):
    import keras

    out, builds = augmented
    manifest = builds[name].manifest
    assert manifest.project.training.mode is None  # resolved to heads for a model file
    original = keras.models.load_model(model_files[name], compile=False)
    trained = keras.models.load_model(out / ".cache" / "models" / manifest.model.training_cache, compile=False)
    x = data.split(data.load("digits"), seed=0).test.x
    expected = original.predict(x, verbose=0)
    if name == "residual":
        expected = keras.activations.softmax(expected).numpy()
    final = trained.predict(x, verbose=0)[-1]
    np.testing.assert_array_equal(final.argmax(-1), expected.argmax(-1))
    np.testing.assert_allclose(final, expected, atol=1e-6)
    assert manifest.metrics.float_accuracy[0] > 0.3  # the head learned something


@pytest.mark.parametrize("name", ["residual", "sequential"])
def test_augmented_eenn_generated_c_equals_tflm(augmented, name, tmp_path):
    _, builds = augmented
    build = builds[name]
    generated, _ = pipeline.generate(build)
    host = hostrun.HostModel(generated, tmp_path)
    records = build.records("test")
    probs = np.stack([np.stack(host.run_one(sample[None])) for sample in records.inputs])
    np.testing.assert_array_equal(probs, records.probs)


def test_a_subclassed_model_is_refused():
    import keras

    class Subclassed(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(3)

        def call(self, x):
            return self.dense(x)

    model = Subclassed()
    model(np.zeros((1, 4), np.float32))
    with pytest.raises(EennError, match="'Subclassed' is a subclassed model"):
        augment.functional(model, "m")


def test_models_it_cannot_cut_are_refused_with_the_reason(tmp_path):
    import keras
    from keras import layers

    with pytest.raises(EennError, match="a SavedModel directory holds a TensorFlow graph"):
        augment.load(tmp_path)
    with pytest.raises(EennError, match="a model file is .keras or .h5"):
        augment.load(tmp_path / "model.onnx")
    with pytest.raises(EennError, match="no such model file"):
        augment.load(tmp_path / "missing.keras")
    inp = keras.Input((4,))
    two = keras.Model(inp, [layers.Dense(2)(inp), layers.Dense(3)(inp)])
    with pytest.raises(EennError, match="2 outputs"):
        augment.functional(two, "m")
    shared = layers.Dense(4)
    twice = keras.Model(inp, layers.Dense(2)(shared(shared(inp))))
    with pytest.raises(EennError, match="'dense.*' is called more than once"):
        augment.candidate_points(augment.functional(twice, "m"), "m")


def test_a_model_file_needs_data_of_its_shape(model_files, tmp_path):
    p = project.override(project.Project(), **{"model.file": str(model_files["sequential"])})
    with pytest.raises(EennError, match="is a trained model file: its exit heads train on data"):
        pipeline.build(p, tmp_path, progress=False)
    p = project.override(p, **{"data.source": "mnist1d"})
    with pytest.raises(EennError, match=r"takes samples of shape \(8, 8, 1\)"):
        pipeline.build(p, tmp_path, progress=False)
    p = project.override(project.Project(), **{"training.mode": "heads"})
    with pytest.raises(EennError, match="training mode 'heads' keeps the backbone's weights"):
        p.validate()
    assert not any(Path(tmp_path).iterdir())


def test_zoo_command_lists_a_model_files_exit_points(model_files):
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "eenn.cli", "zoo", "--model-file", str(model_files["residual"])],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "stem, res1, pool1, res2  res1, pool1" in r.stdout


def _unsupported_1d(keras, layers):
    """A 1-D model of the kind trained for sensors, with layers eenn has no kernel for yet."""
    inp = keras.Input((40, 1))
    a = layers.Conv1D(8, 3, padding="same", activation="relu", name="conv_a")(inp)
    b = layers.Conv1D(8, 5, padding="same", name="conv_b")(layers.Permute((2, 1), name="swap")(a))
    x = layers.LayerNormalization(name="norm")(b)
    x = layers.GlobalMaxPooling1D(name="gmp")(x)
    return keras.Model(inp, layers.Dense(4, activation="softmax", name="out")(x))


def _recurrent(keras, layers):
    inp = keras.Input((40, 1))
    x = layers.Conv1D(8, 3, activation="relu", name="conv")(inp)
    return keras.Model(inp, layers.Dense(4, activation="softmax")(layers.LSTM(8, name="memory")(x)))


@pytest.mark.parametrize("make, named", [
    (_unsupported_1d, [r"TRANSPOSE from layer 'swap'", r"RSQRT from layer 'norm'"]),
    (_recurrent, [r"recurrent layer 'memory' \(LSTM\)"]),
])
def test_layers_without_kernels_are_named_before_any_training(tmp_path, make, named):
    import subprocess
    import sys

    import keras
    from keras import layers

    make(keras, layers).save(tmp_path / "m.keras")
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", x=rng.random((80, 40, 1)).astype(np.float32), y=np.arange(80) % 4)
    for command in (["zoo", "--model-file", "m.keras"], ["build", "--model-file", "m.keras", "--dataset", "d.npz"]):
        r = subprocess.run([sys.executable, "-m", "eenn.cli", *command], cwd=tmp_path, capture_output=True, text=True)
        assert r.returncode == 1 and r.stderr.count("\n") == 1, r.stderr
        for pattern in named:
            assert re.search(pattern, r.stderr), r.stderr
    assert not (tmp_path / "generated").exists()  # refused before training wrote its cache


@pytest.mark.parametrize("name", ["digits-cnn", "mnist1d-cnn"])
def test_the_zoo_backbones_have_every_kernel(name):
    from eenn.frontend import support, zoo

    entry = zoo.get(name)
    model, batch1 = (entry.build(entry.input_shape, 10, batch) for batch in (None, 1))
    assert support.unsupported(model, batch1) == []
