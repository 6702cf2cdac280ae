"""SOFTMAX -> eenn_softmax: TFLM's int8 softmax, output at scale 1/256 and zero point -128
(kernels/portable/softmax.c); every exit ends with one."""

from dataclasses import dataclass

import numpy as np

from . import _quantmath as qm
from ._base import KernelCall, OpKind, Params


@dataclass(frozen=True)
class SoftmaxParams(Params):
    rows: int
    depth: int
    input_multiplier: int
    input_left_shift: int
    diff_min: int


class Softmax(OpKind):
    kind = "SOFTMAX"
    function = "eenn_softmax"
    source = "softmax"
    features = ("calls", "outputs", "rows")

    def lower(self, o):
        x, in_scale, _ = o.activation(0)
        y, out_scale, out_zp = o.activation(0, output=True)
        if x.shape != y.shape:
            o.refuse("input and output shapes differ")
        if (out_scale, out_zp) != (float(np.float32(1 / 256)), -128):
            o.refuse(f"output quantization must be scale 1/256, zero point -128 (not {out_scale}, {out_zp})")
        constants = qm.softmax_params(float(o.option("beta", 1.0)), in_scale)
        if constants is None:
            o.refuse(f"input scale {in_scale:.3g} with beta {o.option('beta', 1.0)} is outside the int8 kernel's "
                     f"range (scale times beta above 2^-{31 - qm.SOFTMAX_DIFF_INTEGER_BITS}, as TFLM requires): the "
                     "logits before it span almost nothing; train the model (are its weights random?)")
        depth = x.shape[-1]
        p = SoftmaxParams(int(np.prod(x.shape)) // depth, depth, **constants)
        return KernelCall(o.op, self.function, "eenn_softmax_params", p, (o.op.inputs[0],), o.op.outputs[0])

    def count(self, call):
        return {"calls": 1, "outputs": call.params.rows * call.params.depth, "rows": call.params.rows}


OPS = (Softmax(),)
