"""Whether eenn can generate code for a Keras model, answered before any training: the model is
converted to int8 once (on random inputs: the ops do not depend on the data) and every op of
the conversion is lowered as the generator would; what cannot be is named with the Keras
layer it came from and what to change."""

import re

import numpy as np

from .. import ops
from ..errors import EennError
from ..tflite import ir
from . import quantize

RECURRENT = ("LSTM", "GRU", "SimpleRNN", "Bidirectional", "ConvLSTM1D", "ConvLSTM2D")
CHECK_SAMPLES = 16
_HINTS = {
    "MUL": "batch normalization right after a convolution or dense layer (before its activation), which folds "
           "into it",
    "PAD": "padding='same' in the layer after it",
}


def _layer_of(tensor_name: str, names: set) -> str:
    """The Keras layer an op's output tensor comes from. The converter names tensors by the
    layer's call scope, the layer's name with a counter appended (layer 'conv1d' is scope
    'conv1d_1', layer 'conv1d_1' scope 'conv1d_1_2')."""
    for part in tensor_name.split(";")[0].split("/")[1:]:
        base = re.sub(r"_\d+$", "", part)
        if base in names:
            return base
        if part in names:
            return part
    return "?"


def unsupported(model, batch1_model) -> list:
    """(op kind, Keras layer, why) of every op of `model`'s int8 conversion that eenn cannot
    lower, each kind and layer once; `batch1_model` is its architecture with batch size 1."""
    shape = tuple(model.inputs[0].shape[1:])
    samples = np.random.default_rng(0).random((CHECK_SAMPLES, *shape), dtype=np.float32)
    graph = ir.read(quantize.to_int8_tflite(model, batch1_model, samples))
    names, found = {operation.name for operation in model.operations}, {}
    for op in graph.ops:
        # the model's output is named by its signature, not its layer: then the op's inputs name it
        candidates = [_layer_of(graph.tensors[t].name, names) for t in (op.outputs[0], *op.inputs) if t >= 0]
        layer = next((c for c in candidates if c != "?"), "?")
        if op.kind not in ops.OPS:
            found.setdefault((op.kind, layer), "no kernel for this op")
            continue
        try:
            ops.OPS[op.kind].lower(ops.OpView(graph, op, 0))
        except ops.Refusal as e:
            found.setdefault((op.kind, layer), e.problem)
    return [(kind, layer, why) for (kind, layer), why in found.items()]


def check(model, batch1_model, source: str) -> None:
    """Refuse, in one line, a model with a layer or op that eenn cannot generate code for."""
    recurrent = [f"'{layer.name}' ({type(layer).__name__})" for layer in model.layers
                 if type(layer).__name__ in RECURRENT]
    if recurrent:
        raise EennError(f"{source}: recurrent layer {', '.join(recurrent)}: eenn generates code for feed-forward "
                        "networks only; replace it with Conv1D layers (and pooling) over the sequence")
    try:
        found = unsupported(model, batch1_model)
    except EennError as e:  # the int8 conversion itself failed
        raise EennError(f"{source}: {e}") from None
    if found:
        listed = "; ".join(f"{kind} from layer '{layer}' ({why}" + (f"; use {_HINTS[kind]}" if kind in _HINTS else "")
                           + ")" for kind, layer, why in found)
        raise EennError(f"{source}: eenn cannot generate code for {len(found)} op(s) of this model: {listed}. "
                        f"Its kernels cover {', '.join(ops.OPS)}")
