"""How far an op's output may overlap an input that dies at the op.

A kernel reads its input and writes its output in increasing address order, so an output
placed at or before its input can overwrite bytes the kernel has already read and will not
read again. For each kernel the order is modeled as events: after an event, the first `w`
output bytes are written, and no input byte before `r` is read again. With the output at
`out` and the input at `in`, no event overwrites an unread input byte if
out + w <= in + r for every event, that is if out - in <= min(r - w): the op's overlap
limit. A negative limit puts the output that many bytes before its input; the planner
(memory.plan) may place the output anywhere at or below input + limit, or clear of it.

The events follow the kernels' loops (kernels/portable, kernels/dsp): a convolution reads
the windows of an output position (the DSP path two positions) before writing its
channels; a depthwise convolution or pooling reads one channel (the DSP path four) of a
window before writing it; ADD reads element i of each input before writing element i. The
portable loops are the finer ones, so their events bound both paths.
"""

import numpy as np

INFINITY = np.iinfo(np.int64).max


def _first_inside(origin: np.ndarray, k: int, dilation: int, n: int) -> np.ndarray:
    """The first coordinate of each window (origin, k taps, dilation) inside [0, n); -1 if none."""
    first_tap = np.maximum(0, -(origin // dilation))  # ceil(-origin / dilation) for origin < 0
    first = origin + first_tap * dilation
    return np.where((first_tap < k) & (first < n), first, -1)


def window_starts(p: dict, channels: int) -> np.ndarray:
    """The first input byte each output position's window reads (raster order); INFINITY for a
    window wholly in the padding."""
    oy, ox = np.meshgrid(np.arange(p["out_h"]), np.arange(p["out_w"]), indexing="ij")
    y = _first_inside(oy.ravel() * p["stride_h"] - p["pad_h"], p["k_h"], p.get("dilation_h", 1), p["in_h"])
    x = _first_inside(ox.ravel() * p["stride_w"] - p["pad_w"], p["k_w"], p.get("dilation_w", 1), p["in_w"])
    starts = (y.astype(np.int64) * p["in_w"] + x) * channels
    return np.where((y < 0) | (x < 0), INFINITY, starts)


def _later_minimum(starts: np.ndarray) -> np.ndarray:
    """For each position, the first input byte any later position reads."""
    suffix = np.minimum.accumulate(starts[::-1])[::-1]
    return np.append(suffix[1:], INFINITY)


def _limit(read: np.ndarray, written: np.ndarray, input_bytes: int) -> int:
    slack = read[read != INFINITY] - written[read != INFINITY]
    return int(min(slack.min(initial=input_bytes), input_bytes))


def convolution(p: dict) -> int:
    """Overlap limit of CONV_2D (params of lowering._conv)."""
    positions = np.arange(1, p["out_h"] * p["out_w"] + 1)
    return _limit(_later_minimum(window_starts(p, p["in_c"])), positions * p["out_c"],
                  p["in_h"] * p["in_w"] * p["in_c"])


def channelwise(p: dict, in_c: int, out_c: int) -> int:
    """Overlap limit of a depthwise convolution or pooling: output channel c of a position
    reads input channel c * in_c // out_c of its window."""
    starts = window_starts(p, in_c)
    later = _later_minimum(starts)[:, None]
    channel = np.arange(out_c)[None, :]
    written = np.arange(len(starts))[:, None] * out_c + channel + 1
    same_position = np.where(starts[:, None] == INFINITY, INFINITY, starts[:, None] + (channel + 1) * in_c // out_c)
    read = np.where(channel == out_c - 1, later, np.minimum(same_position, later))
    return _limit(read.ravel(), written.ravel(), p["in_h"] * p["in_w"] * in_c)


ELEMENTWISE = 0  # element i of each input is read before element i of the output is written
