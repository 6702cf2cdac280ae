"""Lowering: each IR op becomes one call of a C kernel, with every constant computed here.

`lower(graph, stage)` checks every op against what the kernels handle (op, dtypes,
quantization, options) and refuses the first one they do not, naming the op, its index
and its tensors, before any file is written. The result is data for the templates: the
kernel function, its parameter struct's fields, and the constant arrays (weights, biases,
multipliers, shifts) it points to.
"""

from dataclasses import dataclass

import numpy as np

from ..errors import EennError
from . import quantmath as qm
from .ir import Graph, Op


@dataclass(frozen=True)
class ConstArray:
    name: str  # unique within the op, e.g. "weights"
    ctype: str  # int8_t or int32_t
    values: tuple


@dataclass(frozen=True)
class KernelCall:
    op: Op
    function: "str | None"  # None: the op only renames bytes (RESHAPE)
    params_type: "str | None"
    params: dict  # struct field -> int, C enum name, or ConstArray
    inputs: tuple  # activation tensor indices, in the kernel's argument order
    output: int
    scratch_bytes: "int | None" = None  # arena bytes the kernel may use while it runs; None: no scratch argument
    rows: "int | None" = None  # rows the kernel computes in [first_row, end_row) calls; None: one call, no rows


class Refusal(EennError):
    pass


def _refuse(graph: Graph, op: Op, stage: int, problem: str):
    names = lambda ts: ", ".join(f"'{graph.tensors[t].name}'" for t in ts if t >= 0)  # noqa: E731
    raise Refusal(f"stage {stage}, op {op.index} ({op.kind}): {problem} "
                  f"[inputs {names(op.inputs)}; outputs {names(op.outputs)}]")


class _Op:
    """One op under lowering: typed access to its tensors, with refusals that name it."""

    def __init__(self, graph: Graph, op: Op, stage: int):
        self.graph, self.op, self.stage = graph, op, stage

    def refuse(self, problem: str):
        _refuse(self.graph, self.op, self.stage, problem)

    def tensor(self, position: int, output=False):
        indices = self.op.outputs if output else self.op.inputs
        if position >= len(indices) or indices[position] < 0:
            self.refuse(f"{'output' if output else 'input'} {position} is missing")
        return self.graph.tensors[indices[position]]

    def activation(self, position: int, output=False):
        """An int8, per-tensor quantized, batch-1 activation; returns (tensor, scale, zero point)."""
        t = self.tensor(position, output)
        role = f"{'output' if output else 'input'} '{t.name}'"
        if t.is_constant:
            self.refuse(f"{role} is a constant; the kernels take activations only")
        if t.dtype != np.int8:
            self.refuse(f"{role} has type {t.dtype}; the kernels handle int8 only")
        q = t.quantization
        if q is None or len(q.scale) != 1:
            self.refuse(f"{role} must have one (per-tensor) quantization scale")
        if not q.scale[0] > 0:
            self.refuse(f"{role} has scale {q.scale[0]}; it must be positive")
        if not t.shape or t.shape[0] != 1:
            self.refuse(f"{role} has shape {list(t.shape)}; the kernels handle batch 1 only")
        return t, q.scale[0], q.zero_point[0]

    def option(self, key, default=None):
        return self.op.options.get(key, default)

    def activation_range(self, output_scale, output_zero_point):
        name = self.option("fusedActivationFunction", "NONE")
        bounds = qm.activation_range(name, output_scale, output_zero_point)
        if bounds is None:
            self.refuse(f"fused activation {name} is not supported (NONE, RELU, RELU6, RELU_N1_TO_1 are)")
        return bounds

    def spatial(self, in_shape, out_shape, kernel, stride, dilation=(1, 1)):
        """Padding of a windowed op; refuses an output shape TFLite would not produce."""
        padding = self.option("padding")
        if padding not in ("SAME", "VALID"):
            self.refuse(f"padding {padding} is not supported")
        if min(stride) < 1 or min(dilation) < 1:
            self.refuse(f"stride {stride} and dilation {dilation} must be at least 1")
        (oh, ph), (ow, pw) = (qm.same_or_valid(padding, in_shape[i], kernel[i], stride[i], dilation[i]) for i in (0, 1))
        if (oh, ow) != tuple(out_shape):
            self.refuse(f"output size {list(out_shape)} does not match {padding} padding ({oh}x{ow} expected)")
        return ph, pw

    def weights(self, position: int, axis: int):
        """Constant int8 weights, symmetric, per-tensor or per-channel along `axis`: (data, scales)."""
        t = self.tensor(position)
        if not t.is_constant or t.dtype != np.int8:
            self.refuse(f"weights '{t.name}' must be a constant int8 tensor")
        q = t.quantization
        if q is None or any(z != 0 for z in q.zero_point):
            self.refuse(f"weights '{t.name}' must be symmetrically quantized (zero point 0)")
        channels = t.shape[axis]
        if len(q.scale) not in (1, channels) or (len(q.scale) > 1 and q.axis != axis):
            self.refuse(f"weights '{t.name}' must be quantized per tensor or per channel along axis {axis}")
        return t.data, list(q.scale) * channels if len(q.scale) == 1 else list(q.scale)

    def bias(self, position: int, channels: int):
        """The int32 bias, zeros if the op has none (the kernels always add one)."""
        if position >= len(self.op.inputs) or self.op.inputs[position] < 0:
            return ConstArray("bias", "int32_t", (0,) * channels)
        t = self.tensor(position)
        if not t.is_constant or t.dtype != np.int32 or t.data.size != channels:
            self.refuse(f"bias '{t.name}' must be a constant int32 tensor of {channels} values")
        return ConstArray("bias", "int32_t", tuple(int(v) for v in t.data.reshape(-1)))


