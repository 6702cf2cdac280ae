"""PAD and PADV2 -> eenn_pad: the input's int8 values copied into a larger tensor, the border
filled with the output zero point (PAD) or the constant value (PADV2), as TFLM fills it
(kernels/portable/pad.c). A PAD before a convolution usually folds into the convolution's
padding in the converter; this runs the ones that do not (before pooling, or asymmetric)."""

from dataclasses import dataclass

import numpy as np

from ._base import KernelCall, OpKind, Params

RANK = 4


@dataclass(frozen=True)
class PadParams(Params):
    in_h: int
    in_w: int
    in_c: int
    out_h: int
    out_w: int
    out_c: int
    pad_h: int  # rows, columns and channels before the input
    pad_w: int
    pad_c: int
    pad_value: int


class Pad(OpKind):
    function = "eenn_pad"
    source = "pad"
    features = ("calls", "rows", "row_positions", "copied_positions", "copies", "outputs")

    def __init__(self, kind: str):
        self.kind = kind

    def lower(self, o):
        x, _, _ = o.activation(0)
        y, _, out_zp = o.activation(0, output=True)
        paddings = o.tensor(1)
        rank = len(x.shape)
        if not paddings.is_constant or paddings.data.shape != (rank, 2) or rank > RANK:
            o.refuse(f"paddings must be a constant [{rank}, 2] tensor of a tensor of at most {RANK} dimensions")
        before = np.zeros((RANK, 2), np.int64)
        before[RANK - rank:] = paddings.data
        if before[0].any() or (before < 0).any():
            o.refuse("the batch axis cannot be padded, nor any axis by a negative amount")
        shape_in = (1,) * (RANK - rank) + tuple(x.shape)
        shape_out = tuple(int(n + a + b) for n, (a, b) in zip(shape_in, before))
        if shape_out[RANK - len(y.shape):] != tuple(y.shape):
            o.refuse(f"output {list(y.shape)} is not the padded input {list(shape_out[RANK - rank:])}")
        pad_value = out_zp
        if self.kind == "PADV2" and len(o.op.inputs) > 2 and o.op.inputs[2] >= 0:
            value = o.tensor(2)
            if not value.is_constant or value.dtype != np.int8 or value.data.size != 1:
                o.refuse("the padding value must be one constant int8 value")
            pad_value = int(value.data.reshape(-1)[0])
        p = PadParams(*shape_in[1:], *shape_out[1:], *(int(a) for a, _ in before[1:]), pad_value)
        return KernelCall(o.op, self.function, "eenn_pad_params", p, (o.op.inputs[0],), o.op.outputs[0])

    def count(self, call):
        """Rows wholly of padding are filled at once; the positions of the others one by one."""
        p = call.params
        return {"calls": 1, "rows": p.out_h, "row_positions": p.in_h * p.out_w, "copied_positions": p.in_h * p.in_w,
                "copies": p.in_h * p.in_w * p.in_c, "outputs": p.out_h * p.out_w * p.out_c}


OPS = (Pad("PAD"), Pad("PADV2"))
