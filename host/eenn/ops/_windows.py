"""What the windowed ops (convolutions, pooling) share: their geometry, the input rows a
window reads, the taps inside the input, and the order of their reads and writes.

A kernel call's order is a trace of events (eenn.codegen.overlap): at each event the kernel
reads input bytes from some byte on (`reads`, per input tensor), then has written its output
up to some byte (`writes`)."""

from dataclasses import dataclass

import numpy as np

NONE = np.iinfo(np.int64).max  # a read of nothing, or no write


@dataclass(frozen=True)
class Trace:
    reads: dict  # input tensor -> per event, the first byte read (NONE: not read)
    writes: dict  # output tensor -> per event, the bytes written so far (NONE: not written)


@dataclass(frozen=True)
class Window:
    """A window's geometry (NHWC, one batch): the `window` of a windowed op's Params."""

    in_h: int
    in_w: int
    out_h: int
    out_w: int
    k_h: int
    k_w: int
    stride_h: int
    stride_w: int
    pad_h: int
    pad_w: int
    dilation_h: int = 1
    dilation_w: int = 1


def _first_inside(origin: np.ndarray, k: int, dilation: int, n: int) -> np.ndarray:
    """The first coordinate of each window (origin, k taps, dilation) inside [0, n); -1 if none."""
    first_tap = np.maximum(0, -(origin // dilation))  # ceil(-origin / dilation) for origin < 0
    first = origin + first_tap * dilation
    return np.where((first_tap < k) & (first < n), first, -1)


def window_starts(p: Window, channels: int, first_row: int, end_row: int) -> np.ndarray:
    """The first input byte the window of each output position of rows [first_row, end_row)
    reads (row-major); NONE for a window wholly in the padding."""
    oy, ox = np.meshgrid(np.arange(first_row, end_row), np.arange(p.out_w), indexing="ij")
    y = _first_inside(oy.ravel() * p.stride_h - p.pad_h, p.k_h, p.dilation_h, p.in_h)
    x = _first_inside(ox.ravel() * p.stride_w - p.pad_w, p.k_w, p.dilation_w, p.in_w)
    starts = (y.astype(np.int64) * p.in_w + x) * channels
    return np.where((y < 0) | (x < 0), NONE, starts)


def channel_trace(call, in_c: int, out_c: int, first_row: int, end_row: int) -> Trace:
    """A window's channels read and written one by one (depthwise convolution, pooling)."""
    window = call.params.window
    starts = window_starts(window, in_c, first_row, end_row)[:, None]
    channel = np.arange(out_c)[None, :]
    reads = np.where(starts == NONE, NONE, starts + channel * in_c // out_c)
    positions = np.arange(first_row * window.out_w, end_row * window.out_w)[:, None]
    return Trace({call.inputs[0]: reads.ravel()}, {call.output: (positions * out_c + channel + 1).ravel()})


def elementwise_trace(call, first_row: int, end_row: int) -> Trace:
    """An element-wise kernel in rows of `row_size` values: element i of every input read before
    element i is written."""
    elements = np.arange(first_row * call.params.row_size, end_row * call.params.row_size)
    return Trace({t: elements for t in call.inputs}, {call.output: elements + 1})


def input_rows(p: Window, rows: int, first: bool) -> np.ndarray:
    """For each of `rows` output rows, the first (or one past the last) input row its window reads."""
    origin = np.arange(rows) * p.stride_h - p.pad_h
    taps = origin[:, None] + np.arange(p.k_h)[None, :] * p.dilation_h
    inside = (taps >= 0) & (taps < p.in_h)
    if first:
        return np.where(inside, taps, p.in_h).min(axis=1)
    return np.where(inside, taps + 1, 0).max(axis=1)


def inside_each(n_out: int, n_in: int, kernel: int, stride: int, pad: int, dilation: int = 1) -> np.ndarray:
    """Window taps along one axis that fall inside the input, per output."""
    o = np.arange(n_out)[:, None] * stride - pad + np.arange(kernel)[None, :] * dilation
    return np.count_nonzero((o >= 0) & (o < n_in), axis=1)


def inside(n_out: int, n_in: int, kernel: int, stride: int, pad: int, dilation: int = 1) -> int:
    """Window taps along one axis, summed over the outputs, that fall inside the input."""
    return int(inside_each(n_out, n_in, kernel, stride, pad, dilation).sum())
