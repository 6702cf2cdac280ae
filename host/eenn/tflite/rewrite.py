"""Rewrites of a converted model into ops that TFLM (the reference) has, each computing the
same values: a TILE whose repeated axes all have size 1, which the converter makes of Keras'
UpSampling1D/2D (a new axis of size 1, tiled, then merged), is BROADCAST_TO the tiled shape.
TFLM has no TILE."""

import copy

import numpy as np
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from . import flatbuffer as fb


def _opcode(model, builtin: int) -> int:
    """The index of the operator code of `builtin`, added if the model has none."""
    for i, code in enumerate(model.operatorCodes):
        if max(code.builtinCode, code.deprecatedBuiltinCode) == builtin:
            return i
    code = schema.OperatorCodeT()
    code.builtinCode = builtin
    code.deprecatedBuiltinCode = min(builtin, schema.BuiltinOperator.PLACEHOLDER_FOR_GREATER_OP_CODES)
    code.version = 1
    model.operatorCodes.append(code)
    return len(model.operatorCodes) - 1


def _constant_ints(model, tensor) -> "np.ndarray | None":
    if not fb.is_constant(model, tensor) or tensor.type != schema.TensorType.INT32:
        return None
    return np.frombuffer(bytes(model.buffers[tensor.buffer].data), "<i4")


def tiles_as_broadcasts(tflite: bytes) -> bytes:
    """`tflite` with every TILE of axes of size 1 a BROADCAST_TO (unchanged if it has none)."""
    model = fb.read(tflite)
    rewritten = False
    for sg in model.subgraphs:
        for op in sg.operators:
            if fb.op_name(model, op) != "TILE":
                continue
            shape = fb.shape(sg.tensors[op.inputs[0]])
            multiples = _constant_ints(model, sg.tensors[op.inputs[1]])
            if multiples is None or len(multiples) != len(shape) or \
                    any(k != 1 and n != 1 for n, k in zip(shape, multiples)):
                continue
            target = copy.copy(sg.tensors[op.inputs[1]])
            buffer = schema.BufferT()
            buffer.data = np.frombuffer(np.array([n * k for n, k in zip(shape, multiples)], "<i4").tobytes(), np.uint8)
            model.buffers.append(buffer)
            target.buffer = len(model.buffers) - 1
            target.name = fb.tensor_name(target) + "/broadcast_shape"
            sg.tensors.append(target)
            op.inputs = [op.inputs[0], len(sg.tensors) - 1]
            op.opcodeIndex = _opcode(model, schema.BuiltinOperator.BROADCAST_TO)
            op.builtinOptionsType = schema.BuiltinOptions.BroadcastToOptions
            op.builtinOptions = schema.BroadcastToOptionsT()
            rewritten = True
    return fb.write(model) if rewritten else tflite
