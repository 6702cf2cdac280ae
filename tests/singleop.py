"""Single-op, full-int8 TFLite models, built directly as flatbuffers (no TensorFlow).

Models are written by `eenn.codegen.singleop.single`. The hypothesis strategies below each draw one
random, valid model of one op kind that the TFLM interpreter accepts and runs:

    conv2d, depthwise_conv2d, fully_connected, max_pool2d, average_pool2d, mean, add_sub,
    reshape, softmax, mul, concatenation, reduce_max, maximum_minimum, pad, squeeze,
    expand_dims, strided_slice, slice_op, resize_nearest_neighbor, broadcast_to,
    transpose_conv, and the element-wise ops of one input (LOOKUP_KINDS)

Each returns a `SingleOp`; `STRATEGIES` maps its op kind (the builtin op name, as
`eenn.tflite.ir` reads it back) to the strategy. Tensors stay small (batch 1, spatial sizes
1..9, channels 1..17) so that TFLM runs each model in milliseconds. Every random value
is drawn by hypothesis; weight arrays come from a drawn seed.
"""

import math
from dataclasses import dataclass

import numpy as np
from hypothesis import assume, strategies as st
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from eenn.codegen.singleop import INT32, INT8, INT8_STD, SOFTMAX_SCALE, Tensor, single

MAX_SPATIAL = 9
MAX_CHANNELS = 17
ACTIVATIONS = ("NONE", "RELU", "RELU6")
CONV_ACTIVATIONS = ACTIVATIONS + ("RELU_N1_TO_1",)


@dataclass(frozen=True)
class SingleOp:
    kind: str  # builtin op name, e.g. CONV_2D (what eenn.tflite.ir reads back as Op.kind)
    tflite: bytes
    input_shapes: list  # list[tuple]: shapes of the subgraph inputs, in order


def _single(kind, options_type, options, tensors, op_inputs=None) -> SingleOp:
    """The usual layout: tensors[0..k-1] activations fed to the op (plus constants), last tensor the output."""
    op_inputs = list(range(len(tensors) - 1)) if op_inputs is None else op_inputs
    inputs = [i for i in op_inputs if i >= 0 and tensors[i].data is None]
    tflite = single(kind, options_type, options, tensors, op_inputs)
    return SingleOp(kind, tflite, [tuple(tensors[i].shape) for i in inputs])


def fused_activations(names=ACTIVATIONS):
    """ActivationFunctionType values of the named fused activations."""
    return st.sampled_from([getattr(schema.ActivationFunctionType, name) for name in names])


# ---- drawing quantization and data ------------------------------------------------------

@st.composite
def scales(draw, n: int = 1, lo: float = 1e-3, hi: float = 0.5) -> tuple:
    """n positive float32 scales, log-uniform in [lo, hi]."""
    logs = draw(st.lists(st.floats(math.log(lo), math.log(hi)), min_size=n, max_size=n))
    return tuple(float(np.float32(math.exp(x))) for x in logs)


def zero_points():
    return st.integers(-128, 127)


@st.composite
def activation(draw, name: str, shape: tuple, lo: float = 1e-3, hi: float = 0.5) -> Tensor:
    """An int8 activation tensor with a random per-tensor scale and zero point."""
    (scale,) = draw(scales(1, lo, hi))
    return Tensor(name, tuple(shape), INT8, (scale,), (draw(zero_points()),))


def rms(t: Tensor) -> float:
    """Root mean square of an activation's real values when its int8 values are uniform."""
    return t.scale[0] * math.hypot(INT8_STD, t.zero_point[0])


@st.composite
def output_activation(draw, shape: tuple, spread: float) -> Tensor:
    """The output tensor. Half of the time its scale is drawn like any other (with independent
    scales that often saturates the output); otherwise it fits `spread`, the estimated root mean
    square of the real output, within a factor 8 either way, so that the int8 outputs vary."""
    if draw(st.booleans()):
        return draw(activation("output", shape))
    (factor,) = draw(scales(1, 1 / 8, 8))
    return Tensor("output", tuple(shape), INT8, (float(np.float32(3 * spread / 128 * factor)),), (draw(zero_points()),))


def _rng(draw) -> np.random.Generator:
    return np.random.default_rng(draw(st.integers(0, 2**32 - 1)))


