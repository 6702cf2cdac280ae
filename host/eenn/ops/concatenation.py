"""CONCATENATION -> eenn_concatenation: the inputs' bytes interleaved along one axis
(kernels/portable/concatenation.c). As in TFLM, every input has the output's quantization:
the converter requantizes an input of another with a QUANTIZE op before it."""

from dataclasses import dataclass

import numpy as np

from ._base import ConstArray, KernelCall, OpKind, Params

MAX_INPUTS = 10  # TFLM's kMaxInputNum
MAX_RANK = 4  # TFLM refuses more dimensions


@dataclass(frozen=True)
class ConcatenationParams(Params):
    inputs: int
    outer: int  # product of the dimensions before the axis
    sizes: ConstArray  # int32_t[inputs]: each input's values per outer step


class Concatenation(OpKind):
    kind = "CONCATENATION"
    function = "eenn_concatenation"
    source = "concatenation"
    features = ("calls", "copies", "outputs")

    def lower(self, o):
        n = len(o.op.inputs)
        if not 1 <= n <= MAX_INPUTS:
            o.refuse(f"{n} inputs; TFLM concatenates 1 to {MAX_INPUTS}")
        if o.option("fusedActivationFunction", "NONE") != "NONE":
            o.refuse("a fused activation is not supported (TFLM allows none)")
        xs = [o.activation(i) for i in range(n)]
        y, *quantization = o.activation(0, output=True)
        if any(list(q) != quantization for _, *q in xs):
            o.refuse("every input must have the output's quantization (scale and zero point), as TFLM requires")
        xs = [x for x, _, _ in xs]
        rank = len(y.shape)
        if rank > MAX_RANK:
            o.refuse(f"{rank} dimensions; TFLM concatenates at most {MAX_RANK}")
        axis = int(o.option("axis", 0))
        if not -rank <= axis < rank:
            o.refuse(f"axis {axis} is outside a {rank}-D tensor")
        axis %= rank
        for x in xs:
            if len(x.shape) != rank or any(x.shape[d] != y.shape[d] for d in range(rank) if d != axis):
                o.refuse(f"input {list(x.shape)} does not match output {list(y.shape)} but along axis {axis}")
        if sum(x.shape[axis] for x in xs) != y.shape[axis]:
            o.refuse(f"inputs along axis {axis} do not add up to the output's {y.shape[axis]}")
        outer = int(np.prod(y.shape[:axis]))
        sizes = ConstArray("sizes", "int32_t", tuple(int(np.prod(x.shape[axis:])) for x in xs))
        return KernelCall(o.op, self.function, "eenn_concatenation_params", ConcatenationParams(n, outer, sizes),
                          tuple(o.op.inputs), o.op.outputs[0], input_array=True)

    def count(self, call):
        p = call.params
        return {"calls": 1, "copies": p.outer * p.inputs, "outputs": p.outer * sum(p.sizes.values)}


OPS = (Concatenation(),)
