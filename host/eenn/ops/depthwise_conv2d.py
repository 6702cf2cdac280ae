"""DEPTHWISE_CONV_2D -> eenn_depthwise_conv2d: each output channel's window over its input
channel, channels in groups of four (kernels/portable/depthwise_conv2d.c,
kernels/dsp/depthwise_conv2d_dsp.c) or sixteen (kernels/mve/depthwise_conv2d_mve.c)."""

import numpy as np

from ._base import KernelCall
from ._layout import column_bytes
from ._windows import channel_trace, inside, inside_each
from .conv2d import WindowedOp, conv_params


class DepthwiseConv2D(WindowedOp):
    kind = "DEPTHWISE_CONV_2D"
    function = "eenn_depthwise_conv2d"
    source = "depthwise_conv2d"
    # window clipped per position; channels in groups of four, the rest one by one; on Helium each
    # window tap's address, then channels sixteen, then four at a time over every tap
    features = ("calls", "positions", "group_rows", "group_taps", "group_rows_of_three", "single_rows", "single_taps",
                "multiplied_taps", "taps", "outputs", "window_taps", "sixteen_blocks", "sixteen_taps", "four_blocks",
                "four_taps")

    def lower(self, o):
        p = conv_params(o, depthwise=True)
        # the Helium kernel's tap and row addresses, and its row of the input zero point
        scratch = 4 * (p.k_h * p.k_w + p.k_h) + column_bytes(p.in_c)
        return KernelCall(o.op, self.function, "eenn_conv_params", p, (o.op.inputs[0],), o.op.outputs[0], scratch,
                          rows=p.out_h)

    def macs(self, op, graph):
        _, k_h, k_w, _ = graph.tensors[op.inputs[1]].shape
        return int(np.prod(graph.tensors[op.outputs[0]].shape)) * k_h * k_w

    def count(self, call):
        p = call.params
        rows = inside(p.out_h, p.in_h, p.k_h, p.stride_h, p.pad_h, p.dilation_h)
        columns = inside_each(p.out_w, p.in_w, p.k_w, p.stride_w, p.pad_w, p.dilation_w)
        positions = p.out_h * p.out_w
        groups = p.out_c // 4 if p.depth_multiplier == 1 else 0
        three = int(np.count_nonzero(columns == 3))  # positions whose rows take the unrolled three-tap path
        window = p.k_h * p.k_w
        sixteens = p.out_c // 16 if p.depth_multiplier == 1 else 0
        fours = -(-(p.out_c - 16 * sixteens) // 4) if p.depth_multiplier == 1 else 0
        return {"calls": 1, "positions": positions, "group_rows": rows * p.out_w * groups,
                "group_taps": rows * int(columns[columns != 3].sum()) * groups,
                "group_rows_of_three": rows * three * groups,
                "single_rows": rows * p.out_w * (p.out_c - 4 * groups),
                "single_taps": rows * int(columns.sum()) * (p.out_c - 4 * groups),
                "multiplied_taps": rows * int(columns.sum()) * p.out_c * (p.depth_multiplier != 1),
                "taps": positions * window * p.out_c, "outputs": positions * p.out_c,
                "window_taps": positions * window, "sixteen_blocks": positions * sixteens,
                "sixteen_taps": positions * sixteens * window, "four_blocks": positions * fours,
                "four_taps": positions * fours * window}

    def trace(self, call, first_row, end_row):
        """One channel of a window read (the DSP path four) before that channel is written."""
        return channel_trace(call, call.params.in_c, call.params.out_c, first_row, end_row)


OPS = (DepthwiseConv2D(),)