@st.composite
def weights_and_bias(draw, shape: tuple, axis: int, input_scale: float, per_channel: bool = True,
                     with_bias: bool = True) -> list:
    """Symmetric int8 weights (per channel along `axis`, or per tensor) and an int32 bias
    whose scale is input_scale * weight scale, zero points all 0. Returns [weights] or
    [weights, bias]."""
    channels = shape[axis]
    w_scale = draw(scales(channels if per_channel else 1))
    rng = _rng(draw)
    zeros = (0,) * len(w_scale)
    w = Tensor("weights", tuple(shape), INT8, w_scale, zeros, axis if per_channel else 0,
               rng.integers(-127, 128, size=shape, dtype=np.int8))
    if not with_bias:
        return [w]
    b_scale = tuple(float(np.float32(input_scale) * np.float32(s)) for s in w_scale)
    b = Tensor("bias", (channels,), INT32, b_scale, zeros, 0, rng.integers(-5000, 5001, size=channels, dtype=np.int32))
    return [w, b]


def constant_int32(name: str, values) -> Tensor:
    values = np.asarray(values, dtype=np.int32)
    return Tensor(name, values.shape, INT32, data=values)


# ---- window geometry (convolutions and pools) -------------------------------------------

@dataclass(frozen=True)
class Window:
    padding: str  # SAME or VALID
    size: tuple  # input (H, W)
    kernel: tuple  # (KH, KW)
    stride: tuple
    dilation: tuple

    @property
    def out(self) -> tuple:
        """Output (H, W) as TFLite computes it."""
        def one(n, k, s, d):
            extent = d * (k - 1) + 1
            return (n + s - 1) // s if self.padding == "SAME" else (n - extent) // s + 1
        return tuple(map(one, self.size, self.kernel, self.stride, self.dilation))


@st.composite
def windows(draw, max_kernel: int = 4, dilate: bool = True, allow_1d: bool = False) -> Window:
    """A window whose output is at least 1x1; with allow_1d sometimes H=1 with KH=1 (a 1-D op)."""
    padding = draw(st.sampled_from(["SAME", "VALID"]))
    one_d = allow_1d and draw(st.booleans())
    dims = []
    for flat in (one_d, False):
        k = 1 if flat else draw(st.integers(1, max_kernel))
        d = 1 if flat or not dilate else draw(st.integers(1, 2))
        s = draw(st.integers(1, 3))
        smallest = d * (k - 1) + 1 if padding == "VALID" else 1
        n = 1 if flat else draw(st.integers(smallest, MAX_SPATIAL))
        dims.append((n, k, s, d))
    size, kernel, stride, dilation = zip(*dims)
    return Window(padding, size, kernel, stride, dilation)


def channels(lo: int = 1, hi: int = MAX_CHANNELS):
    return st.integers(lo, hi)


def spatial():
    return st.integers(1, MAX_SPATIAL)


@st.composite
def nhwc(draw) -> tuple:
    return (1, draw(spatial()), draw(spatial()), draw(channels()))


# ---- strategies, one per op kind --------------------------------------------------------

def _dot_spread(x: Tensor, w: Tensor, fan_in: int) -> float:
    """Estimated root mean square of a dot product of fan_in inputs and weights."""
    w_scale = math.exp(np.mean(np.log(w.scale)))
    return rms(x) * w_scale * INT8_STD * math.sqrt(fan_in)


@st.composite
def _convolution(draw, depthwise: bool) -> SingleOp:
    win = draw(windows(allow_1d=True))
    cin = draw(channels())
    x = draw(activation("input", (1, *win.size, cin)))
    if depthwise:
        multiplier = draw(st.integers(1, 2))
        cout = cin * multiplier
        params = draw(weights_and_bias((1, *win.kernel, cout), 3, x.scale[0]))
        kind, options_type = "DEPTHWISE_CONV_2D", schema.BuiltinOptions.DepthwiseConv2DOptions
        options = schema.DepthwiseConv2DOptionsT(depthMultiplier=multiplier)
    else:
        cout = draw(channels())
        params = draw(weights_and_bias((cout, *win.kernel, cin), 0, x.scale[0]))
        kind, options_type = "CONV_2D", schema.BuiltinOptions.Conv2DOptions
        options = schema.Conv2DOptionsT()
    options.padding = getattr(schema.Padding, win.padding)
    options.strideH, options.strideW = win.stride
    options.dilationHFactor, options.dilationWFactor = win.dilation
    options.fusedActivationFunction = draw(fused_activations(CONV_ACTIVATIONS))
    fan_in = math.prod(win.kernel) * (1 if depthwise else cin)
    y = draw(output_activation((1, *win.out, cout), _dot_spread(x, params[0], fan_in)))
    return _single(kind, options_type, options, [x, *params, y])


