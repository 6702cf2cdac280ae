"""The ops that copy input values to new places, each output position from one input
position: STRIDED_SLICE and SLICE (Cropping1D/2D, slicing with constant bounds),
RESIZE_NEAREST_NEIGHBOR and BROADCAST_TO (UpSampling1D/2D) -> eenn_gather. The host computes where each
output row and column reads (kernels/portable/gather.c); the int8 values are copied as
stored, as TFLM copies them."""

import math
from dataclasses import dataclass

import numpy as np

from ._base import ConstArray, KernelCall, OpKind, Params
from ._windows import Trace

RANK = 5  # TFLM's slicing and broadcasting: at most 5-D


@dataclass(frozen=True)
class GatherParams(Params):
    out_h: int
    out_w: int
    out_c: int
    channel_stride: int
    rows: ConstArray  # int32 [out_h]: where output row h reads, an input offset
    columns: ConstArray  # int32 [out_w]: added to it for output column w


def _is_progression(offsets: np.ndarray) -> bool:
    steps = np.diff(offsets)
    return not steps.size or bool((steps == steps[0]).all())


def _merged(axes: list) -> list:
    """The offsets of the output's axes as three, outermost first, the last a progression: two
    axes are one whose offsets are every sum of theirs, in order."""
    def merge(a, b):
        return (a[:, None] + b[None, :]).reshape(-1)

    while len(axes) > 1 and _is_progression(merge(axes[-2], axes[-1])):
        axes[-2:] = [merge(axes[-2], axes[-1])]
    if axes and not _is_progression(axes[-1]):
        axes.append(np.zeros(1, np.int64))
    while len(axes) > 3:
        axes[:2] = [merge(axes[0], axes[1])]
    return [np.zeros(1, np.int64)] * (3 - len(axes)) + axes


def gather_call(o, x, y, indices: list) -> KernelCall:
    """The call copying to output `y` the values of input `x` at `indices`: per axis of x, the
    input index of each output index."""
    dense = np.cumprod((1,) + tuple(x.shape)[:0:-1])[::-1]  # each axis' step in the input
    if math.prod(len(i) for i in indices) != int(np.prod(y.shape)):
        o.refuse(f"output {list(y.shape)} does not hold the {'x'.join(str(len(i)) for i in indices)} values taken")
    offsets = [np.asarray(i, np.int64) * d for i, d in zip(indices, dense)]
    first = sum(int(a[0]) for a in offsets if len(a) == 1)
    rows, columns, channels = _merged([a for a in offsets if len(a) > 1])
    p = GatherParams(len(rows), len(columns), len(channels), int(channels[1] - channels[0]) if len(channels) > 1 else 1,
                     ConstArray("rows", "int32_t", tuple(int(v + first + channels[0]) for v in rows)),
                     ConstArray("columns", "int32_t", tuple(int(v) for v in columns)))
    return KernelCall(o.op, "eenn_gather", "eenn_gather_params", p, (o.op.inputs[0],), o.op.outputs[0])


def _constant_ints(o, position: int, length: int, what: str) -> list:
    t = o.tensor(position)
    if not t.is_constant or t.dtype not in (np.int32, np.int64) or t.data.size != length:
        o.refuse(f"{what} must be a constant integer tensor of {length} values")
    return [int(v) for v in t.data.reshape(-1)]


class Gather(OpKind):
    function = "eenn_gather"
    source = "gather"
    features = ("calls", "rows", "positions", "outputs")

    def __init__(self, kind: str):
        self.kind = kind

    def lower(self, o):
        x, _, _ = o.activation(0)
        y, _, _ = o.activation(0, output=True)
        if len(x.shape) > RANK:
            o.refuse(f"more than {RANK} dimensions")
        return gather_call(o, x, y, self.indices(o, x, y))

    def indices(self, o, x, y) -> list:
        """Per axis of x, the input index of each output index."""
        raise NotImplementedError

    def count(self, call):
        p = call.params
        return {"calls": 1, "rows": p.out_h, "positions": p.out_h * p.out_w, "outputs": p.out_h * p.out_w * p.out_c}

    def trace(self, call, first_row, end_row):
        """Output element i written after its input element is read."""
        p = call.params
        rows, columns = np.asarray(p.rows.values), np.asarray(p.columns.values)
        reads = (rows[:, None, None] + columns[None, :, None]
                 + np.arange(p.out_c)[None, None, :] * p.channel_stride).reshape(-1)
        return Trace({call.inputs[0]: reads}, {call.output: np.arange(1, reads.size + 1)})


def _clamp(v: int, lo: int, hi: int) -> int:
    return max(lo, min(hi, v))


