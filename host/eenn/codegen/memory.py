"""Static memory plan for all stages: one arena, offsets from tensor lifetimes.

Ops of all stages are numbered on one timeline. A value is a buffer that one or more
tensors share: a stage's boundary output and the next stage's input are one value (no
copy between stages), and a RESHAPE's output is its input's value. A value lives from the
op that writes it to the last op that reads it; a stage's outputs live to the end of that
stage, where the exit decision reads them. An op's scratch buffer is a value that lives
for that op alone; its key is the negative "tensor index" -1 - op index. Values whose
lifetimes overlap never share bytes, with one exception: an op's output may overlap an
input that dies at the op, as far as the kernel's overlap limit allows (overlap.py): an
in-place depthwise convolution or ADD, a convolution writing over the rows it has read.
Values are packed greedily at the lowest offset that fits, in a few orders (largest
first, first used first, ...); the smallest arena wins.
"""

from dataclasses import dataclass
from pathlib import Path

from .. import ops

ALIGNMENT = 16


@dataclass(frozen=True)
class Value:
    tensors: tuple  # (stage, tensor index) pairs sharing this buffer
    size: int
    first: int  # first and last step on the global timeline, inclusive
    last: int
    offset: int


@dataclass(frozen=True)
class Plan:
    values: tuple
    arena_bytes: int
    peak_step: int  # the step with the largest live set
    peak_bytes: int  # bytes live at that step, less what overlaps may share: a lower bound for any plan
    overlaps: tuple = ()  # (input tensors, output tensors, overlap limit) of the values that may overlap
    peak_ops: tuple = ()  # (stage, op index) of the ops at the steps that use the whole arena or live the most

    def offset(self, stage: int, tensor: int) -> int:
        """Arena offset of `tensor` of stage `stage`."""
        return next(v.offset for v in self.values if (stage, tensor) in v.tensors)

    def scratch_offset(self, stage: int, op: int) -> int:
        """Arena offset of the scratch buffer of op `op` of stage `stage`."""
        return self.offset(stage, scratch_key(op))


def scratch_key(op: int) -> int:
    return -1 - op


class _UnionFind:
    def __init__(self):
        self.parent = {}

    def find(self, x):
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a, b):
        self.parent[self.find(a)] = self.find(b)


