"""FULLY_CONNECTED -> eenn_fully_connected: the input widened once (DSP), output rows
four at a time (kernels/portable/fully_connected.c, kernels/dsp/fully_connected_dsp.c,
kernels/mve/fully_connected_mve.c); the bias is folded (eenn_kernels.h)."""

from dataclasses import dataclass

import numpy as np

from . import _quantmath as qm
from ._base import ConstArray, KernelCall, OpKind, Params
from ._layout import column_bytes, row_layer


@dataclass(frozen=True)
class FullyConnectedParams(Params):
    in_n: int
    out_n: int
    output_offset: int
    act_min: int
    act_max: int
    weights: ConstArray
    bias: ConstArray
    requant: ConstArray


class FullyConnected(OpKind):
    kind = "FULLY_CONNECTED"
    function = "eenn_fully_connected"
    source = "fully_connected"
    # input widened once; rows four at a time, the rest in a pair or alone (requantized one by one);
    # on Helium blocks of four rows, sixteen values at a time; on Armv6-M blocks of four rows over
    # the whole input
    features = ("calls", "groups", "macs", "padded_macs", "remainder_macs", "outputs", "remainder_outputs",
                "row_blocks", "block_chunks", "block_values")

    def lower(self, o):
        x, in_scale, in_zp = o.activation(0)
        y, out_scale, out_zp = o.activation(0, output=True)
        w, w_scales = o.weights(1, 0)
        if w.ndim != 2:
            o.refuse(f"weights must be 2-D, not {list(w.shape)}")
        out_n, in_n = w.shape
        if int(np.prod(x.shape)) != in_n or int(np.prod(y.shape)) != out_n:
            o.refuse(f"input {list(x.shape)} and output {list(y.shape)} do not match weights {list(w.shape)} "
                     "at batch 1")
        per_tensor = len(o.tensor(1).quantization.scale) == 1
        act_min, act_max = o.activation_range(out_scale, out_zp)
        requant = qm.conv_multipliers(in_scale, w_scales, out_scale, per_tensor_product=per_tensor)
        weights, bias, requant = row_layer(w, o.bias(2, out_n), -in_zp, *requant)
        p = FullyConnectedParams(in_n, out_n, out_zp, act_min, act_max, weights, bias, requant)
        return KernelCall(o.op, self.function, "eenn_fully_connected_params", p, (o.op.inputs[0],), o.op.outputs[0],
                          2 * column_bytes(in_n))  # scratch: the input widened (DSP)

    def macs(self, op, graph):
        _, depth = graph.tensors[op.inputs[1]].shape
        return int(np.prod(graph.tensors[op.outputs[0]].shape)) * depth

    def count(self, call):
        p = call.params
        padded = column_bytes(p.in_n)
        blocks = -(-p.out_n // 4)
        return {"calls": 1, "groups": padded // 4, "macs": p.in_n * p.out_n, "padded_macs": padded * p.out_n,
                "remainder_macs": padded * (p.out_n % 4), "outputs": p.out_n, "remainder_outputs": p.out_n % 4,
                "row_blocks": blocks, "block_chunks": blocks * -(-p.in_n // 16), "block_values": blocks * padded}


OPS = (FullyConnected(),)
