"""The model zoo: backbones with named candidate exit points.

A zoo entry is data (input shape, default dataset, candidate and default exits) plus a
builder that returns a Keras functional backbone. A candidate exit point is the name of a
layer whose output an exit head can read; the backbone's own output is the final exit.
"""

from dataclasses import dataclass
from typing import Callable

from ..errors import EennError


@dataclass(frozen=True)
class ZooEntry:
    name: str
    input_shape: tuple
    num_classes: int
    dataset: "str | None"  # built-in dataset it trains on by default; None: trained only on user data
    exit_points: tuple  # candidate exit points, in network order
    default_exits: tuple
    build: Callable  # (input_shape, num_classes, batch_size) -> keras.Model
    description: str
    final_softmax: bool = False  # the backbone ends in logits: the final exit adds a softmax
    pretrained: bool = False  # build() returns trained weights (a model file), not a fresh network
    digest: "str | None" = None  # of a model file's architecture and weights


def _conv_bn_relu(layers, x, filters, kernel, strides=1, name=None):
    x = layers.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False, name=name and f"{name}_conv")(x)
    x = layers.BatchNormalization(name=name and f"{name}_bn")(x)
    return layers.ReLU(name=name)(x)


def _digits_cnn(input_shape, num_classes, batch_size):
    import keras
    from keras import layers

    inp = keras.Input(input_shape, batch_size=batch_size, name="input")
    x = layers.Conv2D(8, 3, padding="same", activation="relu", name="conv1")(inp)
    x = layers.MaxPooling2D(2, name="block1")(x)
    x = layers.Conv2D(24, 3, padding="same", activation="relu", name="conv2")(x)
    x = layers.Conv2D(24, 3, padding="same", activation="relu", name="block2")(x)
    x = layers.Conv2D(48, 3, padding="same", activation="relu", name="conv3")(x)
    x = layers.Conv2D(48, 3, padding="same", activation="relu", name="block3")(x)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    out = layers.Dense(num_classes, activation="softmax", name="classifier")(x)
    return keras.Model(inp, out, name="digits_cnn")


def _mnist1d_cnn(input_shape, num_classes, batch_size):
    import keras
    from keras import layers

    inp = keras.Input(input_shape, batch_size=batch_size, name="input")
    x = layers.Conv1D(16, 5, padding="same", activation="relu", name="conv1")(inp)
    x = layers.MaxPooling1D(2, name="block1")(x)
    x = layers.Conv1D(32, 3, padding="same", activation="relu", name="conv2")(x)
    x = layers.MaxPooling1D(2, name="block2")(x)
    x = layers.Conv1D(48, 3, padding="same", activation="relu", name="conv3")(x)
    x = layers.Conv1D(48, 3, padding="same", activation="relu", name="block3")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(64, activation="relu", name="fc")(x)
    out = layers.Dense(num_classes, activation="softmax", name="classifier")(x)
    return keras.Model(inp, out, name="mnist1d_cnn")


def _resnet8(input_shape, num_classes, batch_size):
    """MLPerf Tiny image classification reference (CIFAR-10 ResNet-8)."""
    import keras
    from keras import layers

    inp = keras.Input(input_shape, batch_size=batch_size, name="input")
    x = _conv_bn_relu(layers, inp, 16, 3, name="stem")
    for i, (filters, strides) in enumerate([(16, 1), (32, 2), (64, 2)], start=1):
        y = _conv_bn_relu(layers, x, filters, 3, strides, name=f"stack{i}_a")
        y = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"stack{i}_b_conv")(y)
        y = layers.BatchNormalization(name=f"stack{i}_b_bn")(y)
        if strides != 1 or x.shape[-1] != filters:
            x = layers.Conv2D(filters, 1, strides=strides, name=f"stack{i}_shortcut")(x)
        x = layers.Add(name=f"stack{i}_add")([x, y])
        x = layers.ReLU(name=f"stack{i}")(x)
    x = layers.AveragePooling2D(x.shape[1], name="pool")(x)
    x = layers.Flatten(name="flatten")(x)
    out = layers.Dense(num_classes, activation="softmax", name="classifier")(x)
    return keras.Model(inp, out, name="resnet8")


