"""MAX_POOL_2D -> eenn_max_pool2d and AVERAGE_POOL_2D -> eenn_average_pool2d: a window per
channel, one loop nest for both (kernels/portable/pooling.c)."""

from dataclasses import dataclass

from ._base import KernelCall, Params
from ._windows import Window, channel_trace, inside
from .conv2d import WindowedOp


@dataclass(frozen=True)
class PoolParams(Params):
    in_h: int
    in_w: int
    channels: int
    out_h: int
    out_w: int
    in_rows: int
    out_rows: int
    k_h: int
    k_w: int
    stride_h: int
    stride_w: int
    pad_h: int
    pad_w: int
    act_min: int
    act_max: int

    @property
    def window(self) -> Window:
        return Window(self.in_h, self.in_w, self.out_h, self.out_w, self.k_h, self.k_w, self.stride_h, self.stride_w,
                      self.pad_h, self.pad_w)


class Pool(WindowedOp):
    source = "pooling"
    features = ("calls", "reads", "outputs", "positions")

    def __init__(self, kind: str, function: str):
        self.kind, self.function = kind, function

    def lower(self, o):
        x, in_scale, in_zp = o.activation(0)
        y, out_scale, out_zp = o.activation(0, output=True)
        if len(x.shape) != 4 or len(y.shape) != 4 or x.shape[3] != y.shape[3]:
            o.refuse("input and output must be 4-D (NHWC) with the same channels")
        if (in_scale, in_zp) != (out_scale, out_zp):
            o.refuse("input and output must share one quantization")
        kernel = (o.option("filterHeight", 1), o.option("filterWidth", 1))
        stride = (o.option("strideH", 1), o.option("strideW", 1))
        pad_h, pad_w = o.spatial(x.shape[1:3], y.shape[1:3], kernel, stride)
        act_min, act_max = o.activation_range(out_scale, out_zp)
        p = PoolParams(x.shape[1], x.shape[2], x.shape[3], y.shape[1], y.shape[2], x.shape[1], y.shape[1], *kernel,
                       *stride, pad_h, pad_w, act_min, act_max)
        return KernelCall(o.op, self.function, "eenn_pool_params", p, (o.op.inputs[0],), o.op.outputs[0],
                          rows=y.shape[1])

    def count(self, call):
        p = call.params
        taps = inside(p.out_h, p.in_h, p.k_h, p.stride_h, p.pad_h) * inside(p.out_w, p.in_w, p.k_w, p.stride_w, p.pad_w)
        positions = p.out_h * p.out_w
        return {"calls": 1, "reads": taps * p.channels, "outputs": positions * p.channels, "positions": positions}

    def trace(self, call, first_row, end_row):
        """One channel of a window read (the DSP path four) before that channel is written."""
        return channel_trace(call, call.params.channels, call.params.channels, first_row, end_row)


OPS = (Pool("MAX_POOL_2D", "eenn_max_pool2d"), Pool("AVERAGE_POOL_2D", "eenn_average_pool2d"))
