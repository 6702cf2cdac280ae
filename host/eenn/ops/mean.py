"""MEAN over all axes but batch and channels -> eenn_mean: channel sums row by row, the
output written with the last row (kernels/portable/mean.c)."""

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


class Mean(OpKind):
    kind = "MEAN"
    function = "eenn_mean"
    source = "mean"
    features = ("calls", "rows", "positions", "reads", "outputs")
    row_params = (("in_rows",), None)
    ends_segment = True

    def lower(self, o):
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
        p = MeanParams(count, c, x.shape[1], x.shape[1], in_zp, out_zp, multiplier, shift)
        return KernelCall(o.op, self.function, "eenn_mean_params", p, (o.op.inputs[0],), o.op.outputs[0],
                          4 * c, rows=x.shape[1])  # scratch: the sums

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


OPS = (Mean(),)
