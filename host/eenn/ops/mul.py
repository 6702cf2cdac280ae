"""MUL -> eenn_mul: the product of two int8 tensors, broadcast as TFLM broadcasts (the
squeeze-and-excite scaling of [1,H,W,C] by [1,1,1,C]), requantized once
(kernels/portable/mul.c). A product by one constant value is a function of the other
input alone: it runs as a table (eenn.ops.unary)."""

from dataclasses import dataclass

import numpy as np

from . import _broadcast, _quantmath as qm, _tables
from ._base import KernelCall, OpKind
from .unary import lookup_call


@dataclass(frozen=True)
class MulParams(_broadcast.BroadcastParams):
    input1_offset: int
    input2_offset: int
    output_offset: int
    output_multiplier: int
    output_shift: int
    act_min: int
    act_max: int


class Mul(OpKind):
    kind = "MUL"
    function = "eenn_mul"
    source = "mul"
    features = ("calls", "positions", "outputs")

    def lower(self, o):
        constants = [i for i in (0, 1) if o.tensor(i).is_constant]
        if len(constants) == 2:
            o.refuse("both inputs are constants")
        if constants:
            return self._by_constant(o, constants[0])
        a, scale1, zp1 = o.activation(0)
        b, scale2, zp2 = o.activation(1)
        y, out_scale, out_zp = o.activation(0, output=True)
        act_min, act_max = o.activation_range(out_scale, out_zp)
        multiplier, shift = qm.quantize_multiplier(scale1 * scale2 / out_scale)
        p = MulParams(**_broadcast.geometry(o, a, b, y), input1_offset=-zp1, input2_offset=-zp2, output_offset=out_zp,
                      output_multiplier=multiplier, output_shift=shift, act_min=act_min, act_max=act_max)
        return KernelCall(o.op, self.function, "eenn_mul_params", p, o.op.inputs[:2], o.op.outputs[0])

    def _by_constant(self, o, position):
        c = o.tensor(position)
        q = c.quantization
        if c.data.size != 1 or c.dtype != np.int8 or q is None or len(q.scale) != 1:
            o.refuse(f"constant '{c.name}' must be one int8 value with one quantization scale "
                     "(a product by a constant tensor is not supported)")
        _, in_scale, in_zp = o.activation(1 - position)
        _, out_scale, out_zp = o.activation(0, output=True)
        act_min, act_max = o.activation_range(out_scale, out_zp)
        table = _tables.mul_constant(in_scale, in_zp, int(c.data.reshape(-1)[0]), q.scale[0], q.zero_point[0],
                                     out_scale, out_zp, act_min, act_max)
        return lookup_call(o, table, position=1 - position)

    def count(self, call):
        p = call.params
        return {"calls": 1, "positions": p.out_h * p.out_w, "outputs": p.out_h * p.out_w * p.out_c}

    def trace(self, call, first_row, end_row):
        """Output element i written after each input's element of it is read."""
        return _broadcast.trace(call)


OPS = (Mul(),)
