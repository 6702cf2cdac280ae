"""Users' architectures, as they come: models from keras.applications and a small 1-D CNN of
the kind trained on sensor streams (Concatenate, sigmoid and tanh, global max pooling), with
weights that behave like trained ones."""

import numpy as np

CLASSES = 4


def sensor_1d(keras, length: int = 64, channels: int = 3):
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


def mobilenet_v2(keras, size: int):
    return keras.applications.MobileNetV2(alpha=0.35, input_shape=(size, size, 3), weights=None, classes=CLASSES)


def mobilenet_v3_small(keras, size: int, minimalistic: bool = False):
    return keras.applications.MobileNetV3Small(input_shape=(size, size, 3), weights=None, classes=CLASSES,
                                               minimalistic=minimalistic, include_preprocessing=False)


def mobilenet(keras, size: int):
    return keras.applications.MobileNet(alpha=0.25, input_shape=(size, size, 3), weights=None, classes=CLASSES)


def make(keras, name: str, size: int):
    """The named model at input size `size` (the length of a 1-D one)."""
    return {
        "mobilenet_v2": lambda: mobilenet_v2(keras, size),
        "mobilenet_v3_small": lambda: mobilenet_v3_small(keras, size),
        "mobilenet_v3_small_minimalistic": lambda: mobilenet_v3_small(keras, size, minimalistic=True),
        "mobilenet": lambda: mobilenet(keras, size),
        "sensor_1d": lambda: sensor_1d(keras, size),
    }[name]()


NAMES = ("mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_small_minimalistic", "mobilenet", "sensor_1d")


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


def dataset(shape: tuple, samples: int, seed: int = 0) -> dict:
    """Random features in [0, 1) and balanced labels: enough for the numerics."""
    rng = np.random.default_rng(seed)
    return {"x": rng.random((samples, *shape), dtype=np.float32), "y": np.arange(samples) % CLASSES}
