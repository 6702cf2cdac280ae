"""The single-op model builder: TFLM accepts and runs every drawn model, with the output shape
TFLite's shape rules give, and eenn.tflite.ir reads each back as one op of the right kind."""

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from tflite_micro import runtime

from eenn.tflite import flatbuffer as fb, ir
from eenn.tflite.flatbuffer import schema
from singleop import STRATEGIES

WINDOWED = {"CONV_2D", "DEPTHWISE_CONV_2D", "MAX_POOL_2D", "AVERAGE_POOL_2D"}


def _spatial_out(n, k, stride, dilation, padding):
    extent = (k - 1) * dilation + 1
    return math.ceil(n / stride) if padding == "SAME" else math.ceil((n - extent + 1) / stride)


def expected_output_shape(g: ir.Graph) -> tuple:
    """The op's output shape by TFLite's rules, from its input shapes and options."""
    op = g.ops[0]
    o = op.options
    x = g.tensor(op.inputs[0]).shape
    if op.kind in WINDOWED:
        if op.kind.endswith("POOL_2D"):
            kernel, dilation, c = (o["filterHeight"], o["filterWidth"]), (1, 1), x[3]
        else:
            w = g.tensor(op.inputs[1]).shape
            kernel, dilation = w[1:3], (o["dilationHFactor"], o["dilationWFactor"])
            c = w[0] if op.kind == "CONV_2D" else w[3]
        stride = (o["strideH"], o["strideW"])
        hw = [_spatial_out(x[1 + i], kernel[i], stride[i], dilation[i], o["padding"]) for i in range(2)]
        return (1, *hw, c)
    if op.kind == "FULLY_CONNECTED":
        w = g.tensor(op.inputs[1]).shape
        assert math.prod(x) == w[1]
        return (1, w[0])
    if op.kind in ("MEAN", "REDUCE_MAX"):
        return (1, *[1] * (len(x) - 2), x[-1]) if o["keepDims"] else (1, x[-1])
    if op.kind in ("RESHAPE", "SQUEEZE"):
        return (1, math.prod(x))
    if op.kind == "EXPAND_DIMS":
        return (1, 1, *x[1:])
    if op.kind in ("ADD", "SUB", "MUL", "MAXIMUM", "MINIMUM"):
        return tuple(np.broadcast_shapes(x, g.tensor(op.inputs[1]).shape))
    if op.kind in ("TRANSPOSE_CONV", "BROADCAST_TO"):
        return tuple(g.tensor(op.inputs[0 if op.kind == "TRANSPOSE_CONV" else 1]).data)
    if op.kind == "RESIZE_NEAREST_NEIGHBOR":
        return (1, *g.tensor(op.inputs[1]).data, x[3])
    if op.kind == "SLICE":
        begin, size = (g.tensor(t).data for t in op.inputs[1:3])
        return tuple(int(n - b if s == -1 else s) for n, b, s in zip(x, begin, size))
    if op.kind == "STRIDED_SLICE":
        return _strided_slice_shape(x, *(g.tensor(t).data for t in op.inputs[1:4]), o)
    if op.kind in ("PAD", "PADV2"):
        return tuple(int(n + a + b) for n, (a, b) in zip(x, g.tensor(op.inputs[1]).data))
    if op.kind == "CONCATENATION":
        axis = o["axis"] % len(x)
        return tuple(sum(g.tensor(t).shape[axis] for t in op.inputs) if d == axis else n for d, n in enumerate(x))
    return x  # SOFTMAX and the element-wise ops of one input


def _strided_slice_shape(x, begin, end, strides, o) -> tuple:
    """numpy's slicing: begin and end masks drop the bound, a shrunk axis is one index."""
    index = []
    for axis, (b, e, s) in enumerate(zip(begin, end, strides)):
        bit = 1 << axis
        if o["shrinkAxisMask"] & bit:
            index.append(int(b))
        else:
            start, stop = None if o["beginMask"] & bit else int(b), None if o["endMask"] & bit else int(e)
            index.append(slice(start, stop, int(s)))
    return np.empty(x)[tuple(index)].shape


@pytest.mark.parametrize("kind", list(STRATEGIES))
@settings(max_examples=20, deadline=None)
@given(data=st.data())
def test_tflm_runs_each_drawn_model(kind, data):
    single = data.draw(STRATEGIES[kind](), label="model")
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="input seed"))
    interp = runtime.Interpreter.from_bytes(single.tflite, arena_size=1 << 20)
    inputs = [rng.integers(-128, 128, size=shape, dtype=np.int8) for shape in single.input_shapes]
    for i, x in enumerate(inputs):
        interp.set_input(x, i)
    interp.invoke()
    out = interp.get_output(0)
    assert out.dtype == np.int8
    assert out.shape == expected_output_shape(ir.read(single.tflite))
    if kind == "RESHAPE":  # same quantization in and out: the bytes pass through
        np.testing.assert_array_equal(out.reshape(-1), inputs[0].reshape(-1))


@pytest.mark.parametrize("kind", list(STRATEGIES))
@settings(max_examples=20, deadline=None)
@given(data=st.data())
def test_ir_reads_one_op_of_the_right_kind(kind, data):
    single = data.draw(STRATEGIES[kind](), label="model")
    assert single.kind == kind
    g = ir.read(single.tflite)
    assert [op.kind for op in g.ops] == [kind]
    assert [g.tensor(i).shape for i in g.inputs] == single.input_shapes
    assert all(g.tensor(i).dtype == np.int8 and not g.tensor(i).is_constant for i in (*g.inputs, *g.outputs))
    assert g.outputs == g.ops[0].outputs

    model = fb.read(single.tflite)
    assert model.version == 3 and len(model.operatorCodes) == 1
    code = model.operatorCodes[0]
    assert code.builtinCode == getattr(schema.BuiltinOperator, kind)
    assert code.deprecatedBuiltinCode == min(code.builtinCode, schema.BuiltinOperator.PLACEHOLDER_FOR_GREATER_OP_CODES)
    assert model.buffers[0].data is None or len(model.buffers[0].data) == 0
    constant_buffers = [t.buffer for t in model.subgraphs[0].tensors if fb.is_constant(model, t)]
    assert len(set(constant_buffers)) == len(constant_buffers) and 0 not in constant_buffers
    assert len(model.buffers) == 1 + len(constant_buffers)
