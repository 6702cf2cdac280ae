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

Traces follow the kernels' loops (kernels/portable, kernels/dsp); each op's module in
eenn.ops gives its own (OpKind.trace). The portable loops are the finer ones, so their
events bound both paths. The traces of a fused segment's calls, in the order the segment
runs them, give the limits between the segment's inputs and outputs (eenn.codegen.fusion).
"""

import numpy as np

from .. import ops
from ..errors import EennError
from ..ops._windows import NONE, Trace


def trace(call, first_row: int, end_row: int) -> "Trace | None":
    """The events of a kernel call (ops.KernelCall) computing output rows [first_row, end_row);
    None for a kernel without a model (it may not overlap anything)."""
    found = ops.of(call).trace(call, first_row, end_row)
    if found is None and call.rows is not None:
        raise EennError(f"no trace for kernel {call.function}")
    return found


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

