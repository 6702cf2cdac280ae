"""Binary element-wise ops whose inputs broadcast (TFLM's 4-D broadcasting): the output's
(H, W, C) after the batch axis, and for each input the step of each axis, 0 where it is
broadcast; tensors of fewer dimensions are aligned on the last."""

from dataclasses import dataclass

import numpy as np

from ._base import Params
from ._windows import Trace

RANK = 4  # TFLM's BroadcastMul4DSlow and its kin: at most 4-D


def same_layout(*shapes) -> bool:
    """Whether the shapes are one but for leading axes of size 1 (the converter squeezes a
    [1, 1, 1, C] tensor to [C]): their elements are in the same order."""
    def core(shape):
        shape = tuple(shape)
        while shape and shape[0] == 1:
            shape = shape[1:]
        return shape

    return len({core(s) for s in shapes}) == 1


def _padded(shape) -> tuple:
    return (1,) * (RANK - len(shape)) + tuple(shape)


@dataclass(frozen=True)
class BroadcastParams(Params):
    """The fields a broadcasting kernel's parameters start with (eenn_broadcast_params)."""

    out_h: int
    out_w: int
    out_c: int
    input1_stride_h: int
    input1_stride_w: int
    input1_stride_c: int
    input2_stride_h: int
    input2_stride_w: int
    input2_stride_c: int


def operands(o) -> tuple:
    """The two inputs of a binary op (OpView.operand: (tensor, scale, zero point) each, one of
    them may be a constant) and the position of the one that is a single constant value, or
    None (a function of the other input alone: a table, eenn.ops.unary)."""
    pair = o.operand(0), o.operand(1)
    constants = [i for i, (t, _, _) in enumerate(pair) if t.is_constant]
    if len(constants) == 2:
        o.refuse("both inputs are constants")
    return pair, constants[0] if constants and pair[constants[0]][0].data.size == 1 else None


def geometry(o, a, b, y) -> dict:
    """The BroadcastParams fields of inputs `a` and `b` to output `y` (tensors); refuses
    shapes that do not broadcast."""
    if max(len(a.shape), len(b.shape), len(y.shape)) > RANK:
        o.refuse(f"more than {RANK} dimensions")
    pa, pb, py = _padded(a.shape), _padded(b.shape), _padded(y.shape)
    if py[0] != 1 or any(n not in (1, m) for p in (pa, pb) for n, m in zip(p, py)) or \
            any(max(i, j) != m for i, j, m in zip(pa, pb, py)):
        o.refuse(f"inputs {list(a.shape)} and {list(b.shape)} do not broadcast to the output {list(y.shape)}")

    def strides(p):
        dense = (p[2] * p[3], p[3], 1)
        return tuple(s if n > 1 else 0 for n, s in zip(p[1:], dense))

    (h1, w1, c1), (h2, w2, c2) = strides(pa), strides(pb)
    return dict(out_h=py[1], out_w=py[2], out_c=py[3], input1_stride_h=h1, input1_stride_w=w1, input1_stride_c=c1,
                input2_stride_h=h2, input2_stride_w=w2, input2_stride_c=c2)


FEATURES = ("calls", "positions", "outputs")  # a broadcasting kernel's counts


def counts(p: BroadcastParams) -> dict:
    """A broadcasting kernel's counts (FEATURES): an inner loop per output position."""
    return {"calls": 1, "positions": p.out_h * p.out_w, "outputs": p.out_h * p.out_w * p.out_c}


def trace(call, p: BroadcastParams = None) -> Trace:
    """Output element i written after reading each input's element of it, in output order;
    `p` the call's BroadcastParams if its params are not."""
    p = call.params if p is None else p
    h, w, c = np.meshgrid(np.arange(p.out_h), np.arange(p.out_w), np.arange(p.out_c), indexing="ij")
    first = (h * p.input1_stride_h + w * p.input1_stride_w + c * p.input1_stride_c).reshape(-1)
    second = (h * p.input2_stride_h + w * p.input2_stride_w + c * p.input2_stride_c).reshape(-1)
    reads = {call.inputs[0]: first}
    reads[call.inputs[1]] = np.minimum(second, first) if call.inputs[1] == call.inputs[0] else second
    return Trace(reads, {call.output: np.arange(1, first.size + 1)})
