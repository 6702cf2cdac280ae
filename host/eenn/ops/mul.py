"""MUL -> eenn_mul: the product of two int8 tensors, broadcast as TFLM broadcasts (the
squeeze-and-excite scaling of [1,H,W,C] by [1,1,1,C]; either may be a constant tensor),
requantized once (kernels/portable/mul.c). A product by one constant value is a function of
the other input alone: it runs as a table (eenn.ops.unary)."""

from dataclasses import dataclass

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
    features = _broadcast.FEATURES

    def lower(self, o):
        pair, c = _broadcast.operands(o)
        (a, scale1, zp1), (b, scale2, zp2) = pair
        y, out_scale, out_zp = o.activation(0, output=True)
        act_min, act_max = o.activation_range(out_scale, out_zp)
        if c is not None:
            (value, c_scale, c_zp), (_, in_scale, in_zp) = pair[c], pair[1 - c]
            table = _tables.mul_constant(in_scale, in_zp, int(value.data.reshape(-1)[0]), c_scale, c_zp, out_scale,
                                         out_zp, act_min, act_max)
            return lookup_call(o, table, position=1 - c)
        multiplier, shift = qm.quantize_multiplier(scale1 * scale2 / out_scale)
        p = MulParams(**_broadcast.geometry(o, a, b, y), input1_offset=-zp1, input2_offset=-zp2, output_offset=out_zp,
                      output_multiplier=multiplier, output_shift=shift, act_min=act_min, act_max=act_max)
        return KernelCall(o.op, self.function, "eenn_mul_params", p, o.op.inputs[:2], o.op.outputs[0])

    def count(self, call):
        return _broadcast.counts(call.params)

    def trace(self, call, first_row, end_row):
        """Output element i written after each input's element of it is read."""
        return _broadcast.trace(call)


OPS = (Mul(),)