@st.composite
def conv2d(draw) -> SingleOp:
    """CONV_2D: [1,H,W,Cin] x [Cout,KH,KW,Cin] (per-channel, axis 0) + int32 bias [Cout]."""
    return draw(_convolution(depthwise=False))


@st.composite
def depthwise_conv2d(draw) -> SingleOp:
    """DEPTHWISE_CONV_2D: [1,H,W,Cin] x [1,KH,KW,Cin*M] (per-channel, axis 3), M in 1..2."""
    return draw(_convolution(depthwise=True))


@st.composite
def fully_connected(draw) -> SingleOp:
    """FULLY_CONNECTED: [1,N] or [1,1,1,N] x [Cout,N], per-channel or per-tensor, bias or none."""
    n = draw(st.integers(1, 64))
    shape = draw(st.sampled_from([(1, n), (1, 1, 1, n)]))
    x = draw(activation("input", shape))
    cout = draw(channels())
    with_bias = draw(st.booleans())
    params = draw(weights_and_bias((cout, n), 0, x.scale[0], per_channel=draw(st.booleans()), with_bias=with_bias))
    y = draw(output_activation((1, cout), _dot_spread(x, params[0], n)))
    options = schema.FullyConnectedOptionsT(
        fusedActivationFunction=draw(fused_activations()),
        keepNumDims=False)
    op_inputs = [0, 1, 2] if with_bias else [0, 1, -1]
    return _single("FULLY_CONNECTED", schema.BuiltinOptions.FullyConnectedOptions, options, [x, *params, y], op_inputs)


@st.composite
def _pool(draw, kind: str) -> SingleOp:
    win = draw(windows(dilate=False))
    c = draw(channels())
    x = draw(activation("input", (1, *win.size, c)))
    y = Tensor("output", (1, *win.out, c), INT8, x.scale, x.zero_point)  # TFLM: same quantization in and out
    options = schema.Pool2DOptionsT(
        padding=getattr(schema.Padding, win.padding), strideH=win.stride[0], strideW=win.stride[1],
        filterHeight=win.kernel[0], filterWidth=win.kernel[1],
        fusedActivationFunction=draw(fused_activations()))
    return _single(kind, schema.BuiltinOptions.Pool2DOptions, options, [x, y])


@st.composite
def max_pool2d(draw) -> SingleOp:
    """MAX_POOL_2D, filter 1..4, stride 1..3, identical input and output quantization."""
    return draw(_pool("MAX_POOL_2D"))


@st.composite
def average_pool2d(draw) -> SingleOp:
    """AVERAGE_POOL_2D, filter 1..4, stride 1..3, identical input and output quantization."""
    return draw(_pool("AVERAGE_POOL_2D"))


@st.composite
def mean(draw) -> SingleOp:
    """MEAN over axes [1, 2] of [1,H,W,C], keepDims either way; output quantization random or the input's."""
    x = draw(activation("input", draw(nhwc())))
    c = x.shape[3]
    keep = draw(st.booleans())
    out_shape = (1, 1, 1, c) if keep else (1, c)
    spread = x.scale[0] * math.hypot(INT8_STD / math.sqrt(x.shape[1] * x.shape[2]), x.zero_point[0])
    y = draw(st.one_of(st.just(Tensor("output", out_shape, INT8, x.scale, x.zero_point)),
                       output_activation(out_shape, spread)))
    options = schema.ReducerOptionsT(keepDims=keep)
    return _single("MEAN", schema.BuiltinOptions.ReducerOptions, options, [x, constant_int32("axis", [1, 2]), y])


