"""MAXIMUM -> eenn_maximum and MINIMUM -> eenn_minimum: the larger (smaller) int8 value of
two tensors that broadcast (either may be a constant), compared and written as stored, as TFLM does whatever the
quantizations (the converter gives both inputs the output's) (kernels/portable/maximum_minimum.c)."""

from . import _broadcast
from ._base import KernelCall, OpKind


class MaximumMinimum(OpKind):
    source = "maximum_minimum"
    features = _broadcast.FEATURES

    def __init__(self, kind: str, function: str):
        self.kind, self.function = kind, function

    def lower(self, o):
        (a, _, _), (b, _, _) = o.operand(0), o.operand(1)
        y, _, _ = o.activation(0, output=True)
        p = _broadcast.BroadcastParams(**_broadcast.geometry(o, a, b, y))
        return KernelCall(o.op, self.function, "eenn_broadcast_params", p, o.op.inputs[:2], o.op.outputs[0])

    def count(self, call):
        return _broadcast.counts(call.params)

    def trace(self, call, first_row, end_row):
        """Output element i written after each input's element of it is read."""
        return _broadcast.trace(call)


OPS = (MaximumMinimum("MAXIMUM", "eenn_maximum"), MaximumMinimum("MINIMUM", "eenn_minimum"))
