"""Exit heads on a Keras backbone.

An EENN here is a Keras functional model with one softmax output per exit, in network
order, the backbone's own classifier last. Output k is named `exit{k}`.
"""

import re
from dataclasses import asdict, dataclass

from ..errors import EennError, check_range
from ..limits import MAX_HEAD_WIDTH

HEADS = ("dense", "conv")


@dataclass(frozen=True)
class HeadSpec:
    """`dense`: global average pooling + dense softmax; `conv`: a 3x3 conv of `width` channels first."""

    family: str = "conv"
    width: int = 16


def per_exit(heads, count: int) -> tuple:
    """One checked HeadSpec per exit, from one for all or a sequence of them."""
    heads = (heads,) * count if isinstance(heads, HeadSpec) else tuple(heads)
    if len(heads) != count:
        raise EennError(f"{len(heads)} exit heads given for {count} early exits")
    for head in heads:
        if head.family not in HEADS:
            raise EennError(f"unknown head family '{head.family}'; expected one of {', '.join(HEADS)}")
        check_range("model.head_width", head.width, 1, MAX_HEAD_WIDTH)
    return heads


def as_dict(heads):
    """JSON of one HeadSpec for all exits, or of one per exit."""
    return asdict(heads) if isinstance(heads, HeadSpec) else [asdict(h) for h in heads]


def exit_name(k: int) -> str:
    return f"exit{k}"


def _head(layers, x, spec: HeadSpec, num_classes: int, k: int):
    rank = len(x.shape)
    if spec.family == "conv" and rank in (3, 4):
        conv = layers.Conv2D if rank == 4 else layers.Conv1D
        x = conv(spec.width, 3, padding="same", activation="relu", name=f"exit{k}_conv")(x)
    if rank == 4:
        x = layers.GlobalAveragePooling2D(name=f"exit{k}_pool")(x)
    elif rank == 3:
        x = layers.GlobalAveragePooling1D(name=f"exit{k}_pool")(x)
    elif rank != 2:
        raise EennError(f"exit {k}: cannot attach a head to a tensor of rank {rank}")
    return layers.Dense(num_classes, activation="softmax", name=exit_name(k))(x)


def is_head_layer(name: str) -> bool:
    return re.fullmatch(r"exit\d+(_conv|_pool)?", name) is not None


def check_order(exit_points, in_network_order) -> None:
    """Refuse exit points that repeat or come out of network order (`in_network_order`: names
    that include every exit point, in the network's order)."""
    positions = [list(in_network_order).index(p) for p in exit_points]
    if positions != sorted(set(positions)):
        raise EennError(f"exit points {list(exit_points)} must be distinct and in network order")


def attach(backbone, exit_points, num_classes: int, heads=HeadSpec(), final_softmax: bool = False):
    """Return a model whose outputs are the heads at `exit_points` (`heads`: one HeadSpec for
    all, or one each) then the backbone's output (through a softmax if `final_softmax`: a
    backbone that ends in logits)."""
    heads = per_exit(heads, len(exit_points))
    _check_points(backbone, exit_points)
    check_order(exit_points, [layer.name for layer in backbone.layers])
    return attach_all(backbone, list(zip(exit_points, heads)), num_classes, final_softmax)


def _check_points(backbone, points) -> None:
    names = {layer.name for layer in backbone.layers}
    for point in points:
        if point not in names:
            raise EennError(f"exit point '{point}' is not a layer of model '{backbone.name}'")


def attach_all(backbone, heads_at: list, num_classes: int, final_softmax: bool = False):
    """Like `attach`, for (exit point, HeadSpec) pairs in any order, several at one point: the
    candidate heads of eenn.design, trained together. Output k is the head of pair k."""
    import keras
    from keras import layers

    _check_points(backbone, [point for point, _ in heads_at])
    outputs = [_head(layers, backbone.get_layer(p).output, h, num_classes, k) for k, (p, h) in enumerate(heads_at)]
    final_layer = layers.Softmax if final_softmax else layers.Identity
    final = final_layer(name=exit_name(len(heads_at)))(backbone.output)
    return keras.Model(backbone.input, outputs + [final], name=f"{backbone.name}_eenn")


def layers_of(k: int) -> tuple:
    """Names of the layers head k may have (its conv, its pooling, its dense softmax)."""
    return (f"exit{k}_conv", f"exit{k}_pool", exit_name(k))