def _binary_operands(draw, shape: tuple):
    """The two inputs of ADD or SUB to an output of `shape`: tensors of its shape, one [1,1,1,C]
    (either side), a constant tensor of [C], [1,1,1,C] or the shape, or one constant value."""
    a = draw(activation("input_a", shape))
    form = draw(st.sampled_from(["same", "channels", "constant_tensor", "constant_value"]))
    if form.startswith("constant"):
        b_shape = () if form == "constant_value" else draw(st.sampled_from([(shape[3],), (1, 1, 1, shape[3]), shape]))
        (scale,) = draw(scales(1))
        values = _rng(draw).integers(-128, 128, size=b_shape, dtype=np.int64).astype(np.int8)
        b = Tensor("constant", b_shape, INT8, (scale,), (draw(zero_points()),), data=values)
    else:
        b = draw(activation("input_b", shape if form == "same" else (1, 1, 1, shape[3])))
    return (b, a) if draw(st.booleans()) else (a, b)


@st.composite
def _add_sub(draw, kind: str) -> SingleOp:
    """ADD or SUB to [1,H,W,C] (_binary_operands), each input with its own quantization;
    potScaleInt16 as the converter sets it."""
    shape = draw(nhwc())
    a, b = _binary_operands(draw, shape)
    y = draw(output_activation(shape, math.hypot(rms(a), rms(b))))
    options_type, options = ((schema.BuiltinOptions.AddOptions, schema.AddOptionsT) if kind == "ADD" else
                             (schema.BuiltinOptions.SubOptions, schema.SubOptionsT))
    return _single(kind, options_type, options(fusedActivationFunction=draw(fused_activations()), potScaleInt16=True),
                   [a, b, y])


def add_sub(kind: str):
    return lambda: _add_sub(kind)


@st.composite
def _maximum_minimum(draw, kind: str) -> SingleOp:
    """MAXIMUM or MINIMUM to [1,H,W,C] of the operands ADD takes (_binary_operands); any
    quantizations (TFLM compares the stored values)."""
    shape = draw(nhwc())
    a, b = _binary_operands(draw, shape)
    y = draw(activation("output", shape))
    return _single(kind, schema.BuiltinOptions.MaximumMinimumOptions, schema.MaximumMinimumOptionsT(), [a, b, y])


def maximum_minimum(kind: str):
    return lambda: _maximum_minimum(kind)


@st.composite
def _pad(draw, kind: str) -> SingleOp:
    """PAD or PADV2 of [1,N,C] or [1,H,W,C] by 0..2 before and after each axis but the batch; PADV2
    with a constant value."""
    shape = draw(st.one_of(nhwc(), st.tuples(st.just(1), spatial(), channels())))
    x = draw(activation("input", shape))
    paddings = [[0, 0]] + [[draw(st.integers(0, 2)), draw(st.integers(0, 2))] for _ in shape[1:]]
    y = draw(activation("output", tuple(n + a + b for n, (a, b) in zip(shape, paddings))))
    tensors = [x, constant_int32("paddings", paddings)]
    if kind == "PADV2":
        tensors.append(Tensor("value", (1,), INT8, y.scale, y.zero_point,
                              data=np.array([draw(st.integers(-128, 127))], np.int8)))
        return _single(kind, schema.BuiltinOptions.PadV2Options, schema.PadV2OptionsT(), [*tensors, y])
    return _single(kind, schema.BuiltinOptions.PadOptions, schema.PadOptionsT(), [*tensors, y])


def pad(kind: str):
    return lambda: _pad(kind)


@st.composite
def reshape(draw) -> SingleOp:
    """RESHAPE [1,H,W,C] -> [1,H*W*C], shape as a constant int32 input and as newShape."""
    x = draw(activation("input", draw(nhwc())))
    new_shape = [1, int(np.prod(x.shape))]
    y = Tensor("output", tuple(new_shape), INT8, x.scale, x.zero_point)
    options = schema.ReshapeOptionsT(newShape=new_shape)
    return _single("RESHAPE", schema.BuiltinOptions.ReshapeOptions, options, [x, constant_int32("shape", new_shape), y])


@st.composite
def softmax(draw) -> SingleOp:
    """SOFTMAX of [1,N], N in 1..20; output scale 1/256, zero point -128, beta 1."""
    shape = (1, draw(st.integers(1, 20)))
    x = draw(activation("input", shape, 1e-4, 0.2))
    y = Tensor("output", shape, INT8, (SOFTMAX_SCALE,), (-128,))
    return _single("SOFTMAX", schema.BuiltinOptions.SoftmaxOptions, schema.SoftmaxOptionsT(beta=1.0), [x, y])


