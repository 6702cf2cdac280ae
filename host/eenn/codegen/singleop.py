"""Single-op, full-int8 TFLite models built directly as flatbuffers (no TensorFlow).

`build` writes any one-operator model through the schema's object API. The makers below
(`conv2d`, `transpose_conv`, `fully_connected`, `pool`, `mean`, `reduce_max`, `logistic`,
`mul`, `concatenation`, `add`, `maximum_minimum`, `pad`, `crop`, `upsample`, `softmax`) give one layer of a chosen
shape with the quantization the converter produces for a ReLU network: inputs and outputs
at zero point -128, weights symmetric per output channel, int32 biases, and scales that
keep the int8 outputs spread. Weights come from a seeded generator, so a layer is the same
bytes every time. They are what the cost model and the benchmarks measure.
"""

import math
from dataclasses import dataclass

import numpy as np
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from .. import ops
from ..errors import EennError
from ..tflite import flatbuffer as fb, ir

INT8 = schema.TensorType.INT8
INT32 = schema.TensorType.INT32
_NUMPY = {INT8: np.dtype("<i1"), INT32: np.dtype("<i4")}
INT8_STD = 74.0  # standard deviation of uniformly random int8 values (and of random symmetric weights)
INPUT_SCALE = float(np.float32(1 / 255))
ZERO_POINT = -128
SOFTMAX_SCALE = float(np.float32(1 / 256))


@dataclass(frozen=True)
class Tensor:
    """One tensor of a single-op model: an activation (data None) or a constant."""

    name: str
    shape: tuple
    type: int = INT8
    scale: tuple = ()  # empty: not quantized
    zero_point: tuple = ()
    axis: int = 0  # quantizedDimension, for per-channel scales
    data: "np.ndarray | None" = None


@dataclass(frozen=True)
class Layer:
    kind: str  # builtin op name, e.g. CONV_2D (what eenn.tflite.ir reads back as Op.kind)
    name: str  # the layer's shape in words, e.g. "conv 3x3 32x32x16->16"
    tflite: bytes

    @property
    def call(self) -> ops.KernelCall:
        """The layer's kernel call, as the generator lowers it."""
        (call,) = [c for c in ops.lower(ir.read(self.tflite), 0) if c.function]
        return call

    @property
    def macs(self) -> int:
        graph = ir.read(self.tflite)
        return sum(ops.macs(graph, op) for op in graph.ops)


def _quantization(t: Tensor):
    if not t.scale:
        return None
    return schema.QuantizationParametersT(scale=[float(s) for s in t.scale], zeroPoint=[int(z) for z in t.zero_point],
                                          quantizedDimension=t.axis)


def build(kind: str, options_type: int, options, tensors: list, op_inputs: list, op_outputs: list,
          inputs: list, outputs: list) -> bytes:
    """A version-3 model with one subgraph holding one `kind` operator (a BuiltinOperator name).

    `options_type` is the schema.BuiltinOptions value of `options` (an ...OptionsT or None);
    `op_inputs` may hold -1 for an omitted optional input. Buffer 0 stays empty and every
    constant tensor gets its own buffer; activations point at buffer 0.
    """
    buffers = [schema.BufferT()]
    tensor_ts = []
    for t in tensors:
        buffer = 0
        if t.data is not None:
            raw = np.ascontiguousarray(t.data, dtype=_NUMPY[t.type]).reshape(t.shape).tobytes()
            buffers.append(schema.BufferT(data=np.frombuffer(raw, dtype=np.uint8)))
            buffer = len(buffers) - 1
        tensor_ts.append(schema.TensorT(shape=list(t.shape), type=t.type, buffer=buffer, name=t.name,
                                        quantization=_quantization(t)))
    code = getattr(schema.BuiltinOperator, kind)
    op = schema.OperatorT(opcodeIndex=0, inputs=list(op_inputs), outputs=list(op_outputs),
                          builtinOptionsType=options_type, builtinOptions=options)
    subgraph = schema.SubGraphT(tensors=tensor_ts, inputs=list(inputs), outputs=list(outputs), operators=[op],
                                name="main")
    opcode = schema.OperatorCodeT(deprecatedBuiltinCode=min(code, 127), builtinCode=code, version=1)
    model = schema.ModelT(version=3, operatorCodes=[opcode], subgraphs=[subgraph], buffers=buffers,
                          description="eenn single-op model")
    return fb.write(model)


