"""TRANSPOSE_CONV (Conv2DTranspose, Conv1DTranspose) -> eenn_transpose_conv. TFLM scatters each
input position into an int32 buffer of the whole output; the kernel gathers instead: each
output value sums the input positions whose windows cover it (int32 sums do not depend on
their order), so it needs no buffer (kernels/portable/transpose_conv.c)."""

import numpy as np

from . import _quantmath as qm
from ._base import ConstArray, KernelCall, OpKind
from ._layout import requant_records
from .conv2d import ConvParams


def _padding(padding: str, out_size: int, kernel: int, stride: int) -> int:
    """TFLM's padding of a transposed convolution: a convolution's from its output size."""
    return qm.same_or_valid(padding, out_size, kernel, stride)[1]


def covering_taps(n_out: int, n_in: int, kernel: int, stride: int, pad: int) -> np.ndarray:
    """For each output index along an axis, the taps k with (index + pad - k) a multiple of the
    stride whose input index (index + pad - k) / stride is inside [0, n_in)."""
    at = np.arange(n_out)[:, None] + pad - np.arange(kernel)[None, :]
    return ((at >= 0) & (at % stride == 0) & (at // stride < n_in)).sum(axis=1)


class TransposeConv(OpKind):
    kind = "TRANSPOSE_CONV"
    function = "eenn_transpose_conv"
    source = "transpose_conv"
    # every tap row checked per output; the columns of the rows that cover it; the taps that do
    features = ("calls", "positions", "checked_rows", "checked_columns", "taps", "macs", "outputs")

    def lower(self, o):
        x, in_scale, in_zp = o.activation(2)
        y, out_scale, out_zp = o.activation(0, output=True)
        if len(x.shape) != 4 or len(y.shape) != 4:
            o.refuse("input and output must be 4-D (NHWC)")
        shape = o.tensor(0)
        if not shape.is_constant or [int(v) for v in shape.data.reshape(-1)] != list(y.shape):
            o.refuse(f"the output shape must be a constant equal to the output's {list(y.shape)}")
        w, w_scales = o.weights(1, 0)
        _, in_h, in_w, in_c = x.shape
        _, out_h, out_w, out_c = y.shape
        w_out, k_h, k_w, w_in = w.shape
        if w_out != out_c or w_in != in_c:
            o.refuse(f"weights {list(w.shape)} do not map {in_c} input channels to {out_c} outputs")
        padding = o.option("padding")
        if padding not in ("SAME", "VALID"):
            o.refuse(f"padding {padding} is not supported")
        stride = (o.option("strideH", 1), o.option("strideW", 1))
        if min(stride) < 1:
            o.refuse(f"stride {stride} must be at least 1")
        pad_h, pad_w = _padding(padding, out_h, k_h, stride[0]), _padding(padding, out_w, k_w, stride[1])
        act_min, act_max = o.activation_range(out_scale, out_zp)
        weights = ConstArray("weights", "int8_t", tuple(int(v) for v in w.reshape(-1)))
        p = ConvParams(in_h, in_w, in_c, out_h, out_w, out_c, in_h, out_h, k_h, k_w, *stride, 1, 1, pad_h, pad_w, 1,
                       -in_zp, out_zp, act_min, act_max, weights, o.bias(3, out_c),
                       requant_records(*qm.conv_multipliers(in_scale, w_scales, out_scale)))
        return KernelCall(o.op, self.function, "eenn_conv_params", p, (o.op.inputs[2],), o.op.outputs[0])

    def macs(self, op, graph):
        """Every input position times every weight (TFLM's scatter)."""
        return int(np.prod(graph.tensors[op.inputs[2]].shape)) * int(np.prod(graph.tensors[op.inputs[1]].shape[:3]))

    def count(self, call):
        p = call.params
        rows = covering_taps(p.out_h, p.in_h, p.k_h, p.stride_h, p.pad_h)
        columns = covering_taps(p.out_w, p.in_w, p.k_w, p.stride_w, p.pad_w)
        taps = int(rows.sum()) * int(columns.sum()) * p.out_c
        positions = p.out_h * p.out_w
        return {"calls": 1, "positions": positions, "checked_rows": positions * p.out_c * p.k_h,
                "checked_columns": int(rows.sum()) * p.out_w * p.out_c * p.k_w, "taps": taps, "macs": taps * p.in_c,
                "outputs": positions * p.out_c}


OPS = (TransposeConv(),)
