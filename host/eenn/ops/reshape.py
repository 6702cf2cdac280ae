"""RESHAPE, SQUEEZE and EXPAND_DIMS: no code; the output is the input's bytes under another
shape (the memory plan gives both one buffer)."""

from ._base import KernelCall, OpKind


class Reshape(OpKind):
    aliases_input = True

    def __init__(self, kind: str):
        self.kind = kind

    def lower(self, o):
        x, in_scale, in_zp = o.activation(0)
        y, out_scale, out_zp = o.activation(0, output=True)
        if (in_scale, in_zp) != (out_scale, out_zp) or x.nbytes != y.nbytes:
            o.refuse("input and output must share size and quantization")
        return KernelCall(o.op, None, None, None, (o.op.inputs[0],), o.op.outputs[0])


OPS = (Reshape("RESHAPE"), Reshape("SQUEEZE"), Reshape("EXPAND_DIMS"))
