"""CONV_2D -> eenn_conv2d: im2col columns of the window, a dot product per output channel
(kernels/portable/conv2d.c, kernels/dsp/conv2d_dsp.c, kernels/mve/conv2d_mve.c); the bias is
folded (eenn_kernels.h)."""

from dataclasses import dataclass

import numpy as np

from . import _quantmath as qm
from ._base import ConstArray, KernelCall, OpKind, OpView, Params
from ._layout import column_bytes, depthwise_layer, row_layer
from ._windows import Trace, Window, input_rows, inside_each, window_starts


@dataclass(frozen=True)
class ConvParams(Params):
    """eenn_conv_params, shared by the convolution and the depthwise convolution."""

    in_h: int
    in_w: int
    in_c: int
    out_h: int
    out_w: int
    out_c: int
    in_rows: int  # rows the input buffer holds (a ring buffer's, when fused)
    out_rows: int
    k_h: int
    k_w: int
    stride_h: int
    stride_w: int
    dilation_h: int
    dilation_w: int
    pad_h: int
    pad_w: int
    depth_multiplier: int
    input_offset: int
    output_offset: int
    act_min: int
    act_max: int
    weights: ConstArray
    bias: ConstArray
    requant: ConstArray

    @property
    def window(self) -> Window:
        return Window(self.in_h, self.in_w, self.out_h, self.out_w, self.k_h, self.k_w, self.stride_h, self.stride_w,
                      self.pad_h, self.pad_w, self.dilation_h, self.dilation_w)


def conv_params(o: OpView, depthwise: bool) -> ConvParams:
    """The checked parameters of a convolution (depthwise: weights [1][k_h][k_w][out_c])."""
    x, in_scale, in_zp = o.activation(0)
    y, out_scale, out_zp = o.activation(0, output=True)
    if len(x.shape) != 4 or len(y.shape) != 4:
        o.refuse("input and output must be 4-D (NHWC)")
    w, w_scales = o.weights(1, 3 if depthwise else 0)
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
    requant = qm.conv_multipliers(in_scale, w_scales, out_scale)
    if depthwise:
        weights, bias, requant = depthwise_layer(w, o.bias(2, out_c), -in_zp, *requant, multiplier)
    else:
        weights, bias, requant = row_layer(w.reshape(out_c, -1), o.bias(2, out_c), -in_zp, *requant)
    return ConvParams(in_h, in_w, in_c, out_h, out_w, out_c, in_h, out_h, k_h, k_w, *stride, *dilation, pad_h, pad_w,
                      multiplier, -in_zp, out_zp, act_min, act_max, weights, bias, requant)


class WindowedOp(OpKind):
    """An op whose output rows read a window of input rows (convolutions, pooling)."""

    row_params = (("in_rows",), "out_rows")

    def input_rows(self, call, first):
        return input_rows(call.params.window, call.rows, first)


class Conv2D(WindowedOp):
    kind = "CONV_2D"
    function = "eenn_conv2d"
    source = "conv2d"
    # im2col columns (padded to n4 values; rows cut by the border copied tap by tap), a dot product
    # per output over all of them; on Helium blocks of four rows, sixteen values at a time; on
    # Armv6-M blocks of four rows over the whole column
    features = ("calls", "positions", "column_rows", "column_values", "split_taps", "macs", "padded_macs", "outputs",
                "row_blocks", "block_chunks", "block_values")

    def lower(self, o):
        p = conv_params(o, depthwise=False)
        scratch = 5 * column_bytes(p.k_h * p.k_w * p.in_c)  # two im2col columns and their widened values
        return KernelCall(o.op, self.function, "eenn_conv_params", p, (o.op.inputs[0],), o.op.outputs[0], scratch,
                          rows=p.out_h)

    def macs(self, op, graph):
        _, k_h, k_w, in_c = graph.tensors[op.inputs[1]].shape
        return int(np.prod(graph.tensors[op.outputs[0]].shape)) * k_h * k_w * in_c

    def count(self, call):
        p = call.params
        positions, n = p.out_h * p.out_w, p.k_h * p.k_w * p.in_c
        padded = column_bytes(n)
        blocks = positions * -(-p.out_c // 4)
        rows = inside_each(p.out_h, p.in_h, p.k_h, p.stride_h, p.pad_h, p.dilation_h)
        columns = inside_each(p.out_w, p.in_w, p.k_w, p.stride_w, p.pad_w, p.dilation_w)
        split = int(np.count_nonzero((columns < p.k_w) | (p.dilation_w != 1)))  # positions per row cut by the border
        return {"calls": 1, "positions": positions, "column_rows": positions * p.k_h,
                "column_values": positions * padded, "split_taps": int(rows.sum()) * split * p.k_w,
                "macs": positions * n * p.out_c,
                "padded_macs": positions * padded * p.out_c, "outputs": positions * p.out_c,
                "row_blocks": blocks, "block_chunks": blocks * -(-n // 16), "block_values": blocks * padded}

    def trace(self, call, first_row, end_row):
        """A convolution reads the window of an output position before writing its channels."""
        p = call.params
        starts = window_starts(p.window, p.in_c, first_row, end_row)
        positions = np.arange(first_row * p.out_w, end_row * p.out_w) + 1
        return Trace({call.inputs[0]: starts}, {call.output: positions * p.out_c})

    def rows_per_step(self, call):
        return 2 if call.params.out_w % 2 else 1  # the DSP kernel computes two positions at once


OPS = (Conv2D(),)
