"""What each kernel call does, counted: the figures a kernel's cost is linear in.

FEATURES names them per kernel; `features(call)` computes them from a lowered call's
parameters, and `stage_kernels` lists them for a stage (code.json keeps them, so a
stage's cost on any CPU follows without regenerating it; see eenn.costs.predict).
"""

import numpy as np

from ..errors import EennError
from . import lowering

POOL = ("calls", "reads", "outputs", "positions")
FEATURES = {
    # im2col columns (padded to n4 values), a dot product per output over all of them
    "eenn_conv2d": ("calls", "positions", "column_rows", "column_values", "macs", "padded_macs", "outputs"),
    # window clipped per position; channels in groups of four, the rest one by one
    "eenn_depthwise_conv2d": ("calls", "positions", "group_rows", "group_taps", "group_rows_of_three", "single_rows",
                              "single_taps", "multiplied_taps", "taps", "outputs"),
    # input widened once; rows four at a time, the rest in a pair or alone
    "eenn_fully_connected": ("calls", "groups", "macs", "padded_macs", "remainder_macs", "outputs"),
    "eenn_max_pool2d": POOL,
    "eenn_average_pool2d": POOL,
    "eenn_mean": ("calls", "rows", "positions", "reads", "outputs"),
    "eenn_add": ("calls", "rows", "outputs"),
    "eenn_softmax": ("calls", "outputs", "rows"),
}


def _inside_each(n_out: int, n_in: int, kernel: int, stride: int, pad: int, dilation: int = 1) -> np.ndarray:
    """Window taps along one axis that fall inside the input, per output."""
    o = np.arange(n_out)[:, None] * stride - pad + np.arange(kernel)[None, :] * dilation
    return np.count_nonzero((o >= 0) & (o < n_in), axis=1)


def _inside(n_out: int, n_in: int, kernel: int, stride: int, pad: int, dilation: int = 1) -> int:
    """Window taps along one axis, summed over the outputs, that fall inside the input."""
    return int(_inside_each(n_out, n_in, kernel, stride, pad, dilation).sum())


def features(call: lowering.KernelCall) -> dict:
    """The counts FEATURES names for one kernel call."""
    p, f = call.params, call.function
    if f == "eenn_conv2d":
        positions, n = p["out_h"] * p["out_w"], p["k_h"] * p["k_w"] * p["in_c"]
        padded = lowering.column_bytes(n)
        return {"calls": 1, "positions": positions, "column_rows": positions * p["k_h"],
                "column_values": positions * padded, "macs": positions * n * p["out_c"],
                "padded_macs": positions * padded * p["out_c"], "outputs": positions * p["out_c"]}
    if f == "eenn_depthwise_conv2d":
        rows = _inside(p["out_h"], p["in_h"], p["k_h"], p["stride_h"], p["pad_h"], p["dilation_h"])
        columns = _inside_each(p["out_w"], p["in_w"], p["k_w"], p["stride_w"], p["pad_w"], p["dilation_w"])
        positions = p["out_h"] * p["out_w"]
        groups = p["out_c"] // 4 if p["depth_multiplier"] == 1 else 0
        three = int(np.count_nonzero(columns == 3))  # positions whose rows take the unrolled three-tap path
        return {"calls": 1, "positions": positions, "group_rows": rows * p["out_w"] * groups,
                "group_taps": rows * int(columns[columns != 3].sum()) * groups,
                "group_rows_of_three": rows * three * groups,
                "single_rows": rows * p["out_w"] * (p["out_c"] - 4 * groups),
                "single_taps": rows * int(columns.sum()) * (p["out_c"] - 4 * groups),
                "multiplied_taps": rows * int(columns.sum()) * p["out_c"] * (p["depth_multiplier"] != 1),
                "taps": positions * p["k_h"] * p["k_w"] * p["out_c"], "outputs": positions * p["out_c"]}
    if f == "eenn_fully_connected":
        padded = lowering.column_bytes(p["in_n"])
        return {"calls": 1, "groups": padded // 4, "macs": p["in_n"] * p["out_n"], "padded_macs": padded * p["out_n"],
                "remainder_macs": padded * (p["out_n"] % 4), "outputs": p["out_n"]}
    if f in ("eenn_max_pool2d", "eenn_average_pool2d"):
        inside = (_inside(p["out_h"], p["in_h"], p["k_h"], p["stride_h"], p["pad_h"])
                  * _inside(p["out_w"], p["in_w"], p["k_w"], p["stride_w"], p["pad_w"]))
        positions = p["out_h"] * p["out_w"]
        return {"calls": 1, "reads": inside * p["channels"], "outputs": positions * p["channels"],
                "positions": positions}
    if f == "eenn_mean":
        return {"calls": 1, "rows": p["rows"], "positions": p["count"], "reads": p["count"] * p["channels"],
                "outputs": p["channels"]}
    if f == "eenn_add":
        return {"calls": 1, "rows": call.rows, "outputs": call.rows * p["row_size"]}
    if f == "eenn_softmax":
        return {"calls": 1, "outputs": p["rows"] * p["depth"], "rows": p["rows"]}
    raise EennError(f"the cost model has no figures for kernel {f}")


def stage_kernels(segments: list) -> list:
    """What a stage's cost depends on: each kernel call's function and features (for code.json);
    a fused segment calls each of its kernels once per step."""
    return [{"kernel": c.function, "features": {**features(c), "calls": seg.steps}}
            for seg in segments for c in seg.calls if c.function]
