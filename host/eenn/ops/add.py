"""ADD and SUB -> eenn_add and eenn_sub for two tensors of the output's shape, row by row
(they fuse); eenn_add_broadcast and eenn_sub_broadcast for shapes that broadcast, or a
constant tensor; a table (eenn.ops.unary) for one constant value. Element by element, each
input is rescaled to a common scale, then added or subtracted (kernels/portable/add.c)."""

from dataclasses import dataclass

import numpy as np

from . import _broadcast, _quantmath as qm, _tables
from ._base import KernelCall, OpKind, Params
from ._windows import elementwise_trace
from .unary import lookup_call


@dataclass(frozen=True)
class AddQuantization(Params):  # eenn_add_quantization
    input1_offset: int
    input2_offset: int
    output_offset: int
    left_shift: int
    input1_multiplier: int
    input1_shift: int
    input2_multiplier: int
    input2_shift: int
    output_multiplier: int
    output_shift: int
    act_min: int
    act_max: int


@dataclass(frozen=True)
class AddParams(Params):
    row_size: int
    input1_rows: int
    input2_rows: int
    output_rows: int
    quantization: AddQuantization


@dataclass(frozen=True)
class AddBroadcastParams(Params):
    shape: _broadcast.BroadcastParams
    quantization: AddQuantization


class Add(OpKind):
    source = "add"
    features = ("calls", "rows", "outputs")
    row_params = (("input1_rows", "input2_rows"), "output_rows")

    def __init__(self, kind: str, function: str, broadcast: "AddBroadcast"):
        self.kind, self.function, self.broadcast = kind, function, broadcast

    def lower(self, o):
        ((a, scale1, zp1), (b, scale2, zp2)), c = _broadcast.operands(o)
        y, out_scale, out_zp = o.activation(0, output=True)
        act_min, act_max = o.activation_range(out_scale, out_zp)
        if c is not None:
            table = _tables.add_constant(self.kind == "SUB", c, int((a, b)[c].data.reshape(-1)[0]), scale1, zp1,
                                         scale2, zp2, out_scale, out_zp, act_min, act_max)
            return lookup_call(o, table, position=1 - c)
        q = AddQuantization(-zp1, -zp2, out_zp, **qm.add_params(scale1, scale2, out_scale), act_min=act_min,
                            act_max=act_max)
        if a.is_constant or b.is_constant or not _broadcast.same_layout(a.shape, b.shape, y.shape):
            p = AddBroadcastParams(_broadcast.BroadcastParams(**_broadcast.geometry(o, a, b, y)), q)
            return KernelCall(o.op, self.broadcast.function, "eenn_add_broadcast_params", p, o.op.inputs[:2],
                              o.op.outputs[0])
        rows = y.shape[1] if len(y.shape) == 4 else 1
        p = AddParams(int(np.prod(y.shape)) // rows, rows, rows, rows, q)
        return KernelCall(o.op, self.function, "eenn_add_params", p, o.op.inputs[:2], o.op.outputs[0], rows=rows)

    def count(self, call):
        return {"calls": 1, "rows": call.rows, "outputs": call.rows * call.params.row_size}

    def trace(self, call, first_row, end_row):
        return elementwise_trace(call, first_row, end_row)


class AddBroadcast(OpKind):
    """The broadcasting kernel of ADD or SUB (not an op of its own: Add lowers to it)."""

    source = "add"
    features = _broadcast.FEATURES

    def __init__(self, kind: str, function: str):
        self.kind, self.function = kind, function

    def count(self, call):
        return _broadcast.counts(call.params.shape)

    def trace(self, call, first_row, end_row):
        return _broadcast.trace(call, call.params.shape)


VARIANTS = (AddBroadcast("ADD", "eenn_add_broadcast"), AddBroadcast("SUB", "eenn_sub_broadcast"))
OPS = (Add("ADD", "eenn_add", VARIANTS[0]), Add("SUB", "eenn_sub", VARIANTS[1]))