def _separable_blocks(layers, x, specs):
    for i, (filters, strides) in enumerate(specs, start=1):
        x = layers.DepthwiseConv2D(3, strides=strides, padding="same", use_bias=False, name=f"block{i}_dw")(x)
        x = layers.BatchNormalization(name=f"block{i}_dw_bn")(x)
        x = layers.ReLU(name=f"block{i}_dw_relu")(x)
        x = _conv_bn_relu(layers, x, filters, 1, name=f"block{i}")
    return x


def _ds_cnn(input_shape, num_classes, batch_size):
    """MLPerf Tiny keyword spotting reference (DS-CNN small, 49x10 MFCC input)."""
    import keras
    from keras import layers

    inp = keras.Input(input_shape, batch_size=batch_size, name="input")
    x = _conv_bn_relu(layers, inp, 64, (10, 4), strides=2, name="stem")
    x = _separable_blocks(layers, x, [(64, 1)] * 4)
    x = layers.AveragePooling2D(x.shape[1:3], name="pool")(x)
    x = layers.Flatten(name="flatten")(x)
    out = layers.Dense(num_classes, activation="softmax", name="classifier")(x)
    return keras.Model(inp, out, name="ds_cnn")


def _mobilenet_v1_025(input_shape, num_classes, batch_size):
    """MLPerf Tiny visual wake words reference (MobileNetV1, width 0.25, 96x96x3)."""
    import keras
    from keras import layers

    specs = [(16, 1), (32, 2), (32, 1), (64, 2), (64, 1), (128, 2)] + [(128, 1)] * 5 + [(256, 2), (256, 1)]
    inp = keras.Input(input_shape, batch_size=batch_size, name="input")
    x = _conv_bn_relu(layers, inp, 8, 3, strides=2, name="stem")
    x = _separable_blocks(layers, x, specs)
    x = layers.AveragePooling2D(x.shape[1:3], name="pool")(x)
    x = layers.Flatten(name="flatten")(x)
    out = layers.Dense(num_classes, activation="softmax", name="classifier")(x)
    return keras.Model(inp, out, name="mobilenet_v1_025")


ZOO = {
    e.name: e
    for e in [
        ZooEntry("digits-cnn", (8, 8, 1), 10, "digits", ("block1", "block2", "block3"), ("block1", "block2"),
                 _digits_cnn, "small CNN for 8x8 digits (default)"),
        ZooEntry("mnist1d-cnn", (40, 1), 10, "mnist1d", ("block1", "block2", "block3"), ("block1", "block2"),
                 _mnist1d_cnn, "Conv1D network for MNIST-1D signals"),
        ZooEntry("resnet8", (32, 32, 3), 10, None, ("stack1", "stack2", "stack3"), ("stack1", "stack2"),
                 _resnet8, "MLPerf Tiny image classification (ResNet-8, 32x32x3)"),
        ZooEntry("ds-cnn", (49, 10, 1), 12, None, ("block1", "block2", "block3", "block4"), ("block1", "block2"),
                 _ds_cnn, "MLPerf Tiny keyword spotting (DS-CNN, 49x10 MFCC)"),
        ZooEntry("mobilenetv1-0.25", (96, 96, 3), 2, None,
                 tuple(f"block{i}" for i in range(1, 14)), ("block5", "block11"),
                 _mobilenet_v1_025, "MLPerf Tiny visual wake words (MobileNetV1 0.25, 96x96x3)"),
    ]
}


def get(name: str) -> ZooEntry:
    if name not in ZOO:
        raise EennError(f"unknown model '{name}'; the zoo has: {', '.join(ZOO)}")
    return ZOO[name]