def strided_range(n: int, begin: int, end: int, stride: int, begin_mask: bool, end_mask: bool, shrink: bool) -> range:
    """The indices STRIDED_SLICE takes along an axis of size n, as TFLM computes them
    (StridedSliceStartForAxis and StridedSliceEndForAxis)."""
    start = begin + n if begin < 0 else begin
    start = _clamp(start, 0, n) if stride > 0 else _clamp(start, -1, n - 1)
    if begin_mask:
        start = 0 if stride > 0 else n - 1
    if shrink:
        return range(start, start if start >= n else start + 1, stride)
    stop = end + n if end < 0 else end
    stop = _clamp(stop, 0, n) if stride > 0 else _clamp(stop, -1, n - 1)
    if end_mask:
        stop = n if stride > 0 else -1
    return range(start, stop, stride)


class StridedSlice(Gather):
    """Constant begin, end and strides, with the begin, end and shrink masks; not the ellipsis
    and new-axis masks, nor the offset flag (TFLM's Prepare ignores it, its Eval does not)."""

    def indices(self, o, x, y):
        rank = len(x.shape)
        begin, end, strides = (_constant_ints(o, i, rank, what) for i, what in
                               ((1, "begin"), (2, "end"), (3, "strides")))
        if o.option("ellipsisMask", 0) or o.option("newAxisMask", 0) or o.option("offset", False):
            o.refuse("the ellipsis and new-axis masks and the offset flag are not supported")
        if 0 in strides:
            o.refuse("a stride is 0")
        masks = [o.option(name, 0) for name in ("beginMask", "endMask", "shrinkAxisMask")]
        return [list(strided_range(n, begin[axis], end[axis], strides[axis], *(bool(m & 1 << axis) for m in masks)))
                for axis, n in enumerate(x.shape)]


class Slice(Gather):
    """begin and size (-1: to the end) per axis."""

    def indices(self, o, x, y):
        rank = len(x.shape)
        begin, size = _constant_ints(o, 1, rank, "begin"), _constant_ints(o, 2, rank, "size")
        result = []
        for axis, (n, b, s) in enumerate(zip(x.shape, begin, size)):
            stop = n if s == -1 else b + s
            if not 0 <= b <= stop <= n:
                o.refuse(f"slice [{b}, {stop}) is outside axis {axis} of size {n}")
            result.append(list(range(b, stop)))
        return result


def nearest(out_size: int, in_size: int, align_corners: bool, half_pixel_centers: bool) -> list:
    """TFLM's GetNearestNeighbor for each output index, in float32 as it computes it."""
    f32 = np.float32
    scale = (f32(in_size - 1) / f32(out_size - 1) if align_corners and out_size > 1
             else f32(in_size) / f32(out_size))
    offset = f32(0.5) if half_pixel_centers else f32(0)
    at = (np.arange(out_size, dtype=f32) + offset) * scale
    index = (np.sign(at) * np.floor(np.abs(at) + f32(0.5)) if align_corners else np.floor(at)).astype(np.int64)
    index = np.minimum(index, in_size - 1)
    return list(np.maximum(index, 0) if half_pixel_centers else index)


class ResizeNearestNeighbor(Gather):
    def indices(self, o, x, y):
        if len(x.shape) != 4 or len(y.shape) != 4:
            o.refuse("input and output must be [1, H, W, C]")
        out_h, out_w = _constant_ints(o, 1, 2, "size")
        if (1, out_h, out_w, x.shape[3]) != tuple(y.shape):
            o.refuse(f"output {list(y.shape)} is not [1, {out_h}, {out_w}, {x.shape[3]}]")
        corners, half = bool(o.option("alignCorners", False)), bool(o.option("halfPixelCenters", False))
        return [[0], nearest(out_h, x.shape[1], corners, half), nearest(out_w, x.shape[2], corners, half),
                list(range(x.shape[3]))]


class BroadcastTo(Gather):
    """To a constant shape: an axis of size 1 repeated (what eenn.tflite.rewrite makes of the
    TILE that Keras' UpSampling1D/2D convert to)."""

    def indices(self, o, x, y):
        shape = _constant_ints(o, 1, len(x.shape), "shape (of the input's rank)")
        if tuple(shape) != tuple(y.shape) or any(n not in (1, m) for n, m in zip(x.shape, shape)):
            o.refuse(f"input {list(x.shape)} does not broadcast to {shape} (only axes of size 1 repeat)")
        return [[0] * m if n == 1 else list(range(n)) for n, m in zip(x.shape, shape)]


OPS = (StridedSlice("STRIDED_SLICE"), Slice("SLICE"), ResizeNearestNeighbor("RESIZE_NEAREST_NEIGHBOR"),
       BroadcastTo("BROADCAST_TO"))
