"""Trained Keras models of the kind users bring, which eenn has not seen: a 2-D network of
depthwise-separable residual blocks for digits, and a 1-D residual network for mnist1d. Each
is trained on its dataset's training part (the split a build makes) and saved as a .keras file,
for the augmentation study (eenn.studies.augmentation) and the tests."""

from pathlib import Path

from ..frontend import data
from ..frontend.training import save

DATASETS = {"depthwise_residual_2d": "digits", "residual_1d": "mnist1d"}
EPOCHS = 30


def _block(layers, x, name: str, separable: bool):
    """A residual block at the width of `x`: depthwise 3x3 + pointwise, or two 3-tap convs."""
    width = x.shape[-1]
    if separable:
        y = layers.DepthwiseConv2D(3, padding="same", name=f"{name}_dw")(x)
        y = layers.BatchNormalization(name=f"{name}_dw_bn")(y)
        y = layers.ReLU(name=f"{name}_dw_relu")(y)
        y = layers.Conv2D(width, 1, name=f"{name}_pw")(y)
    else:
        y = layers.Conv1D(width, 3, padding="same", name=f"{name}_a")(x)
        y = layers.BatchNormalization(name=f"{name}_a_bn")(y)
        y = layers.ReLU(name=f"{name}_a_relu")(y)
        y = layers.Conv1D(width, 3, padding="same", name=f"{name}_b")(y)
    y = layers.BatchNormalization(name=f"{name}_bn")(y)
    x = layers.Add(name=f"{name}_add")([x, y])
    return layers.ReLU(name=name)(x)


def _stem(layers, x, conv, width: int, kernel: int, name: str):
    x = conv(width, kernel, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return layers.ReLU(name=name)(x)


def depthwise_residual_2d(keras, num_classes: int = 10):
    """8x8x1 in: a stem, two separable residual blocks at 16 channels, pooling, a 1x1 expansion
    to 32 channels and two more blocks, then global average pooling and logits."""
    layers = keras.layers
    inp = keras.Input((8, 8, 1), name="input")
    x = _stem(layers, inp, layers.Conv2D, 16, 3, "stem")
    x = _block(layers, x, "block1", True)
    x = _block(layers, x, "block2", True)
    x = layers.MaxPooling2D(2, name="pool")(x)
    x = _stem(layers, x, layers.Conv2D, 32, 1, "expand")
    x = _block(layers, x, "block3", True)
    x = _block(layers, x, "block4", True)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    return keras.Model(inp, layers.Dense(num_classes, name="logits")(x), name="depthwise_residual_2d")


def residual_1d(keras, num_classes: int = 10):
    """40x1 in: a 5-tap stem of 32 channels, residual blocks with pooling between them, then
    global average pooling, a dense layer and a softmax."""
    layers = keras.layers
    inp = keras.Input((40, 1), name="input")
    x = _stem(layers, inp, layers.Conv1D, 32, 5, "stem")
    x = _block(layers, x, "block1", False)
    x = layers.MaxPooling1D(2, name="pool1")(x)
    x = _block(layers, x, "block2", False)
    x = layers.MaxPooling1D(2, name="pool2")(x)
    x = _stem(layers, x, layers.Conv1D, 64, 3, "widen")
    x = _block(layers, x, "block3", False)
    x = layers.GlobalAveragePooling1D(name="gap")(x)
    x = layers.Dense(64, activation="relu", name="fc")(x)
    return keras.Model(inp, layers.Dense(num_classes, activation="softmax", name="classifier")(x), name="residual_1d")


MAKERS = {"depthwise_residual_2d": depthwise_residual_2d, "residual_1d": residual_1d}


def train(name: str, path: Path, epochs: int = EPOCHS, seed: int = 0) -> Path:
    """The named model trained on its dataset's training part (as eenn splits it with `seed`),
    saved at `path` (kept if it is there already)."""
    path = Path(path)
    if path.exists():
        return path
    import keras

    split = data.split(data.load(DATASETS[name]), seed)
    keras.utils.set_random_seed(seed)
    model = MAKERS[name](keras, split.num_classes)
    logits = name == "depthwise_residual_2d"
    model.compile(keras.optimizers.Adam(3e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=logits),
                  metrics=["accuracy"])
    model.fit(split.train.x, split.train.y, epochs=epochs, batch_size=32, verbose=0)
    save(model, path)
    return path
