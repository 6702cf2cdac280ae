"""Static memory plan for all stages: one arena, offsets from tensor lifetimes.

Ops of all stages are numbered on one timeline. A value is a buffer that one or more
tensors share: a stage's boundary output and the next stage's input are one value (no
copy between stages), and a RESHAPE's output is its input's value. A value lives from the
op that writes it to the last op that reads it; a stage's outputs live to the end of that
stage, where the exit decision reads them. An op's scratch buffer is a value that lives
for that op alone; its key is the negative "tensor index" -1 - op index. Values whose
lifetimes overlap never share bytes; the rest are packed greedily, largest first, at the
lowest offset that fits.
"""

from dataclasses import dataclass

ALIGNMENT = 16
ALIASING_OPS = {"RESHAPE"}


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
    peak_bytes: int  # bytes live at that step: a lower bound for any plan

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


def plan(graphs: list, scratch: "dict | None" = None) -> Plan:
    """Plan the activations of the stage graphs (ir.Graph, in order) in one arena, with the
    scratch buffers `scratch` maps (stage, op index) to (their bytes; none if omitted)."""
    scratch = scratch or {}
    uf = _UnionFind()
    first, last, size = {}, {}, {}
    step = 0

    def touch(key, at):
        first[key] = min(first.get(key, at), at)
        last[key] = max(last.get(key, at), at)

    for k, g in enumerate(graphs):
        start = step
        for t in g.inputs:
            touch((k, t), start)
        for op in g.ops:
            for t in op.inputs:
                if t >= 0 and not g.tensors[t].is_constant:
                    touch((k, t), step)
            for t in op.outputs:
                touch((k, t), step)
            if op.kind in ALIASING_OPS:
                uf.union((k, op.outputs[0]), (k, op.inputs[0]))
            if scratch.get((k, op.index)):
                touch((k, scratch_key(op.index)), step)
                size[(k, scratch_key(op.index))] = scratch[(k, op.index)]
            step += 1
        for t in g.outputs:
            touch((k, t), step - 1)
        for key in [(k, t) for t in set(g.inputs) | {t for op in g.ops for t in op.outputs}]:
            size[key] = g.tensors[key[1]].nbytes
        if k:
            prev = graphs[k - 1]
            uf.union((k, g.inputs[0]), (k - 1, prev.outputs[-1]))

    groups = {}
    for key in first:
        groups.setdefault(uf.find(key), []).append(key)
    spans = [
        (tuple(sorted(keys)), max(size[x] for x in keys), min(first[x] for x in keys), max(last[x] for x in keys))
        for keys in groups.values()
    ]
    placed = []
    for tensors, nbytes, lo, hi in sorted(spans, key=lambda s: (-s[1], s[2], s[0])):
        offset = 0
        for other in sorted((p for p in placed if p.first <= hi and lo <= p.last), key=lambda p: p.offset):
            if offset + nbytes <= other.offset:
                break
            offset = max(offset, _aligned(other.offset + other.size))
        placed.append(Value(tensors, nbytes, lo, hi, offset))
    placed.sort(key=lambda v: (v.first, v.offset))
    live = [sum(v.size for v in placed if v.first <= s <= v.last) for s in range(step)]
    peak_step = max(range(step), key=live.__getitem__) if step else 0
    arena = _aligned(max((v.offset + v.size for v in placed), default=0))
    return Plan(tuple(placed), arena, peak_step, live[peak_step] if step else 0)
