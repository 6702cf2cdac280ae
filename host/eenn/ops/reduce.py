"""Reductions over all axes but batch and channels (global pooling), row by row, the output
written with the last row (kernels/portable/reduce.c): MEAN -> eenn_mean (channel sums,
requantized) and REDUCE_MAX -> eenn_reduce_max (channel maxima, one quantization in and
out, as TFLM requires)."""

from dataclasses import dataclass

import numpy as np

from . import _quantmath as qm
from ._base import KernelCall, OpKind, Params
from ._windows import NONE, Trace


@dataclass(frozen=True)
class MeanParams(Params):
    count: int  # positions averaged
    channels: int
    rows: int
    in_rows: int
    input_zero_point: int
    output_zero_point: int
    multiplier: int
    shift: int


@dataclass(frozen=True)
class ReduceMaxParams(Params):
    count: int  # positions reduced
    channels: int
    rows: int
    in_rows: int


class Reduction(OpKind):
    source = "reduce"
    features = ("calls", "rows", "positions", "reads", "outputs")
    row_params = (("in_rows",), None)
    ends_segment = True

    def geometry(self, o) -> tuple:
        """(input, its (scale, zero point), the output's, positions reduced, channels); refuses
        other axes than the spatial ones."""
        x, *input_quantization = o.activation(0)
        y, *output_quantization = o.activation(0, output=True)
        axes = o.tensor(1)
        rank = len(x.shape)
        spatial = list(range(1, rank - 1))
        if rank < 3 or not axes.is_constant or sorted(int(a) % rank for a in axes.data.reshape(-1)) != spatial:
            o.refuse("only the reduction over all axes but batch and channels is supported")
        c = x.shape[-1]
        if int(np.prod(y.shape)) != c:
            o.refuse(f"output {list(y.shape)} must hold {c} channels")
        return x, tuple(input_quantization), tuple(output_quantization), int(np.prod(x.shape[1:-1])), c

    def count(self, call):
        p = call.params
        return {"calls": 1, "rows": p.rows, "positions": p.count, "reads": p.count * p.channels,
                "outputs": p.channels}

    def trace(self, call, first_row, end_row):
        """Rows read in order; the output written with the last one."""
        p = call.params
        rows = np.arange(first_row, end_row)
        last = np.where(rows == p.rows - 1, p.channels, NONE)
        return Trace({call.inputs[0]: rows * (p.count // p.rows * p.channels)}, {call.output: last})


class Mean(Reduction):
    kind = "MEAN"
    function = "eenn_mean"

    def lower(self, o):
        x, (in_scale, in_zp), (out_scale, out_zp), count, c = self.geometry(o)
        multiplier, shift = qm.mean_sum_rescale(in_scale, out_scale, count)
        p = MeanParams(count, c, x.shape[1], x.shape[1], in_zp, out_zp, multiplier, shift)
        return KernelCall(o.op, self.function, "eenn_mean_params", p, (o.op.inputs[0],), o.op.outputs[0],
                          4 * c, rows=x.shape[1])  # scratch: the sums


class ReduceMax(Reduction):
    kind = "REDUCE_MAX"
    function = "eenn_reduce_max"

    def lower(self, o):
        x, input_quantization, output_quantization, count, c = self.geometry(o)
        if input_quantization != output_quantization:
            o.refuse("input and output must share one quantization")
        p = ReduceMaxParams(count, c, x.shape[1], x.shape[1])
        return KernelCall(o.op, self.function, "eenn_reduce_max_params", p, (o.op.inputs[0],), o.op.outputs[0],
                          c, rows=x.shape[1])  # scratch: the maxima


OPS = (Mean(), ReduceMax())