# LOGISTIC and TANH take one output quantization only, as TFLM requires
FIXED_OUTPUT = {"LOGISTIC": ((SOFTMAX_SCALE,), (-128,)), "TANH": ((float(np.float32(1 / 128)),), (0,))}
LOOKUP_KINDS = ("LOGISTIC", "TANH", "HARD_SWISH", "LEAKY_RELU", "RELU", "RELU6", "QUANTIZE")


def elementwise_shapes():
    return st.one_of(nhwc(), st.tuples(st.just(1), st.integers(1, 64)))


@st.composite
def _lookup(draw, kind: str) -> SingleOp:
    """An element-wise op of one input, any shape; its own output quantization where TFLM allows."""
    shape = draw(elementwise_shapes())
    x = draw(activation("input", shape, 1e-3, 0.2))
    y = (Tensor("output", shape, INT8, *FIXED_OUTPUT[kind]) if kind in FIXED_OUTPUT
         else draw(output_activation(shape, rms(x))))
    if kind == "HARD_SWISH" and y.scale[0] <= x.scale[0] / 128:  # TFLM takes no finer output scale
        y = Tensor("output", shape, INT8, (float(np.float32(x.scale[0] / 64)),), y.zero_point)
    options_type, options = schema.BuiltinOptions.NONE, None
    if kind == "LEAKY_RELU":
        alpha = float(np.float32(draw(st.floats(0.01, 0.99))))
        options_type, options = schema.BuiltinOptions.LeakyReluOptions, schema.LeakyReluOptionsT(alpha=alpha)
    return _single(kind, options_type, options, [x, y])


def lookup(kind: str):
    return lambda: _lookup(kind)


@st.composite
def mul(draw) -> SingleOp:
    """MUL to [1,H,W,C] of the operands ADD takes (_binary_operands): a tensor of its shape, [1,1,1,C]
    (squeeze and excite), a constant tensor, or one constant value."""
    shape = draw(nhwc())
    a, b = _binary_operands(draw, shape)
    y = draw(output_activation(shape, rms(a) * rms(b)))
    options = schema.MulOptionsT(fusedActivationFunction=draw(fused_activations()))
    return _single("MUL", schema.BuiltinOptions.MulOptions, options, [a, b, y])


@st.composite
def concatenation(draw) -> SingleOp:
    """CONCATENATION of 1..4 tensors of rank 2..4 along any axis but the batch (as a negative axis
    too), all of one quantization (TFLM requires it)."""
    shape = list(draw(st.sampled_from([(1, 9), (1, 5, 7), (1, 4, 3, 5)])))
    rank = len(shape)
    axis = draw(st.integers(1, rank - 1))
    shape = [1] + [draw(st.integers(1, n)) for n in shape[1:]]
    sizes = draw(st.lists(st.integers(1, 6), min_size=1, max_size=4))
    y_scale, y_zp = draw(scales(1)), (draw(zero_points()),)
    xs = [Tensor(f"input_{k}", tuple(size if d == axis else n for d, n in enumerate(shape)), INT8, y_scale, y_zp)
          for k, size in enumerate(sizes)]
    out = tuple(sum(sizes) if d == axis else n for d, n in enumerate(shape))
    y = Tensor("output", out, INT8, y_scale, y_zp)
    written_axis = axis - rank if draw(st.booleans()) else axis
    options = schema.ConcatenationOptionsT(axis=written_axis)
    return _single("CONCATENATION", schema.BuiltinOptions.ConcatenationOptions, options, [*xs, y])


@st.composite
def reduce_max(draw) -> SingleOp:
    """REDUCE_MAX over the spatial axes of [1,H,W,C] or [1,N,C], keepDims either way; one quantization."""
    shape = draw(st.one_of(nhwc(), st.tuples(st.just(1), spatial(), channels())))
    x = draw(activation("input", shape))
    spatial_axes = list(range(1, len(shape) - 1))
    keep = draw(st.booleans())
    out_shape = (1, *([1] * len(spatial_axes)), shape[-1]) if keep else (1, shape[-1])
    y = Tensor("output", out_shape, INT8, x.scale, x.zero_point)
    options = schema.ReducerOptionsT(keepDims=keep)
    return _single("REDUCE_MAX", schema.BuiltinOptions.ReducerOptions, options,
                   [x, constant_int32("axis", spatial_axes), y])


