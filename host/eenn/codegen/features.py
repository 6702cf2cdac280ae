"""What each kernel call does, counted: the figures a kernel's cost is linear in.

FEATURES names them per kernel; `features(call)` computes them from a lowered call's
parameters (each op's module in eenn.ops knows its own), and `stage_kernels` lists them for a
stage (code.json keeps them, so a stage's cost on any CPU follows without regenerating it; see
eenn.costs.predict).
"""

from .. import ops

FEATURES = {kernel: kind.features for kernel, kind in ops.KERNELS.items()}  # C kernel -> the counts its cost is in


def features(call: ops.KernelCall) -> dict:
    """The counts FEATURES names for one kernel call."""
    return ops.of(call).count(call)


def stage_kernels(segments: list) -> list:
    """What a stage's cost depends on: each kernel call's function and features (for code.json);
    a fused segment calls each of its kernels once per step."""
    return [{"kernel": c.function, "features": {**features(c), "calls": seg.steps}}
            for seg in segments for c in seg.calls if c.function]
