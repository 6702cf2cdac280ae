"""Users' architectures, as they come, for the benchmarks and the end-to-end tests: models
from keras.applications (MobileNetV2 alpha 0.35, MobileNetV3Small with and without
minimalistic, MobileNet alpha 0.25) and a small 1-D CNN of the kind trained on sensor streams
(Concatenate, sigmoid and tanh, global max pooling), with weights that behave like trained
ones, each saved as a .keras file with random data of its shape and built as a model file."""

from pathlib import Path

import numpy as np

from .. import pipeline, project
from ..artifact import Build

CLASSES = 4
NAMES = ("mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_small_minimalistic", "mobilenet", "sensor_1d")


def _sensor_1d(keras, length: int, channels: int = 3):
    layers = keras.layers
    inp = keras.Input((length, channels))
    x = layers.Conv1D(16, 5, padding="same", name="conv")(inp)
    x = layers.BatchNormalization(name="bn")(x)
    x = layers.ReLU(name="relu")(x)
    gate = layers.Conv1D(8, 3, padding="same", activation="sigmoid", name="gate")(x)
    value = layers.Conv1D(8, 3, padding="same", activation="relu", name="value")(x)
    x = layers.Concatenate(name="join")([gate, value])
    x = layers.MaxPooling1D(2, name="pool")(x)
    x = layers.Conv1D(16, 3, padding="same", activation="relu", name="conv2")(x)
    x = layers.GlobalMaxPooling1D(name="gmp")(x)
    x = layers.Dense(16, activation="tanh", name="embed")(x)
    return keras.Model(inp, layers.Dense(CLASSES, activation="softmax", name="out")(x), name="sensor_1d")


def make(name: str, size: int):
    """The named model for inputs of `size` x `size` (the length of the 1-D one's)."""
    import keras

    apps, image = keras.applications, (size, size, 3)
    makers = {
        "mobilenet_v2": lambda: apps.MobileNetV2(alpha=0.35, input_shape=image, weights=None, classes=CLASSES),
        "mobilenet_v3_small": lambda: apps.MobileNetV3Small(input_shape=image, weights=None, classes=CLASSES,
                                                            include_preprocessing=False),
        "mobilenet_v3_small_minimalistic": lambda: apps.MobileNetV3Small(
            input_shape=image, weights=None, classes=CLASSES, minimalistic=True, include_preprocessing=False),
        "mobilenet": lambda: apps.MobileNet(alpha=0.25, input_shape=image, weights=None, classes=CLASSES),
        "sensor_1d": lambda: _sensor_1d(keras, size),
    }
    return makers[name]()


def normalize_batchnorm(model, x: np.ndarray) -> None:
    """A stand-in for training: every BatchNormalization's moving statistics set to those of its
    input over `x` (one forward pass in training mode, momentum 0). With the initial statistics,
    the activations of a deep random network shrink layer by layer, until the logits need an int8
    scale below what TFLM's softmax takes; trained weights keep them spread, and so does this."""
    import keras

    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    momenta = [layer.momentum for layer in norms]
    for layer in norms:
        layer.momentum = 0.0
    model(x, training=True)
    for layer, momentum in zip(norms, momenta):
        layer.momentum = momentum


def build(name: str, size: int, samples: int, directory: Path, out_root: Path, build_name: str = "") -> Build:
    """The named model and random data saved into `directory`, then built with its default exits
    (heads trained for one epoch, the thresholds as given: the numerics are the point, not a
    risk) and generated into out_root/<build_name, by default name>."""
    import keras

    keras.utils.set_random_seed(0)
    model = make(name, size)
    rng = np.random.default_rng(0)
    x = rng.random((samples, *model.inputs[0].shape[1:]), dtype=np.float32)
    normalize_batchnorm(model, x)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    model.save(directory / f"{name}.keras")
    np.savez(directory / f"{name}.npz", x=x, y=np.arange(samples) % CLASSES)
    p = project.override(project.Project(), name=build_name or name, **{
        "model.file": str(directory / f"{name}.keras"), "data.source": str(directory / f"{name}.npz"),
        "training.epochs": 1, "calibration.method": "none", "decision.threshold": 0.9})
    p = project.override(p, **{"model.exits": p.entry.default_exits})
    built = pipeline.build(p, Path(out_root), progress=False, log=lambda *_: None).build
    pipeline.generate(built)
    return built
