"""A small typed IR of one int8 stage, read from its .tflite flatbuffer.

Read once, here: tensors (shape, type, quantization, constant data), ops (builtin name,
inputs, outputs, options as plain values), and the stage's inputs and outputs. Everything
after this (memory planning, code generation) works on the IR, never on the flatbuffer.
"""

from dataclasses import dataclass

import numpy as np
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from ..errors import EennError
from ..tflite import flatbuffer as fb

_ENUMS = {
    "padding": fb.enum_names(schema.Padding),
    "fusedActivationFunction": fb.enum_names(schema.ActivationFunctionType),
}


@dataclass(frozen=True)
class Tensor:
    index: int
    name: str
    shape: tuple
    dtype: np.dtype
    quantization: "fb.Quantization | None"
    data: "np.ndarray | None"  # constant contents, in `shape`; None for activations

    @property
    def is_constant(self) -> bool:
        return self.data is not None

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * np.dtype(self.dtype).itemsize


@dataclass(frozen=True)
class Op:
    index: int
    kind: str  # builtin op name, e.g. CONV_2D
    inputs: tuple  # tensor indices; -1 for an omitted optional input
    outputs: tuple
    options: dict  # builtin options, enums as their names


@dataclass(frozen=True)
class Graph:
    name: str
    tensors: tuple
    ops: tuple
    inputs: tuple
    outputs: tuple

    def tensor(self, index: int) -> Tensor:
        return self.tensors[index]


def _options(op) -> dict:
    if op.builtinOptions is None:
        return {}
    out = {}
    for key, value in vars(op.builtinOptions).items():
        if key in _ENUMS:
            value = _ENUMS[key].get(value, value)
        elif isinstance(value, np.ndarray):
            value = value.tolist()
        out[key] = value
    return out


def _tensor(model, index: int, t) -> Tensor:
    dtype = fb.NUMPY_TYPES.get(t.type)
    if dtype is None:
        raise EennError(f"tensor '{fb.tensor_name(t)}' has type {fb.TYPE_NAMES.get(t.type, t.type)}, "
                        "which the device code does not handle")
    shape = fb.shape(t)
    data = None
    if fb.is_constant(model, t):
        raw = np.asarray(model.buffers[t.buffer].data, dtype=np.uint8).tobytes()
        data = np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
    return Tensor(index, fb.tensor_name(t), shape, np.dtype(dtype), fb.quantization(t), data)


def read(tflite: bytes) -> Graph:
    model = fb.read(tflite)
    if len(model.subgraphs) != 1:
        raise EennError(f"a stage has one subgraph; this model has {len(model.subgraphs)}")
    sg = model.subgraphs[0]
    tensors = tuple(_tensor(model, i, t) for i, t in enumerate(sg.tensors))
    ops = tuple(
        Op(i, fb.op_name(model, op), tuple(int(t) for t in op.inputs), tuple(int(t) for t in op.outputs), _options(op))
        for i, op in enumerate(sg.operators)
    )
    name = sg.name.decode() if isinstance(sg.name, bytes) else (sg.name or "")
    return Graph(name, tensors, ops, tuple(int(t) for t in sg.inputs), tuple(int(t) for t in sg.outputs))
