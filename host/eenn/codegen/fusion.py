"""Fused segments: consecutive ops run row by row, interleaved, so that a tensor passed
between them needs a ring buffer of a few rows instead of a whole buffer.

A stage's kernel calls are cut into segments. A segment of one call runs it whole. A
segment of several calls runs in steps, driven by its last call: at each step the last
call computes its next rows, and every call before it first computes the rows its
consumers need for that (a window's input rows; the same rows for ADD and MEAN). A tensor
made and used only inside the segment lives in a ring buffer that holds the rows still to
be read; the kernels find row y at y % rows (eenn_kernels.h). The segment's other inputs
and outputs are whole tensors; the order of its calls' reads and writes (overlap.trace)
gives how far an output may overlap an input that dies in the segment: a residual block
fused with its ADD writes its output over its input, row by row.

`arena_plan` picks the segments: starting from one call each, it fuses the run of calls
around the arena's peak that lowers the arena most, as long as one does.
"""

from dataclasses import dataclass, replace

from .. import ops
from . import memory, overlap

MAX_FUSED = 4  # calls in a segment the search tries


@dataclass(frozen=True)
class Segment:
    calls: tuple  # ops.KernelCall, in order, with their buffers' rows set
    ends: tuple  # per call, the rows it has computed after each step, from 0; () for a call without rows
    rings: tuple  # (tensor, rows its ring buffer holds), for the tensors between the calls

    @property
    def steps(self) -> int:
        return len(self.ends[0]) - 1 if self.ends[0] else 1


def alone(call) -> Segment:
    """The segment of one call, run whole."""
    return Segment((call,), ((0, call.rows),) if call.rows is not None else ((),), ())


def fusable(calls: list) -> bool:
    """Whether consecutive calls can run as one segment: each runs row by row, one that ends a
    segment (MEAN) only last, and each but the last feeds a later one."""
    if len(calls) < 2 or any(ops.of(c).row_params is None for c in calls):
        return False
    if any(ops.of(c).ends_segment for c in calls[:-1]):
        return False
    return all(any(c.output in d.inputs for d in calls[i + 1:]) for i, c in enumerate(calls[:-1]))