def paired_rows(weights: np.ndarray) -> tuple:
    """Weights [rows][n] in the order the kernels read them (eenn_kernels.h): rows in pairs,
    each row padded with zeros to a multiple of 4, and a pair's two rows interleaved four
    values at a time; a last row without a pair follows on its own."""
    rows, n = weights.shape
    padded = np.zeros((rows, column_bytes(n)), np.int8)
    padded[:, :n] = weights
    groups = padded.shape[1] // 4
    blocks = padded.reshape(rows, groups, 4)
    pairs = blocks[:rows // 2 * 2].reshape(rows // 2, 2, groups, 4).transpose(0, 2, 1, 3).reshape(-1)
    return tuple(int(v) for v in np.concatenate([pairs, blocks[rows // 2 * 2:].reshape(-1)]))


def channel_groups(weights: np.ndarray) -> tuple:
    """Depthwise weights [k_h][k_w][channels], widened to 16 bits in the order the kernels
    read them (eenn_kernels.h): channels in groups of four, each group's taps in a row, a
    tap's four weights in lane order (channels 0, 2, 1, 3); then the last channels (fewer
    than four), tap by tap."""
    taps = weights.reshape(-1, weights.shape[-1])
    whole = taps.shape[1] // 4 * 4
    groups = taps[:, :whole].reshape(len(taps), -1, 4)[:, :, [0, 2, 1, 3]].transpose(1, 0, 2)
    return tuple(int(v) for v in np.concatenate([groups.reshape(-1), taps[:, whole:].reshape(-1)]))


def column_bytes(n: int) -> int:
    """n values padded to a multiple of 4 (the length of a paired row)."""
    return -(-n // 4) * 4


def requant_records(multipliers, shifts) -> ConstArray:
    """Per output channel six words: multiplier, shift, and for a right shift r (shift < 0)
    the rounding constants 2^30 + 2^(30 + r) and that less 2^31, each as low and high word,
    that eenn_output adds for an accumulator >= 0 and < 0 (eenn_fixedpoint.h); zeros otherwise."""
    values = []
    for m, s in zip(multipliers, shifts):
        values += [int(m), int(s)]
        for rounding in ((1 << 30) + (1 << (30 - s)), (1 << 30) + (1 << (30 - s)) - (1 << 31)) if s < 0 else (0, 0):
            low = rounding & 0xFFFFFFFF
            values += [low - (1 << 32) if low >= 1 << 31 else low, rounding >> 32]
    return ConstArray("requant", "int32_t", tuple(values))


def _conv(o: _Op, depthwise: bool) -> KernelCall:
    x, in_scale, in_zp = o.activation(0)
    y, out_scale, out_zp = o.activation(0, output=True)
    if len(x.shape) != 4 or len(y.shape) != 4:
        o.refuse("input and output must be 4-D (NHWC)")
    axis = 3 if depthwise else 0
    w, w_scales = o.weights(1, axis)
    _, in_h, in_w, in_c = x.shape
    _, out_h, out_w, out_c = y.shape
    if depthwise:
        _, k_h, k_w, w_out = w.shape
        multiplier = out_c // in_c
        if w_out != out_c or multiplier * in_c != out_c:
            o.refuse(f"weights {list(w.shape)} do not map {in_c} input channels to {out_c} outputs")
    else:
        w_out, k_h, k_w, w_in = w.shape
        multiplier = 1
        if w_out != out_c or w_in != in_c:
            o.refuse(f"weights {list(w.shape)} do not map {in_c} input channels to {out_c} outputs"
                     " (grouped convolutions are not supported)")
    stride = (o.option("strideH", 1), o.option("strideW", 1))
    dilation = (o.option("dilationHFactor", 1), o.option("dilationWFactor", 1))
    pad_h, pad_w = o.spatial((in_h, in_w), (out_h, out_w), (k_h, k_w), stride, dilation)
    act_min, act_max = o.activation_range(out_scale, out_zp)
    params = dict(in_h=in_h, in_w=in_w, in_c=in_c, out_h=out_h, out_w=out_w, out_c=out_c, in_rows=in_h, out_rows=out_h,
                  k_h=k_h, k_w=k_w,
                  stride_h=stride[0], stride_w=stride[1], dilation_h=dilation[0], dilation_w=dilation[1],
                  pad_h=pad_h, pad_w=pad_w, depth_multiplier=multiplier, input_offset=-in_zp, output_offset=out_zp,
                  act_min=act_min, act_max=act_max,
                  weights=ConstArray("weights", "int16_t", channel_groups(w)) if depthwise
                  else ConstArray("weights", "int8_t", paired_rows(w.reshape(out_c, -1))),
                  bias=o.bias(2, out_c),
                  requant=requant_records(*qm.conv_multipliers(in_scale, w_scales, out_scale)))
    if depthwise:
        return KernelCall(o.op, "eenn_depthwise_conv2d", "eenn_conv_params", params, (o.op.inputs[0],), o.op.outputs[0],
                          rows=out_h)
    scratch = 5 * column_bytes(k_h * k_w * in_c)  # two im2col columns and their widened values (eenn_kernels.h)
    return KernelCall(o.op, "eenn_conv2d", "eenn_conv_params", params, (o.op.inputs[0],), o.op.outputs[0], scratch,
                      rows=out_h)


def _fully_connected(o: _Op) -> KernelCall:
    x, in_scale, in_zp = o.activation(0)
    y, out_scale, out_zp = o.activation(0, output=True)
    w, w_scales = o.weights(1, 0)
    if w.ndim != 2:
        o.refuse(f"weights must be 2-D, not {list(w.shape)}")
    out_n, in_n = w.shape
    if int(np.prod(x.shape)) != in_n or int(np.prod(y.shape)) != out_n:
        o.refuse(f"input {list(x.shape)} and output {list(y.shape)} do not match weights {list(w.shape)} at batch 1")
    per_tensor = len(o.tensor(1).quantization.scale) == 1
    act_min, act_max = o.activation_range(out_scale, out_zp)
    params = dict(in_n=in_n, out_n=out_n, input_offset=-in_zp, output_offset=out_zp, act_min=act_min,
                  act_max=act_max, weights=ConstArray("weights", "int8_t", paired_rows(w)),
                  bias=o.bias(2, out_n),
                  requant=requant_records(*qm.conv_multipliers(in_scale, w_scales, out_scale,
                                                            per_tensor_product=per_tensor)))
    return KernelCall(o.op, "eenn_fully_connected", "eenn_fully_connected_params", params, (o.op.inputs[0],),
                      o.op.outputs[0], 2 * column_bytes(in_n))  # the input, widened


def _pool(o: _Op) -> KernelCall:
    x, in_scale, in_zp = o.activation(0)
    y, out_scale, out_zp = o.activation(0, output=True)
    if len(x.shape) != 4 or len(y.shape) != 4 or x.shape[3] != y.shape[3]:
        o.refuse("input and output must be 4-D (NHWC) with the same channels")
    if (in_scale, in_zp) != (out_scale, out_zp):
        o.refuse("input and output must share one quantization")
    kernel = (o.option("filterHeight", 1), o.option("filterWidth", 1))
    stride = (o.option("strideH", 1), o.option("strideW", 1))
    pad_h, pad_w = o.spatial(x.shape[1:3], y.shape[1:3], kernel, stride)
    act_min, act_max = o.activation_range(out_scale, out_zp)
    params = dict(in_h=x.shape[1], in_w=x.shape[2], channels=x.shape[3], out_h=y.shape[1], out_w=y.shape[2],
                  in_rows=x.shape[1], out_rows=y.shape[1], k_h=kernel[0], k_w=kernel[1], stride_h=stride[0],
                  stride_w=stride[1], pad_h=pad_h, pad_w=pad_w, act_min=act_min, act_max=act_max)
    function = "eenn_max_pool2d" if o.op.kind == "MAX_POOL_2D" else "eenn_average_pool2d"
    return KernelCall(o.op, function, "eenn_pool_params", params, (o.op.inputs[0],), o.op.outputs[0],
                      rows=y.shape[1])


def _mean(o: _Op) -> KernelCall:
    x, in_scale, in_zp = o.activation(0)
    y, out_scale, out_zp = o.activation(0, output=True)
    axes = o.tensor(1)
    rank = len(x.shape)
    spatial = list(range(1, rank - 1))
    if rank < 3 or not axes.is_constant or sorted(int(a) % rank for a in axes.data.reshape(-1)) != spatial:
        o.refuse("only the mean over all axes but batch and channels is supported")
    c = x.shape[-1]
    if int(np.prod(y.shape)) != c:
        o.refuse(f"output {list(y.shape)} must hold {c} channels")
    count = int(np.prod(x.shape[1:-1]))
    multiplier, shift = qm.mean_sum_rescale(in_scale, out_scale, count)
    params = dict(count=count, channels=c, rows=x.shape[1], in_rows=x.shape[1], input_zero_point=in_zp,
                  output_zero_point=out_zp, multiplier=multiplier, shift=shift)
    return KernelCall(o.op, "eenn_mean", "eenn_mean_params", params, (o.op.inputs[0],), o.op.outputs[0],
                      4 * c, rows=x.shape[1])  # scratch: the sums


def _add(o: _Op) -> KernelCall:
    a, scale1, zp1 = o.activation(0)
    b, scale2, zp2 = o.activation(1)
    y, out_scale, out_zp = o.activation(0, output=True)
    if not a.shape == b.shape == y.shape:
        o.refuse(f"inputs {list(a.shape)} and {list(b.shape)} must have the output's shape (no broadcasting)")
    act_min, act_max = o.activation_range(out_scale, out_zp)
    rows = y.shape[1] if len(y.shape) == 4 else 1
    params = dict(row_size=int(np.prod(y.shape)) // rows, input1_rows=rows, input2_rows=rows, output_rows=rows,
                  input1_offset=-zp1, input2_offset=-zp2, output_offset=out_zp,
                  act_min=act_min, act_max=act_max, **qm.add_params(scale1, scale2, out_scale))
    return KernelCall(o.op, "eenn_add", "eenn_add_params", params, o.op.inputs[:2], o.op.outputs[0], rows=rows)


def _softmax(o: _Op) -> KernelCall:
    x, in_scale, _ = o.activation(0)
    y, out_scale, out_zp = o.activation(0, output=True)
    if x.shape != y.shape:
        o.refuse("input and output shapes differ")
    if (out_scale, out_zp) != (float(np.float32(1 / 256)), -128):
        o.refuse(f"output quantization must be scale 1/256, zero point -128 (not {out_scale}, {out_zp})")
    params = qm.softmax_params(float(o.option("beta", 1.0)), in_scale)
    if params is None:
        o.refuse(f"input scale {in_scale} with beta {o.option('beta', 1.0)} is outside the int8 kernel's range")
    depth = x.shape[-1]
    params = dict(rows=int(np.prod(x.shape)) // depth, depth=depth, **params)
    return KernelCall(o.op, "eenn_softmax", "eenn_softmax_params", params, (o.op.inputs[0],), o.op.outputs[0])


def _reshape(o: _Op) -> KernelCall:
    x, in_scale, in_zp = o.activation(0)
    y, out_scale, out_zp = o.activation(0, output=True)
    if (in_scale, in_zp) != (out_scale, out_zp) or x.nbytes != y.nbytes:
        o.refuse("input and output must share size and quantization")
    return KernelCall(o.op, None, None, {}, (o.op.inputs[0],), o.op.outputs[0])


LOWERINGS = {
    "CONV_2D": lambda o: _conv(o, depthwise=False),
    "DEPTHWISE_CONV_2D": lambda o: _conv(o, depthwise=True),
    "FULLY_CONNECTED": _fully_connected,
    "MAX_POOL_2D": _pool,
    "AVERAGE_POOL_2D": _pool,
    "MEAN": _mean,
    "ADD": _add,
    "SOFTMAX": _softmax,
    "RESHAPE": _reshape,
}


def lower(graph: Graph, stage: int) -> list:
    """The kernel calls of one stage, in order; raises Refusal on the first op the kernels do not handle."""
    calls = []
    for op in graph.ops:
        if op.kind not in LOWERINGS:
            _refuse(graph, op, stage, f"no kernel for this op (supported: {', '.join(sorted(LOWERINGS))})")
        calls.append(LOWERINGS[op.kind](_Op(graph, op, stage)))
    return calls
