"""What each kernel call does, counted: the figures a kernel's cost is linear in.

FEATURES names them per kernel; `features(call)` computes them from a lowered call's
parameters, and `stage_kernels` lists them for a stage (code.json keeps them, so a
stage's cost on any CPU follows without regenerating it; see eenn.costs).
"""

import numpy as np

from . import lowering
from .errors import EennError

WINDOW = ("calls", "macs", "inside", "taps", "outputs", "positions")
POOL = ("calls", "reads", "outputs", "positions")
FEATURES = {
    "eenn_conv2d": WINDOW,
    "eenn_depthwise_conv2d": WINDOW,
    "eenn_fully_connected": ("calls", "macs", "outputs"),
    "eenn_max_pool2d": POOL,
    "eenn_average_pool2d": POOL,
    "eenn_mean": ("calls", "reads", "outputs"),
    "eenn_add": ("calls", "outputs"),
    "eenn_softmax": ("calls", "outputs", "rows"),
}


def _inside(n_out: int, n_in: int, kernel: int, stride: int, pad: int, dilation: int = 1) -> int:
    """Window taps along one axis, summed over the outputs, that fall inside the input."""
    o = np.arange(n_out)[:, None] * stride - pad + np.arange(kernel)[None, :] * dilation
    return int(np.count_nonzero((o >= 0) & (o < n_in)))


def features(call: lowering.KernelCall) -> dict:
    """The counts FEATURES names for one kernel call."""
    p, f = call.params, call.function
    if f in ("eenn_conv2d", "eenn_depthwise_conv2d"):
        positions = p["out_h"] * p["out_w"]
        inside = (_inside(p["out_h"], p["in_h"], p["k_h"], p["stride_h"], p["pad_h"], p["dilation_h"])
                  * _inside(p["out_w"], p["in_w"], p["k_w"], p["stride_w"], p["pad_w"], p["dilation_w"]))
        depth = 1 if f == "eenn_depthwise_conv2d" else p["in_c"]
        return {"calls": 1, "macs": inside * depth * p["out_c"], "inside": inside * p["out_c"],
                "taps": positions * p["k_h"] * p["k_w"] * p["out_c"], "outputs": positions * p["out_c"],
                "positions": positions}
    if f == "eenn_fully_connected":
        return {"calls": 1, "macs": p["in_n"] * p["out_n"], "outputs": p["out_n"]}
    if f in ("eenn_max_pool2d", "eenn_average_pool2d"):
        inside = (_inside(p["out_h"], p["in_h"], p["k_h"], p["stride_h"], p["pad_h"])
                  * _inside(p["out_w"], p["in_w"], p["k_w"], p["stride_w"], p["pad_w"]))
        positions = p["out_h"] * p["out_w"]
        return {"calls": 1, "reads": inside * p["channels"], "outputs": positions * p["channels"],
                "positions": positions}
    if f == "eenn_mean":
        return {"calls": 1, "reads": p["count"] * p["channels"], "outputs": p["channels"]}
    if f == "eenn_add":
        return {"calls": 1, "outputs": p["size"]}
    if f == "eenn_softmax":
        return {"calls": 1, "outputs": p["rows"] * p["depth"], "rows": p["rows"]}
    raise EennError(f"the cost model has no figures for kernel {f}")


def stage_kernels(calls: list) -> list:
    """What a stage's cost depends on: each kernel call's function and features (for code.json)."""
    return [{"kernel": c.function, "features": features(c)} for c in calls if c.function]
