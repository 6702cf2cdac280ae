"""Fused segments (eenn.codegen.fusion): a row-level replay of each schedule checks that every row a
call reads is in its buffer when read, ring buffers included, and that every call ends
with all its rows. The generated C of fused segments runs against TFLM in
tests/test_codegen.py (the MLPerf Tiny zoo models fuse)."""

import numpy as np
from hypothesis import given, settings, strategies as st

from eenn import ops
from eenn.codegen import fusion
from eenn.ops.add import AddParams, AddQuantization
from eenn.ops.conv2d import ConvParams
from eenn.tflite import ir


def _tensor(i, h, w=4, c=2):
    return ir.Tensor(i, f"t{i}", (1, h, w, c), np.dtype(np.int8), None, None)


def _window_call(op, inputs, output, in_h, out_h, k, stride, pad, kind="eenn_depthwise_conv2d"):
    params = ConvParams(in_h, 4, 2, out_h, 4, 2, in_h, out_h, k, 1, stride, 1, 1, 1, pad, 0, 1, 0, 0, -128, 127,
                        None, None, None)
    return ops.KernelCall(op, kind, "eenn_conv_params", params, inputs, output, rows=out_h)


def _add_call(op, inputs, output, h):
    params = AddParams(8, h, h, h, AddQuantization(*[0] * 12))
    return ops.KernelCall(op, "eenn_add", "eenn_add_params", params, inputs, output, rows=h)


def _reads(call, row):
    """The input rows (per input tensor) output row `row` reads, from the params alone."""
    p = call.params
    if isinstance(p, AddParams):
        return {t: {row} for t in call.inputs}
    taps = {row * p.stride_h - p.pad_h + k for k in range(p.k_h)}
    return {call.inputs[0]: {y for y in taps if 0 <= y < p.in_h}}


def _buffer_rows(call, tensor, heights):
    inputs, output = ops.of(call).row_params
    if tensor == call.output:
        return getattr(call.params, output)
    return getattr(call.params, inputs[list(call.inputs).index(tensor)])


def _replay(seg, heights, inputs):
    """Run the schedule on rows: each buffer slot holds the row last written there."""
    slots = {t: {y: y for y in range(heights[t])} for t in inputs}  # whole inputs, written before
    for t in range(seg.steps):
        for call, ends in zip(seg.calls, seg.ends):
            for row in range(ends[t], ends[t + 1]):
                for tensor, rows in _reads(call, row).items():
                    held = _buffer_rows(call, tensor, heights)
                    for y in rows:
                        assert slots.get(tensor, {}).get(y % held) == y, (tensor, y, held, t)
                held = _buffer_rows(call, call.output, heights)
                slots.setdefault(call.output, {})[row % held] = row
    for call, ends in zip(seg.calls, seg.ends):
        assert ends[0] == 0 and ends[-1] == call.rows and list(ends) == sorted(ends)


@st.composite
def chains(draw):
    """A chain of windowed ops (random kernel, stride, padding), sometimes closed by an ADD
    of its input and its output (a residual block)."""
    n = draw(st.integers(2, 4))
    heights = [draw(st.integers(4, 12))]
    calls, tensors = [], [_tensor(0, heights[0])]
    for i in range(n):
        k, stride = draw(st.integers(1, 3)), draw(st.integers(1, 2))
        pad = draw(st.integers(0, k - 1))
        out_h = (heights[-1] + 2 * pad - k) // stride + 1
        if out_h < 1:
            break
        op = ir.Op(i, "DEPTHWISE_CONV_2D", (i,), (i + 1,), {})
        calls.append(_window_call(op, (i,), i + 1, heights[-1], out_h, k, stride, pad))
        heights.append(out_h)
        tensors.append(_tensor(i + 1, out_h))
    if len(calls) >= 2 and heights[-1] == heights[0] and draw(st.booleans()):
        j = len(calls)
        op = ir.Op(j, "ADD", (0, j), (j + 1,), {})
        calls.append(_add_call(op, (0, j), j + 1, heights[0]))
        tensors.append(_tensor(j + 1, heights[0]))
    graph = ir.Graph("g", tuple(tensors), tuple(c.op for c in calls), (0,), (len(tensors) - 1,))
    return graph, calls


@settings(max_examples=200, deadline=None)
@given(chains())
def test_every_row_read_is_in_its_buffer(chain):
    graph, calls = chain
    if not fusion.fusable(calls):
        return
    seg = fusion.segment(calls, graph)
    heights = {t.index: t.shape[1] for t in graph.tensors}
    _replay(seg, heights, graph.inputs)
    for t, rows in seg.rings:
        assert 1 <= rows < heights[t]


def test_residual_block_holds_a_few_rows():
    h = 16
    tensors = [_tensor(i, h) for i in range(4)]
    ops = [ir.Op(0, "CONV_2D", (0,), (1,), {}), ir.Op(1, "CONV_2D", (1,), (2,), {}), ir.Op(2, "ADD", (0, 2), (3,), {})]
    calls = [_window_call(ops[0], (0,), 1, h, h, 3, 1, 1), _window_call(ops[1], (1,), 2, h, h, 3, 1, 1),
             _add_call(ops[2], (0, 2), 3, h)]
    graph = ir.Graph("g", tuple(tensors), tuple(ops), (0,), (3,))
    seg = fusion.segment(calls, graph)
    assert seg.steps == h
    assert dict(seg.rings) == {1: 3, 2: 1}  # a 3-row window, then an ADD reading the row just made
    _replay(seg, {t.index: h for t in tensors}, (0,))
    # the block's output row t goes where its input row t was: the window has read it already
    (limit,) = [lim for source, output, lim in fusion.overlaps(seg, graph) if (source, output) == (0, 3)]
    assert limit == 0