def single(kind: str, options_type: int, options, tensors: list, op_inputs=None) -> bytes:
    """The usual layout: the op reads tensors[0..n-2] (activations and constants, or `op_inputs`)
    and writes the last tensor; the activations it reads are the model's inputs."""
    op_inputs = list(range(len(tensors) - 1)) if op_inputs is None else op_inputs
    inputs = [i for i in op_inputs if i >= 0 and tensors[i].data is None]
    out = len(tensors) - 1
    return build(kind, options_type, options, tensors, op_inputs, [out], inputs, [out])


def output_size(n: int, kernel: int, stride: int, padding: str) -> int:
    """One spatial dimension of a window op's output, as TFLite computes it."""
    size = -(-n // stride) if padding == "SAME" else (n - kernel) // stride + 1
    if size < 1:
        raise EennError(f"a {kernel}-wide window with {padding} padding leaves no output of an input of {n}")
    return size


def _activation(name: str, shape: tuple, scale: float = INPUT_SCALE) -> Tensor:
    return Tensor(name, tuple(shape), INT8, (float(np.float32(scale)),), (ZERO_POINT,))


def _weights_and_bias(shape: tuple, axis: int, input_scale: float, seed: int) -> list:
    rng = np.random.default_rng(seed)
    channels = shape[axis]
    w_scale = tuple(float(np.float32(s)) for s in rng.uniform(0.002, 0.02, channels))
    zeros = (0,) * channels
    w = Tensor("weights", tuple(shape), INT8, w_scale, zeros, axis, rng.integers(-127, 128, size=shape, dtype=np.int8))
    b_scale = tuple(float(np.float32(input_scale) * np.float32(s)) for s in w_scale)
    b = Tensor("bias", (channels,), INT32, b_scale, zeros, 0, rng.integers(-5000, 5001, size=channels, dtype=np.int32))
    return [w, b]


def _dot_output_scale(input_scale: float, weights: Tensor, fan_in: int) -> float:
    """An output scale that spans about 3 standard deviations of a dot product of fan_in terms."""
    spread = input_scale * math.hypot(INT8_STD, ZERO_POINT) * float(np.mean(weights.scale)) * INT8_STD
    return 3 * spread * math.sqrt(fan_in) / 128


def conv2d(size: tuple, in_c: int, out_c: int, kernel: tuple = (3, 3), stride: int = 1, padding: str = "SAME",
           depthwise: bool = False, seed: int = 0) -> Layer:
    """CONV_2D (or DEPTHWISE_CONV_2D, out_c a multiple of in_c) with ReLU on a [1,H,W,in_c] input."""
    out_h, out_w = (output_size(n, k, stride, padding) for n, k in zip(size, kernel))
    x = _activation("input", (1, *size, in_c))
    if depthwise:
        if out_c % in_c:
            raise EennError(f"a depthwise convolution maps {in_c} channels to a multiple of {in_c}, not {out_c}")
        params = _weights_and_bias((1, *kernel, out_c), 3, x.scale[0], seed)
        kind, options_type = "DEPTHWISE_CONV_2D", schema.BuiltinOptions.DepthwiseConv2DOptions
        options = schema.DepthwiseConv2DOptionsT(depthMultiplier=out_c // in_c)
        fan_in = math.prod(kernel)
    else:
        params = _weights_and_bias((out_c, *kernel, in_c), 0, x.scale[0], seed)
        kind, options_type = "CONV_2D", schema.BuiltinOptions.Conv2DOptions
        options = schema.Conv2DOptionsT()
        fan_in = math.prod(kernel) * in_c
    options.padding = getattr(schema.Padding, padding)
    options.strideH = options.strideW = stride
    options.dilationHFactor = options.dilationWFactor = 1
    options.fusedActivationFunction = schema.ActivationFunctionType.RELU
    y = _activation("output", (1, out_h, out_w, out_c), _dot_output_scale(x.scale[0], params[0], fan_in))
    words = "depthwise" if depthwise else "conv"
    name = f"{words} {kernel[0]}x{kernel[1]}/{stride} {padding.lower()} {size[0]}x{size[1]}x{in_c}->{out_c}"
    return Layer(kind, name, single(kind, options_type, options, [x, *params, y]))


def transpose_conv(size: tuple, in_c: int, out_c: int, kernel: tuple = (3, 3), stride: int = 2,
                   padding: str = "SAME", seed: int = 0) -> Layer:
    """TRANSPOSE_CONV with ReLU of a [1,H,W,in_c] input (Conv2DTranspose): H * stride rows out
    with SAME padding, (H - 1) * stride + the kernel with VALID."""
    out = tuple(n * stride if padding == "SAME" else (n - 1) * stride + k for n, k in zip(size, kernel))
    x = _activation("input", (1, *size, in_c))
    w, b = _weights_and_bias((out_c, *kernel, in_c), 0, x.scale[0], seed)
    fan_in = math.prod(-(-k // stride) for k in kernel) * in_c
    y = _activation("output", (1, *out, out_c), _dot_output_scale(x.scale[0], w, fan_in))
    options = schema.TransposeConvOptionsT(padding=getattr(schema.Padding, padding), strideH=stride, strideW=stride,
                                           fusedActivationFunction=schema.ActivationFunctionType.RELU)
    shape = Tensor("output_shape", (4,), INT32, data=np.array([1, *out, out_c], np.int32))
    tflite = single("TRANSPOSE_CONV", schema.BuiltinOptions.TransposeConvOptions, options, [shape, w, x, b, y])
    name = f"transpose conv {kernel[0]}x{kernel[1]}/{stride} {padding.lower()} {size[0]}x{size[1]}x{in_c}->{out_c}"
    return Layer("TRANSPOSE_CONV", name, tflite)


def fully_connected(in_n: int, out_n: int, seed: int = 0) -> Layer:
    """FULLY_CONNECTED [1,in_n] -> [1,out_n] with ReLU."""
    x = _activation("input", (1, in_n))
    params = _weights_and_bias((out_n, in_n), 0, x.scale[0], seed)
    y = _activation("output", (1, out_n), _dot_output_scale(x.scale[0], params[0], in_n))
    options = schema.FullyConnectedOptionsT(fusedActivationFunction=schema.ActivationFunctionType.RELU,
                                            keepNumDims=False)
    tflite = single("FULLY_CONNECTED", schema.BuiltinOptions.FullyConnectedOptions, options, [x, *params, y])
    return Layer("FULLY_CONNECTED", f"fully connected {in_n}->{out_n}", tflite)


def pool(kind: str, size: tuple, channels: int, kernel: tuple = (2, 2), stride: int = 2,
         padding: str = "VALID") -> Layer:
    """MAX_POOL_2D or AVERAGE_POOL_2D; input and output share one quantization."""
    out_h, out_w = (output_size(n, k, stride, padding) for n, k in zip(size, kernel))
    x = _activation("input", (1, *size, channels))
    y = Tensor("output", (1, out_h, out_w, channels), INT8, x.scale, x.zero_point)
    options = schema.Pool2DOptionsT(padding=getattr(schema.Padding, padding), strideH=stride, strideW=stride,
                                    filterHeight=kernel[0], filterWidth=kernel[1],
                                    fusedActivationFunction=schema.ActivationFunctionType.NONE)
    words = "max pool" if kind == "MAX_POOL_2D" else "average pool"
    name = f"{words} {kernel[0]}x{kernel[1]}/{stride} {padding.lower()} {size[0]}x{size[1]}x{channels}"
    return Layer(kind, name, single(kind, schema.BuiltinOptions.Pool2DOptions, options, [x, y]))


def mean(size: tuple, channels: int) -> Layer:
    """MEAN over the spatial axes of [1,H,W,C] (global average pooling)."""
    x = _activation("input", (1, *size, channels))
    y = _activation("output", (1, channels), x.scale[0] / 4)
    axes = Tensor("axis", (2,), INT32, data=np.array([1, 2], np.int32))
    options = schema.ReducerOptionsT(keepDims=False)
    tflite = single("MEAN", schema.BuiltinOptions.ReducerOptions, options, [x, axes, y])
    return Layer("MEAN", f"mean {size[0]}x{size[1]}x{channels}", tflite)


def reduce_max(size: tuple, channels: int) -> Layer:
    """REDUCE_MAX over the spatial axes of [1,H,W,C] (global max pooling)."""
    x = _activation("input", (1, *size, channels))
    y = Tensor("output", (1, channels), INT8, x.scale, x.zero_point)
    axes = Tensor("axis", (2,), INT32, data=np.array([1, 2], np.int32))
    options = schema.ReducerOptionsT(keepDims=False)
    tflite = single("REDUCE_MAX", schema.BuiltinOptions.ReducerOptions, options, [x, axes, y])
    return Layer("REDUCE_MAX", f"reduce max {size[0]}x{size[1]}x{channels}", tflite)


def logistic(size: tuple, channels: int) -> Layer:
    """LOGISTIC of [1,H,W,C] (every op of one input runs as the same table lookup)."""
    x = _activation("input", (1, *size, channels), 0.05)
    y = Tensor("output", x.shape, INT8, (SOFTMAX_SCALE,), (-128,))
    tflite = single("LOGISTIC", schema.BuiltinOptions.NONE, None, [x, y])
    return Layer("LOGISTIC", f"logistic {size[0]}x{size[1]}x{channels}", tflite)


def mul(size: tuple, channels: int, broadcast: bool = False) -> Layer:
    """MUL of [1,H,W,C] by a tensor of its shape or, broadcast, by [1,1,1,C] (squeeze and excite)."""
    shape = (1, *size, channels)
    a = _activation("input_a", shape)
    b = _activation("input_b", (1, 1, 1, channels) if broadcast else shape, 2 * INPUT_SCALE)
    y = _activation("output", shape, 2 * INPUT_SCALE)
    options = schema.MulOptionsT(fusedActivationFunction=schema.ActivationFunctionType.NONE)
    tflite = single("MUL", schema.BuiltinOptions.MulOptions, options, [a, b, y])
    return Layer("MUL", f"mul {size[0]}x{size[1]}x{channels}" + (" by 1x1" if broadcast else ""), tflite)


def concatenation(shape: tuple, sizes: tuple) -> Layer:
    """CONCATENATION along the last axis of tensors of `shape` but for their last sizes."""
    xs = [_activation(f"input_{k}", (*shape[:-1], n)) for k, n in enumerate(sizes)]
    y = _activation("output", (*shape[:-1], sum(sizes)))
    options = schema.ConcatenationOptionsT(axis=-1)
    tflite = single("CONCATENATION", schema.BuiltinOptions.ConcatenationOptions, options, [*xs, y])
    dims = "x".join(map(str, shape[1:-1]))
    return Layer("CONCATENATION", f"concatenation {dims}x({'+'.join(map(str, sizes))})", tflite)


def add(size: tuple, channels: int, kind: str = "ADD", broadcast: bool = False) -> Layer:
    """ADD (or SUB) of [1,H,W,C] and a tensor of its shape or, broadcast, [1,1,1,C], of different scales."""
    shape = (1, *size, channels)
    a = _activation("input_a", shape)
    b = _activation("input_b", (1, 1, 1, channels) if broadcast else shape, 2 * INPUT_SCALE)
    y = _activation("output", shape, 3 * INPUT_SCALE)
    relu = schema.ActivationFunctionType.RELU
    options_type, options = ((schema.BuiltinOptions.AddOptions, schema.AddOptionsT(fusedActivationFunction=relu,
                                                                                   potScaleInt16=True))
                             if kind == "ADD" else
                             (schema.BuiltinOptions.SubOptions, schema.SubOptionsT(fusedActivationFunction=relu,
                                                                                   potScaleInt16=True)))
    tflite = single(kind, options_type, options, [a, b, y])
    return Layer(kind, f"{kind.lower()} {size[0]}x{size[1]}x{channels}" + (" by 1x1" if broadcast else ""), tflite)


def maximum_minimum(kind: str, size: tuple, channels: int, broadcast: bool = False) -> Layer:
    """MAXIMUM or MINIMUM of [1,H,W,C] and a tensor of its shape or, broadcast, [1,1,1,C]."""
    shape = (1, *size, channels)
    a = _activation("input_a", shape)
    b = _activation("input_b", (1, 1, 1, channels) if broadcast else shape)
    y = _activation("output", shape)
    tflite = single(kind, schema.BuiltinOptions.MaximumMinimumOptions, schema.MaximumMinimumOptionsT(), [a, b, y])
    return Layer(kind, f"{kind.lower()} {size[0]}x{size[1]}x{channels}" + (" by 1x1" if broadcast else ""), tflite)


def pad(size: tuple, channels: int, before: int = 1, after: int = 1) -> Layer:
    """PAD of [1,H,W,C] by `before` and `after` rows and columns (ZeroPadding2D)."""
    x = _activation("input", (1, *size, channels))
    y = _activation("output", (1, *(n + before + after for n in size), channels))
    paddings = Tensor("paddings", (4, 2), INT32, data=np.array([[0, 0], [before, after], [before, after], [0, 0]],
                                                              np.int32))
    tflite = single("PAD", schema.BuiltinOptions.PadOptions, schema.PadOptionsT(), [x, paddings, y])
    return Layer("PAD", f"pad {size[0]}x{size[1]}x{channels} by {before}+{after}", tflite)


def crop(size: tuple, channels: int, before: int = 1, after: int = 1) -> Layer:
    """STRIDED_SLICE of [1,H,W,C] less `before` and `after` rows and columns (Cropping2D)."""
    x = _activation("input", (1, *size, channels))
    y = _activation("output", (1, *(n - before - after for n in size), channels))
    bounds = [Tensor(name, (4,), INT32, data=np.array(values, np.int32)) for name, values in
              (("begin", [0, before, before, 0]), ("end", [1, size[0] - after, size[1] - after, channels]),
               ("strides", [1, 1, 1, 1]))]
    tflite = single("STRIDED_SLICE", schema.BuiltinOptions.StridedSliceOptions, schema.StridedSliceOptionsT(),
                    [x, *bounds, y])
    return Layer("STRIDED_SLICE", f"crop {size[0]}x{size[1]}x{channels} by {before}+{after}", tflite)


def upsample(size: tuple, channels: int, factor: int = 2) -> Layer:
    """RESIZE_NEAREST_NEIGHBOR of [1,H,W,C] by an integer factor (UpSampling2D)."""
    x = _activation("input", (1, *size, channels))
    y = _activation("output", (1, *(n * factor for n in size), channels))
    shape = Tensor("size", (2,), INT32, data=np.array([n * factor for n in size], np.int32))
    tflite = single("RESIZE_NEAREST_NEIGHBOR", schema.BuiltinOptions.ResizeNearestNeighborOptions,
                    schema.ResizeNearestNeighborOptionsT(), [x, shape, y])
    return Layer("RESIZE_NEAREST_NEIGHBOR", f"upsample {size[0]}x{size[1]}x{channels} by {factor}", tflite)


def softmax(depth: int, rows: int = 1) -> Layer:
    """SOFTMAX of [rows, depth]; output scale 1/256, zero point -128."""
    shape = (1, rows, depth) if rows > 1 else (1, depth)
    x = _activation("input", shape, 0.1)
    y = Tensor("output", shape, INT8, (SOFTMAX_SCALE,), (-128,))
    tflite = single("SOFTMAX", schema.BuiltinOptions.SoftmaxOptions, schema.SoftmaxOptionsT(beta=1.0), [x, y])
    return Layer("SOFTMAX", f"softmax {rows}x{depth}", tflite)