@st.composite
def squeeze(draw) -> SingleOp:
    """SQUEEZE [1,1,1,C] -> [1,C]."""
    c = draw(channels())
    x = draw(activation("input", (1, 1, 1, c)))
    y = Tensor("output", (1, c), INT8, x.scale, x.zero_point)
    return _single("SQUEEZE", schema.BuiltinOptions.SqueezeOptions, schema.SqueezeOptionsT(squeezeDims=[1, 2]),
                   [x, y])


@st.composite
def expand_dims(draw) -> SingleOp:
    """EXPAND_DIMS [1,N,C] -> [1,1,N,C], the axis a constant input (what Conv1D lowers through)."""
    x = draw(activation("input", (1, draw(spatial()), draw(channels()))))
    y = Tensor("output", (1, 1, *x.shape[1:]), INT8, x.scale, x.zero_point)
    return _single("EXPAND_DIMS", schema.BuiltinOptions.ExpandDimsOptions, schema.ExpandDimsOptionsT(),
                   [x, constant_int32("axis", [1]), y])


def _shapes_to_slice():
    return st.one_of(nhwc(), st.tuples(st.just(1), spatial(), channels()))


@st.composite
def strided_slice(draw) -> SingleOp:
    """STRIDED_SLICE of [1,H,W,C] or [1,N,C] with constant begin, end and strides (negative ones
    too) and the begin, end and shrink masks, in the forms whose output numpy's slicing gives;
    never empty."""
    shape = draw(_shapes_to_slice())
    x = draw(activation("input", shape))
    begin, end, strides, index = [0], [1], [1], [slice(0, 1)]
    masks = {"beginMask": 0, "endMask": 0, "shrinkAxisMask": 0}
    for axis, n in enumerate(shape[1:], start=1):
        bit, form = 1 << axis, draw(st.sampled_from(["range", "range", "beginMask", "endMask", "shrink"]))
        step = 1 if form == "shrink" else draw(st.sampled_from([1, 2, 3, -1, -2]))
        b, e = draw(st.integers(-n, n - 1)), draw(st.integers(-n - 1, n + 1))
        begin.append(b), end.append(e), strides.append(step)
        if form == "shrink":
            masks["shrinkAxisMask"] |= bit
            index.append(b)
        elif form in masks:
            masks[form] |= bit
            index.append(slice(None, e, step) if form == "beginMask" else slice(b, None, step))
        else:
            index.append(slice(b, e, step))
    out_shape = np.empty(shape)[tuple(index)].shape
    assume(out_shape and 0 not in out_shape)
    y = Tensor("output", out_shape, INT8, x.scale, x.zero_point)
    return _single("STRIDED_SLICE", schema.BuiltinOptions.StridedSliceOptions, schema.StridedSliceOptionsT(**masks),
                   [x, constant_int32("begin", begin), constant_int32("end", end), constant_int32("strides", strides),
                    y])


@st.composite
def slice_op(draw) -> SingleOp:
    """SLICE of [1,H,W,C] or [1,N,C] with constant begin and size (-1: to the end)."""
    shape = draw(_shapes_to_slice())
    x = draw(activation("input", shape))
    begin = [0] + [draw(st.integers(0, n - 1)) for n in shape[1:]]
    size = [1] + [draw(st.sampled_from([-1, draw(st.integers(1, n - b))])) for n, b in zip(shape[1:], begin[1:])]
    out_shape = tuple(n - b if s == -1 else s for n, b, s in zip(shape, begin, size))
    y = Tensor("output", out_shape, INT8, x.scale, x.zero_point)
    return _single("SLICE", schema.BuiltinOptions.SliceOptions, schema.SliceOptionsT(),
                   [x, constant_int32("begin", begin), constant_int32("size", size), y])


@st.composite
def resize_nearest_neighbor(draw) -> SingleOp:
    """RESIZE_NEAREST_NEIGHBOR of [1,H,W,C] to any size 1..2*MAX_SPATIAL (UpSampling2D's integer factors
    among them), align_corners and half_pixel_centers either way (not both)."""
    shape = draw(nhwc())
    x = draw(activation("input", shape))
    size = [draw(st.one_of(st.integers(1, 2 * MAX_SPATIAL), st.sampled_from([2 * n, 3 * n]))) for n in shape[1:3]]
    corners = draw(st.booleans())
    half = not corners and draw(st.booleans())
    y = Tensor("output", (1, *size, shape[3]), INT8, x.scale, x.zero_point)
    options = schema.ResizeNearestNeighborOptionsT(alignCorners=corners, halfPixelCenters=half)
    return _single("RESIZE_NEAREST_NEIGHBOR", schema.BuiltinOptions.ResizeNearestNeighborOptions, options,
                   [x, constant_int32("size", size), y])


