"""Overlap limits (eenn.codegen.overlap) against a brute-force trace of the portable kernels' loops:
every input byte read and every output byte written, in order. The kernels themselves run
with their output at the limit in tests/test_kernels.py."""

from dataclasses import fields

from hypothesis import given, settings, strategies as st

from eenn import ops
from eenn.codegen import overlap
from eenn.ops.conv2d import ConvParams


def _call_limit(function, p):
    """The limit the generator computes for a convolution of geometry `p` (the other fields 0)."""
    params = ConvParams(**{f.name: p.get(f.name, 0) for f in fields(ConvParams)})
    call = ops.KernelCall(None, function, "eenn_conv_params", params, (0,), 1, rows=p["out_h"])
    return overlap.limit([overlap.trace(call, 0, p["out_h"])], 0, 1, p["in_h"] * p["in_w"] * p["in_c"])


def convolution(p):
    return _call_limit("eenn_conv2d", p)


def channelwise(p):
    return _call_limit("eenn_depthwise_conv2d", p)


def _window(p, oy, ox, channels):
    """Input byte offsets of channel 0 of each tap of the window at (oy, ox) inside the input."""
    taps = []
    for ky in range(p["k_h"]):
        y = oy * p["stride_h"] - p["pad_h"] + ky * p["dilation_h"]
        for kx in range(p["k_w"]):
            x = ox * p["stride_w"] - p["pad_w"] + kx * p["dilation_w"]
            if 0 <= y < p["in_h"] and 0 <= x < p["in_w"]:
                taps.append((y * p["in_w"] + x) * channels)
    return taps


def _limit(events, input_bytes):
    """events: ("read", byte) and ("write", end of the output written so far), in order."""
    limit = input_bytes
    for i, (kind, written) in enumerate(events):
        if kind == "write":
            later = [b for k, b in events[i + 1:] if k == "read"]
            if later:
                limit = min(limit, min(later) - written)
    return limit


def _convolution_trace(p):
    events = []
    for oy in range(p["out_h"]):
        for ox in range(p["out_w"]):
            events += [("read", t + c) for t in _window(p, oy, ox, p["in_c"]) for c in range(p["in_c"])]
            events.append(("write", (oy * p["out_w"] + ox + 1) * p["out_c"]))
    return events


def _channelwise_trace(p):
    events, multiplier = [], p["out_c"] // p["in_c"]
    for oy in range(p["out_h"]):
        for ox in range(p["out_w"]):
            for oc in range(p["out_c"]):
                events += [("read", t + oc // multiplier) for t in _window(p, oy, ox, p["in_c"])]
                events.append(("write", (oy * p["out_w"] + ox) * p["out_c"] + oc + 1))
    return events


@st.composite
def windowed(draw):
    k_h, k_w = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    s_h, s_w, d_h, d_w = (draw(st.integers(1, 3)) for _ in range(4))
    in_h, in_w = draw(st.integers(1, 7)), draw(st.integers(1, 7))
    pad_h, pad_w = draw(st.integers(0, k_h - 1)), draw(st.integers(0, k_w - 1))
    out_h = max(1, (in_h + 2 * pad_h - d_h * (k_h - 1) - 1) // s_h + 1)
    out_w = max(1, (in_w + 2 * pad_w - d_w * (k_w - 1) - 1) // s_w + 1)
    in_c = draw(st.integers(1, 6))
    return dict(in_h=in_h, in_w=in_w, in_c=in_c, out_h=out_h, out_w=out_w, out_c=draw(st.integers(1, 3)) * in_c,
                k_h=k_h, k_w=k_w, stride_h=s_h, stride_w=s_w, dilation_h=d_h, dilation_w=d_w, pad_h=pad_h, pad_w=pad_w)


@settings(max_examples=150, deadline=None)
@given(windowed())
def test_convolution_limit_is_the_trace_minimum(p):
    assert convolution(p) == _limit(_convolution_trace(p), p["in_h"] * p["in_w"] * p["in_c"])


@settings(max_examples=150, deadline=None)
@given(windowed())
def test_channelwise_limit_is_the_trace_minimum(p):
    expected = _limit(_channelwise_trace(p), p["in_h"] * p["in_w"] * p["in_c"])
    assert channelwise(p) == expected


def _conv(h, w, in_c, out_c, k, stride=1, pad=None):
    pad = k // 2 if pad is None else pad
    out = (h + 2 * pad - k) // stride + 1
    return dict(in_h=h, in_w=w, in_c=in_c, out_h=out, out_w=(w + 2 * pad - k) // stride + 1, out_c=out_c,
                k_h=k, k_w=k, stride_h=stride, stride_w=stride, dilation_h=1, dilation_w=1, pad_h=pad, pad_w=pad)


def test_known_limits():
    # a 3x3 'same' convolution needs the row above and the pixel before: one row and one pixel back
    assert convolution(_conv(32, 32, 16, 16, 3)) == -(32 + 1) * 16
    # a 1x1 convolution that does not widen writes behind what it reads: fully in place
    assert convolution(_conv(5, 5, 16, 8, 1)) >= 0
    # one that widens 8 -> 16 channels runs ahead by 8 bytes per position but the last
    assert convolution(_conv(4, 4, 8, 16, 1)) == -15 * 8
    # in-place depthwise: stride 2 halves the rows, so the output trails the input
    assert channelwise(_conv(8, 8, 4, 4, 3, stride=2, pad=0)) >= 0
    assert channelwise(_conv(8, 8, 4, 4, 3)) == -(8 + 1) * 4