def segment(calls: list, graph) -> Segment:
    """The segment running `calls` (consecutive calls of `graph`'s stage; one, or fusable)."""
    if len(calls) == 1:
        return alone(calls[0])
    n = len(calls)
    consumers = [[(j, d) for j, d in enumerate(calls) if j > i and c.output in d.inputs] for i, c in enumerate(calls)]
    firsts = [ops.of(c).input_rows(c, True) for c in calls]
    ends_of = [ops.of(c).input_rows(c, False) for c in calls]

    def needed_end(j, done):  # input rows call j has read after computing `done` rows
        return int(ends_of[j][done - 1]) if done else 0

    per_step = max(ops.of(c).rows_per_step(c) for c in calls)
    last_rows = calls[-1].rows
    ends = [[0] for _ in calls]
    for t in range(-(-last_rows // per_step)):
        need = [0] * n
        need[-1] = min(last_rows, (t + 1) * per_step)
        for i in range(n - 2, -1, -1):
            need[i] = max([ends[i][-1]] + [needed_end(j, need[j]) for j, _ in consumers[i]])
        for i in range(n):
            ends[i].append(need[i])
    for i, c in enumerate(calls):
        ends[i][-1] = c.rows

    inside = {c.op.index for c in calls}
    rings = {}
    for i, c in enumerate(calls):
        if c.output in graph.outputs or any(c.output in op.inputs for op in graph.ops if op.index not in inside):
            continue  # read after the segment: a whole tensor
        held = 1
        for t in range(len(ends[i]) - 1):
            oldest = min((int(firsts[j][ends[j][t]]) for j, _ in consumers[i] if ends[j][t] < calls[j].rows),
                         default=ends[i][t + 1])
            held = max(held, ends[i][t + 1] - oldest)
        if held < c.rows:
            rings[c.output] = held
    calls = [_with_rings(c, rings) for c in calls]
    return Segment(tuple(calls), tuple(tuple(e) for e in ends), tuple(sorted(rings.items())))


def _with_rings(call, rings: dict):
    inputs, output = ops.of(call).row_params
    rows = {name: rings[t] for name, t in zip(inputs, call.inputs) if t in rings}
    if output and call.output in rings:
        rows[output] = rings[call.output]
    return replace(call, params=replace(call.params, **rows))


def traces(seg: Segment) -> list:
    """The segment's calls' traces (overlap.trace), in the order it runs them."""
    if len(seg.calls) == 1:
        c = seg.calls[0]
        return [overlap.trace(c, 0, c.rows if c.rows is not None else 0)]  # a call without rows: one whole call
    return [overlap.trace(c, e[t], e[t + 1]) for t in range(seg.steps) for c, e in zip(seg.calls, seg.ends)
            if e[t + 1] > e[t]]


def overlaps(seg: Segment, graph) -> list:
    """(input, output, limit) for the segment's whole inputs and outputs."""
    made = {c.output for c in seg.calls}
    ring = {t for t, _ in seg.rings}
    sources = [t for c in seg.calls for t in c.inputs if t not in made and not graph.tensors[t].is_constant]
    outputs = [c.output for c in seg.calls if c.output not in ring]
    run = traces(seg)
    found = []
    for source in dict.fromkeys(sources):
        for output in outputs:
            limit = overlap.limit(run, source, output, graph.tensors[source].nbytes)
            if limit is not None:
                found.append((source, output, limit))
    return found


def schedule(graph, calls: list, fused: tuple = ()) -> list:
    """The stage's segments: the runs of calls `fused` names ((first, last) op indices) fused,
    every other call alone."""
    segments, i = [], 0
    starts = dict(fused)
    while i < len(calls):
        last = starts.get(calls[i].op.index, calls[i].op.index)
        run = [c for c in calls[i:] if c.op.index <= last]
        segments.append(segment(run, graph))
        i += len(run)
    return segments


def plan(graphs: list, schedules: list, improve: bool = True) -> memory.Plan:
    """The memory plan of the stages' schedules (one list of segments per stage)."""
    steps, sizes, scratch, pairs = {}, {}, {}, []
    for k, (graph, segments) in enumerate(zip(graphs, schedules)):
        for s, seg in enumerate(segments):
            for c in seg.calls:
                steps[(k, c.op.index)] = s
                if c.scratch_bytes:
                    scratch[(k, c.op.index)] = c.scratch_bytes
            for t, rows in seg.rings:
                sizes[(k, t)] = graph.tensors[t].nbytes // graph.tensors[t].shape[1] * rows
            pairs += [(k, *o) for o in overlaps(seg, graph)]
    return memory.plan(graphs, scratch, pairs, steps, sizes, improve)


def arena_plan(graphs: list, calls: list) -> tuple:
    """Segments for each stage and their memory plan: fuse, one run of calls at a time, the
    run around the arena's peak that lowers the arena most (the shortest of equals)."""
    fused = [[] for _ in graphs]

    def schedules(runs):
        return [schedule(g, c, tuple(r)) for g, c, r in zip(graphs, calls, runs)]

    best = plan(graphs, schedules(fused), improve=False)
    while True:
        options = []
        for k, first, last in _candidates(graphs, calls, fused, best):
            trial = [runs + [(first, last)] if i == k else runs for i, runs in enumerate(fused)]
            options.append((plan(graphs, schedules(trial), improve=False).arena_bytes, last - first, k, first, last))
        if not options or min(options)[0] >= best.arena_bytes:
            break
        *_, k, first, last = min(options)  # the lowest arena, then the shortest run
        fused[k].append((first, last))
        best = plan(graphs, schedules(fused), improve=False)
    # the refined packing (improve=True) of the unfused stages may find as much room
    choices = [schedules(runs) for runs in ([[] for _ in graphs], fused)]
    plans = [plan(graphs, s) for s in choices]
    chosen = 0 if plans[0].arena_bytes <= plans[1].arena_bytes else 1
    return choices[chosen], plans[chosen]


def _candidates(graphs, calls, fused, current: memory.Plan) -> list:
    """Runs of up to MAX_FUSED calls, none fused yet, that contain a call at the arena's peak."""
    peak = {(k, op) for k, op in current.peak_ops}
    found = []
    for k, (graph, stage_calls) in enumerate(zip(graphs, calls)):
        taken = {i for first, last in fused[k] for i in range(first, last + 1)}
        for i in range(len(stage_calls)):
            for j in range(i + 2, min(i + MAX_FUSED, len(stage_calls)) + 1):
                run = stage_calls[i:j]
                indices = {c.op.index for c in run}
                if indices & taken or not any((k, x) in peak for x in indices) or not fusable(run):
                    continue
                found.append((k, run[0].op.index, run[-1].op.index))
    return found