def _aligned(n: int) -> int:
    return -(-n // ALIGNMENT) * ALIGNMENT


def plan(graphs: list, scratch: "dict | None" = None, overlaps=(), steps: "dict | None" = None,
         sizes: "dict | None" = None, improve: bool = True) -> Plan:
    """Plan the activations of the stage graphs (ir.Graph, in order) in one arena.

    scratch: (stage, op index) -> bytes of the op's scratch buffer (none if omitted).
    overlaps: (stage, input tensor, output tensor, overlap limit) under which the output may
    overlap the input if the input dies where the output is first written (overlap.py).
    steps: (stage, op index) -> the op's step within its stage (ops of one fused segment
    share a step); by default each op is a step. sizes: (stage, tensor) -> bytes, for
    tensors held in fewer bytes than their shape's (ring buffers). improve: refine the
    packing (slower; see _best_packing)."""
    scratch, steps, sizes = scratch or {}, steps or {}, sizes or {}
    uf = _UnionFind()
    first, last, size = {}, {}, {}
    op_steps = {}
    step = 0

    def touch(key, at):
        first[key] = min(first.get(key, at), at)
        last[key] = max(last.get(key, at), at)

    for k, g in enumerate(graphs):
        start = step
        local = [steps.get((k, op.index), op.index) for op in g.ops]
        order = {s: i for i, s in enumerate(sorted(set(local)))}
        for t in g.inputs:
            touch((k, t), start)
        for op, s in zip(g.ops, local):
            at = start + order[s]
            op_steps[(k, op.index)] = at
            for t in op.inputs:
                if t >= 0 and not g.tensors[t].is_constant:
                    touch((k, t), at)
            for t in op.outputs:
                touch((k, t), at)
            if ops.OPS[op.kind].aliases_input:
                uf.union((k, op.outputs[0]), (k, op.inputs[0]))
            if scratch.get((k, op.index)):
                touch((k, scratch_key(op.index)), at)
                size[(k, scratch_key(op.index))] = scratch[(k, op.index)]
        step = start + len(order)
        for t in g.outputs:
            touch((k, t), step - 1)
        for key in [(k, t) for t in set(g.inputs) | {t for op in g.ops for t in op.outputs}]:
            size[key] = sizes.get(key, g.tensors[key[1]].nbytes)
        if k:
            prev = graphs[k - 1]
            uf.union((k, g.inputs[0]), (k - 1, prev.outputs[-1]))

    groups = {}
    for key in first:
        groups.setdefault(uf.find(key), []).append(key)
    spans = {root: _Span(tuple(sorted(keys)), max(size[x] for x in keys), min(first[x] for x in keys),
                         max(last[x] for x in keys)) for root, keys in groups.items()}
    limits = {}  # (input span, output span) -> overlap limit
    for k, tensor, written, limit in overlaps:
        source, output = spans[uf.find((k, tensor))], spans[uf.find((k, written))]
        if source is not output and source.last == output.first:
            limits[(source, output)] = min(limits.get((source, output), limit), limit)
    placed = _best_packing(list(spans.values()), limits, step, passes=3 if improve else 0)
    placed.sort(key=lambda v: (v.first, v.offset))
    live = [sum(v.size for v in placed if v.first <= s <= v.last) for s in range(step)]
    for source, output in limits:  # bytes an output may share with its input
        shared = source.size + output.size - max(output.size, source.size - min(limits[(source, output)], 0))
        live[source.last] -= max(shared, 0)
    peak_step = max(range(step), key=live.__getitem__) if step else 0
    tops = _tops(placed, step)
    arena = _aligned(_end(placed))
    at_the_top = tuple(key for key, at in op_steps.items() if _aligned(tops[at]) == arena or at == peak_step)
    return Plan(tuple(placed), arena, peak_step, live[peak_step] if step else 0,
                tuple((s.tensors, o.tensors, limit) for (s, o), limit in limits.items()), at_the_top)


@dataclass(frozen=True, eq=False)
class _Span:
    tensors: tuple
    size: int
    first: int
    last: int


def _orders(spans: list) -> list:
    """Orders to try packing in: largest first, then by first use, then by bytes x steps."""
    return [sorted(spans, key=lambda s: (-s.size, s.first, s.tensors)),
            sorted(spans, key=lambda s: (-s.size, -s.last, s.tensors)),
            sorted(spans, key=lambda s: (s.first, -s.size, s.tensors)),
            sorted(spans, key=lambda s: (-s.size * (s.last - s.first + 1), s.first, s.tensors)),
            sorted(spans, key=lambda s: (-s.last, -s.size, s.tensors))]


def _end(values: list) -> int:
    return max((v.offset + v.size for v in values), default=0)


def _tops(values: list, steps: int) -> list:
    """Per step, the end of the last byte in use."""
    tops = [0] * steps
    for v in values:
        for s in range(v.first, v.last + 1):
            tops[s] = max(tops[s], v.offset + v.size)
    return tops


def _cost(values: list, steps: int) -> tuple:
    """A packing's arena, then the sum over steps of the bytes below the last one in use."""
    return _end(values), sum(_tops(values, steps))


def _best_packing(spans: list, limits: dict, steps: int, passes: int = 3) -> list:
    """The best greedy packing from a few orders, then improved by moving one span at a time
    to the front of the order while that lowers the cost (_cost)."""
    scored = [(_cost(_pack(order, limits), steps), order) for order in _orders(spans)]
    best_cost, best_order = min(scored, key=lambda s: s[0])
    for _ in range(passes):
        improved = False
        for span in list(best_order):
            order = [span, *(s for s in best_order if s is not span)]
            cost = _cost(_pack(order, limits), steps)
            if cost < best_cost:
                best_cost, best_order, improved = cost, order, True
        if not improved:
            break
    return _pack(best_order, limits)


def _pack(order: list, limits: dict) -> list:
    """Each span at the lowest aligned offset clear of the placed spans it shares a step with,
    except where an overlap limit lets an output overlap its dying input."""
    placed = []  # (span, offset)
    for span in order:
        forbidden = []  # open intervals (lo, hi) the offset must not fall in
        for other, at in placed:
            if other.first > span.last or span.first > other.last:
                continue
            lo, hi = at - span.size, at + other.size
            if (other, span) in limits:  # span is the output of an op whose input `other` dies there
                lo = max(at + limits[(other, span)], lo)
            elif (span, other) in limits:  # span is the dying input of the op that writes `other`
                hi = min(at - limits[(span, other)], hi)
            if lo < hi:
                forbidden.append((lo, hi))
        offset = min(c for c in [0, *(_aligned(hi) for _, hi in forbidden if hi > 0)]
                     if all(c <= lo or c >= hi for lo, hi in forbidden))
        placed.append((span, offset))
    return [Value(s.tensors, s.size, s.first, s.last, offset) for s, offset in placed]


def plot(p: Plan, path: Path, title: str, stage_steps: list, tflm_bytes: int) -> None:
    """The plan as a picture: each value a box over its steps (x) and its bytes (y), scratch
    buffers hatched, the stages' bounds dashed, and TFLM's arena for the largest stage."""
    from matplotlib.patches import Rectangle

    from ..util import plots

    fig, ax = plots.figure(8, 4.5)
    for v in p.values:
        scratch = all(t < 0 for _, t in v.tensors)
        ax.add_patch(Rectangle((v.first, v.offset / 1024), v.last - v.first + 1, v.size / 1024,
                               facecolor="none" if scratch else "tab:blue", alpha=0.6, edgecolor="black",
                               linewidth=0.5, hatch="///" if scratch else None))
    steps = max((v.last + 1 for v in p.values), default=1)
    for bound in stage_steps[1:]:
        ax.axvline(bound, color="gray", linestyle="--", linewidth=0.8)
    ax.axhline(p.arena_bytes / 1024, color="tab:blue", label=f"arena: {p.arena_bytes:,} bytes")
    ax.axhline(tflm_bytes / 1024, color="tab:red", label=f"TFLM, largest stage alone: {tflm_bytes:,} bytes")
    ax.set_xlim(0, steps)
    ax.set_ylim(0, max(p.arena_bytes, tflm_bytes) / 1024 * 1.08)
    plots.save(fig, ax, path, title, "step (an op, or a fused segment; dashed: next stage)", "arena offset (KiB)",
               loc="upper right", fontsize="small")
