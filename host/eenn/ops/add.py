"""ADD and SUB of two tensors of the output's shape -> eenn_add and eenn_sub: element by
element, each input rescaled to a common scale, then added or subtracted
(kernels/portable/add.c)."""

from dataclasses import dataclass

import numpy as np

from . import _broadcast, _quantmath as qm
from ._base import KernelCall, OpKind, Params
from ._windows import elementwise_trace


@dataclass(frozen=True)
class AddParams(Params):
    row_size: int
    input1_rows: int
    input2_rows: int
    output_rows: int
    input1_offset: int
    input2_offset: int
    output_offset: int
    act_min: int
    act_max: int
    left_shift: int
    input1_multiplier: int
    input1_shift: int
    input2_multiplier: int
    input2_shift: int
    output_multiplier: int
    output_shift: int


class Add(OpKind):
    source = "add"
    features = ("calls", "rows", "outputs")
    row_params = (("input1_rows", "input2_rows"), "output_rows")

    def __init__(self, kind: str, function: str):
        self.kind, self.function = kind, function

    def lower(self, o):
        a, scale1, zp1 = o.activation(0)
        b, scale2, zp2 = o.activation(1)
        y, out_scale, out_zp = o.activation(0, output=True)
        if not _broadcast.same_layout(a.shape, b.shape, y.shape):
            o.refuse(f"inputs {list(a.shape)} and {list(b.shape)} must have the output's shape (no broadcasting)")
        act_min, act_max = o.activation_range(out_scale, out_zp)
        rows = y.shape[1] if len(y.shape) == 4 else 1
        p = AddParams(int(np.prod(y.shape)) // rows, rows, rows, rows, -zp1, -zp2, out_zp, act_min, act_max,
                      **qm.add_params(scale1, scale2, out_scale))
        return KernelCall(o.op, self.function, "eenn_add_params", p, o.op.inputs[:2], o.op.outputs[0], rows=rows)

    def count(self, call):
        return {"calls": 1, "rows": call.rows, "outputs": call.rows * call.params.row_size}

    def trace(self, call, first_row, end_row):
        return elementwise_trace(call, first_row, end_row)


OPS = (Add("ADD", "eenn_add"), Add("SUB", "eenn_sub"))