@st.composite
def broadcast_to(draw) -> SingleOp:
    """BROADCAST_TO of [1, ...] (rank 2..5; UpSampling's [1,H,1,W,C]) with some axes of size 1
    repeated 2..4 times."""
    shape = [1] + [draw(st.sampled_from([1, 1, draw(st.integers(2, 5))])) for _ in range(draw(st.integers(1, 4)))]
    out = [1] + [draw(st.integers(2, 4)) if n == 1 and draw(st.booleans()) else n for n in shape[1:]]
    assume(out != shape)
    x = draw(activation("input", tuple(shape)))
    y = Tensor("output", tuple(out), INT8, x.scale, x.zero_point)
    return _single("BROADCAST_TO", schema.BuiltinOptions.BroadcastToOptions, schema.BroadcastToOptionsT(),
                   [x, constant_int32("shape", out), y])


@st.composite
def transpose_conv(draw) -> SingleOp:
    """TRANSPOSE_CONV: [1,H,W,Cin] to [1,H',W',Cout] through weights [Cout,KH,KW,Cin] (per channel,
    axis 0), stride 1..3, SAME (H' = H * stride) or VALID (H' = (H - 1) * stride + KH) padding, with
    or without a bias; inputs in TFLite's order (output shape, weights, input, bias)."""
    h, w = draw(spatial()), draw(spatial())
    if draw(st.booleans()):
        h = 1  # Conv1DTranspose
    cin, cout = draw(channels(1, 8)), draw(channels(1, 8))
    k = (1 if h == 1 else draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    stride = (1 if h == 1 else draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = draw(st.sampled_from(["SAME", "VALID"]))
    out = tuple(n * s if padding == "SAME" else (n - 1) * s + kk for n, s, kk in zip((h, w), stride, k))
    x = draw(activation("input", (1, h, w, cin)))
    params = draw(weights_and_bias((cout, *k, cin), 0, x.scale[0], with_bias=draw(st.booleans())))
    fan_in = -(-k[0] // stride[0]) * -(-k[1] // stride[1]) * cin
    y = draw(output_activation((1, *out, cout), _dot_spread(x, params[0], fan_in)))
    options = schema.TransposeConvOptionsT(padding=getattr(schema.Padding, padding), strideH=stride[0],
                                           strideW=stride[1], fusedActivationFunction=draw(fused_activations()))
    tensors = [constant_int32("output_shape", [1, *out, cout]), params[0], x, *params[1:], y]
    return _single("TRANSPOSE_CONV", schema.BuiltinOptions.TransposeConvOptions, options, tensors)


STRATEGIES = {
    "CONV_2D": conv2d,
    "DEPTHWISE_CONV_2D": depthwise_conv2d,
    "FULLY_CONNECTED": fully_connected,
    "MAX_POOL_2D": max_pool2d,
    "AVERAGE_POOL_2D": average_pool2d,
    "MEAN": mean,
    "ADD": add_sub("ADD"),
    "RESHAPE": reshape,
    "SOFTMAX": softmax,
    "MUL": mul,
    "CONCATENATION": concatenation,
    "REDUCE_MAX": reduce_max,
    "SUB": add_sub("SUB"),
    "MAXIMUM": maximum_minimum("MAXIMUM"),
    "MINIMUM": maximum_minimum("MINIMUM"),
    "PAD": pad("PAD"),
    "PADV2": pad("PADV2"),
    "SQUEEZE": squeeze,
    "EXPAND_DIMS": expand_dims,
    "STRIDED_SLICE": strided_slice,
    "SLICE": slice_op,
    "RESIZE_NEAREST_NEIGHBOR": resize_nearest_neighbor,
    "TRANSPOSE_CONV": transpose_conv,
    "BROADCAST_TO": broadcast_to,
    **{kind: lookup(kind) for kind in LOOKUP_KINDS},
}


def single_ops():
    """Any one of the op kinds above."""
    return st.one_of(*(strategy() for strategy in STRATEGIES.values()))
