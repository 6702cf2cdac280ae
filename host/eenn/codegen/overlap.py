"""How far an output may overlap an input that dies while it is written.

A kernel reads its inputs and writes its output in increasing positions, so an output
placed at or before an input can overwrite bytes already read and never read again. A
kernel call's order is a trace of events: at each event the kernel reads input bytes from
some byte on (`reads`, per input tensor), then has written its output up to some byte
(`writes`). With the output at `out` and the input at `in`, no write overwrites an unread
byte if out + w <= in + r for every write w and every read r after it: out - in <= the
minimum of r - w, the overlap limit. A negative limit puts the output that many bytes
before its input; the planner (memory.plan) places the output at or below input + limit,
or clear of the input.

Traces follow the kernels' loops (kernels/portable, kernels/dsp): a convolution reads the
windows of an output position (the DSP path two) before writing its channels; a depthwise
convolution or a pooling reads one channel of a window (the DSP path four) before writing
it; ADD reads element i of both inputs before writing element i; MEAN reads rows and
writes its output with the last one. The portable loops are the finer ones, so their
events bound both paths. The traces of a fused segment's calls, in the order the segment
runs them, give the limits between the segment's inputs and outputs (eenn.codegen.fusion).
"""

from dataclasses import dataclass

import numpy as np

from ..errors import EennError

NONE = np.iinfo(np.int64).max  # a read of nothing, or no write


@dataclass(frozen=True)
class Trace:
    reads: dict  # input tensor -> per event, the first byte read (NONE: not read)
    writes: dict  # output tensor -> per event, the bytes written so far (NONE: not written)


def _first_inside(origin: np.ndarray, k: int, dilation: int, n: int) -> np.ndarray:
    """The first coordinate of each window (origin, k taps, dilation) inside [0, n); -1 if none."""
    first_tap = np.maximum(0, -(origin // dilation))  # ceil(-origin / dilation) for origin < 0
    first = origin + first_tap * dilation
    return np.where((first_tap < k) & (first < n), first, -1)


def window_starts(p: dict, channels: int, first_row: int, end_row: int) -> np.ndarray:
    """The first input byte the window of each output position of rows [first_row, end_row)
    reads (row-major); NONE for a window wholly in the padding."""
    oy, ox = np.meshgrid(np.arange(first_row, end_row), np.arange(p["out_w"]), indexing="ij")
    y = _first_inside(oy.ravel() * p["stride_h"] - p["pad_h"], p["k_h"], p.get("dilation_h", 1), p["in_h"])
    x = _first_inside(ox.ravel() * p["stride_w"] - p["pad_w"], p["k_w"], p.get("dilation_w", 1), p["in_w"])
    starts = (y.astype(np.int64) * p["in_w"] + x) * channels
    return np.where((y < 0) | (x < 0), NONE, starts)


def trace(call, first_row: int, end_row: int) -> "Trace | None":
    """The events of a kernel call (lowering.KernelCall) computing output rows [first_row,
    end_row); None for a kernel without a model (it may not overlap anything)."""
    p, f = call.params, call.function
    if f == "eenn_conv2d":
        starts = window_starts(p, p["in_c"], first_row, end_row)
        positions = np.arange(first_row * p["out_w"], end_row * p["out_w"]) + 1
        return Trace({call.inputs[0]: starts}, {call.output: positions * p["out_c"]})
    if f in ("eenn_depthwise_conv2d", "eenn_max_pool2d", "eenn_average_pool2d"):
        in_c = p.get("in_c", p.get("channels"))
        out_c = p.get("out_c", in_c)
        starts = window_starts(p, in_c, first_row, end_row)[:, None]
        channel = np.arange(out_c)[None, :]
        reads = np.where(starts == NONE, NONE, starts + channel * in_c // out_c)
        positions = np.arange(first_row * p["out_w"], end_row * p["out_w"])[:, None]
        return Trace({call.inputs[0]: reads.ravel()}, {call.output: (positions * out_c + channel + 1).ravel()})
    if f == "eenn_add":
        elements = np.arange(first_row * p["row_size"], end_row * p["row_size"])
        reads = {t: elements for t in call.inputs}
        return Trace(reads, {call.output: elements + 1})
    if f == "eenn_mean":
        row_size = p["count"] // p["rows"] * p["channels"]
        rows = np.arange(first_row, end_row)
        last = np.where(rows == p["rows"] - 1, p["channels"], NONE)
        return Trace({call.inputs[0]: rows * row_size}, {call.output: last})
    if call.rows is not None:
        raise EennError(f"no trace for kernel {f}")
    return None


def limit(traces: list, source: int, output: int, source_bytes: int) -> "int | None":
    """The overlap limit of `output` over `source` (tensor indices) along the traces, in
    order; None if a call without a trace reads the source or writes the output."""
    if any(t is None for t in traces):
        return None
    events = sum(len(next(iter(t.writes.values()))) for t in traces)
    reads = np.full(events, NONE, dtype=np.int64)
    writes = np.full(events, NONE, dtype=np.int64)
    at = 0
    for t in traces:
        n = len(next(iter(t.writes.values())))
        if source in t.reads:
            reads[at:at + n] = t.reads[source]
        if output in t.writes:
            writes[at:at + n] = t.writes[output]
        at += n
    later = np.append(np.minimum.accumulate(reads[::-1])[::-1][1:], NONE)
    constrained = (writes != NONE) & (later != NONE)
    slack = later[constrained] - writes[constrained]
    return int(min(slack.min(initial=source_bytes), source_bytes))

