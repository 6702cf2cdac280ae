"""The op registry: one module per TFLite op kind, each answering everything the tool asks
of it (eenn.ops._base.OpKind): the checks and refusals of lowering, the kernel call with its
typed parameters, MACs, the cost model's counts, the order of its reads and writes (how far
its output may overlap an input) and how it fuses.

Adding an op is adding a module here that lists its OpKind in OPS, its kernel(s) in
firmware_templates/kernels/ and its test (docs/adding-an-op.md). A module lists in VARIANTS
the OpKinds of kernels that its ops lower to in some cases only (ADD of shapes that
broadcast), reached through their calls' functions. Modules whose names start with "_" hold
what the op modules share.
"""

import importlib
import pkgutil

from ..errors import EennError
from ..tflite.ir import Graph, Op
from ._base import ConstArray, KernelCall, OpKind, OpView, Params, Refusal, refuse


def _discover() -> "tuple[dict, list]":
    found, variants = {}, []
    for module in pkgutil.iter_modules(__path__):
        if module.name.startswith("_"):
            continue
        loaded = importlib.import_module(f"{__name__}.{module.name}")
        for kind in loaded.OPS:
            if kind.kind in found:
                raise EennError(f"op {kind.kind} is defined twice (eenn.ops.{module.name})")
            found[kind.kind] = kind
        variants += getattr(loaded, "VARIANTS", ())
    return dict(sorted(found.items())), variants


OPS, VARIANTS = _discover()  # TFLite builtin name -> OpKind; the kernels some ops lower to in some cases
KERNELS = {k.function: k for k in [*OPS.values(), *VARIANTS] if k.function}  # C kernel -> OpKind


def lower(graph: Graph, stage: int) -> list:
    """The kernel calls of one stage, in order; raises Refusal on the first op the kernels do not handle."""
    calls = []
    for op in graph.ops:
        if op.kind not in OPS:
            refuse(graph, op, stage, f"no kernel for this op (supported: {', '.join(OPS)})")
        calls.append(OPS[op.kind].lower(OpView(graph, op, stage)))
    return calls


def macs(graph: Graph, op: Op) -> int:
    """Multiply-accumulates of one op (0 for an op eenn has no module for: lowering refuses it)."""
    kind = OPS.get(op.kind)
    return kind.macs(op, graph) if kind else 0


def of(call: KernelCall) -> OpKind:
    """The op kind of a lowered call: its kernel's, or for a call without one, its op's."""
    return KERNELS[call.function] if call.function else OPS[call.op.kind]


__all__ = ["ConstArray", "KernelCall", "KERNELS", "OPS", "OpKind", "OpView", "Params", "Refusal", "VARIANTS", "lower",
           "macs", "of"]
