import numpy as np
from hypothesis import given, settings, strategies as st

from eenn.codegen import memory
from eenn.tflite import ir


def _tensor(i, n, constant=False):
    return ir.Tensor(i, f"t{i}", (1, n), np.dtype(np.int8), None, np.zeros((1, n), np.int8) if constant else None)


def _chain(sizes, kinds=None):
    """A graph t0 -> op0 -> t1 -> op1 -> ... ; each op also reads one constant."""
    kinds = kinds or ["CONV_2D"] * (len(sizes) - 1)
    n = len(sizes)
    tensors = [_tensor(i, s) for i, s in enumerate(sizes)] + [_tensor(n + i, 4, True) for i in range(n - 1)]
    ops = [ir.Op(i, kinds[i], (i, n + i), (i + 1,), {}) for i in range(n - 1)]
    return ir.Graph("g", tuple(tensors), tuple(ops), (0,), (n - 1,))


def _assert_valid(p):
    limits = {(source, output): limit for source, output, limit in p.overlaps}
    for a in p.values:
        assert a.offset % memory.ALIGNMENT == 0 and a.offset + a.size <= p.arena_bytes
        for b in p.values:
            if a is not b and a.first <= b.last and b.first <= a.last:
                disjoint = a.offset + a.size <= b.offset or b.offset + b.size <= a.offset
                in_place = (a.tensors, b.tensors) in limits and b.offset - a.offset <= limits[(a.tensors, b.tensors)]
                assert disjoint or in_place or (b.tensors, a.tensors) in limits, (a, b)
    assert p.arena_bytes >= p.peak_bytes


def test_chain_ping_pongs_between_two_buffers():
    p = memory.plan([_chain([64, 64, 64, 64, 64])])
    _assert_valid(p)
    assert p.arena_bytes == 128 and p.peak_bytes == 128
    assert {v.offset for v in p.values} == {0, 64}


def test_reshape_aliases_its_input():
    g = _chain([32, 32, 32], ["RESHAPE", "CONV_2D"])
    p = memory.plan([g])
    _assert_valid(p)
    assert p.offset(0, 0) == p.offset(0, 1)
    assert p.offset(0, 2) != p.offset(0, 0)


def test_boundary_survives_into_the_next_stage_without_a_copy():
    # stage 0: in -> a -> (exit probs e, boundary b); stage 1: b -> c
    t = [_tensor(0, 48), _tensor(1, 48), _tensor(2, 16), _tensor(3, 32), _tensor(4, 4, True)]
    s0 = ir.Graph("s0", tuple(t), (ir.Op(0, "CONV_2D", (0, 4), (1,), {}), ir.Op(1, "SOFTMAX", (1,), (2,), {}),
                                   ir.Op(2, "CONV_2D", (1, 4), (3,), {})), (0,), (2, 3))
    u = [_tensor(0, 32), _tensor(1, 64), _tensor(2, 4, True)]
    s1 = ir.Graph("s1", tuple(u), (ir.Op(0, "CONV_2D", (0, 2), (1,), {}),), (0,), (1,))
    p = memory.plan([s0, s1])
    _assert_valid(p)
    assert p.offset(0, 3) == p.offset(1, 0)
    shared = [v for v in p.values if (0, 3) in v.tensors][0]
    assert shared.tensors == ((0, 3), (1, 0)) and shared.first == 2 and shared.last == 3
    probs = [v for v in p.values if (0, 2) in v.tensors][0]
    assert probs.last == 2  # the exit decision reads them at the end of stage 0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 300), min_size=2, max_size=12))
def test_random_chains_never_overlap_live_buffers(sizes):
    _assert_valid(memory.plan([_chain(sizes)]))


def test_default_build_stages(default_build):
    graphs = [ir.read(tflite) for _, tflite in default_build.stage_models()]
    p = memory.plan(graphs)
    _assert_valid(p)
    for k in range(1, len(graphs)):
        assert p.offset(k - 1, graphs[k - 1].outputs[-1]) == p.offset(k, graphs[k].inputs[0])
    largest = max(t.nbytes for g in graphs for t in g.tensors if not t.is_constant)
    assert largest <= p.arena_bytes <= 2 * p.peak_bytes + memory.ALIGNMENT * len(p.values)


def test_an_output_overlaps_its_dying_input_up_to_the_limit():
    p = memory.plan([_chain([64, 64])], overlaps=[(0, 0, 1, -20)])
    _assert_valid(p)
    assert p.offset(0, 0) - p.offset(0, 1) == 32  # 20 bytes, aligned
    assert p.arena_bytes == 64 + 32 and p.peak_bytes == 64 + 20
    # along a chain the shifts add up: a third buffer of the chain goes clear of the others
    p = memory.plan([_chain([64, 64, 64])], overlaps=[(0, i, i + 1, -20) for i in range(2)])
    _assert_valid(p)
    assert p.arena_bytes == 128


def test_an_input_read_again_later_is_never_overlapped():
    # t0 -> op0 -> t1; op1 reads t1 and t0 -> t2
    t = [_tensor(0, 64), _tensor(1, 64), _tensor(2, 64), _tensor(3, 4, True)]
    g = ir.Graph("g", tuple(t), (ir.Op(0, "CONV_2D", (0, 3), (1,), {}), ir.Op(1, "ADD", (1, 0), (2,), {})), (0,), (2,))
    p = memory.plan([g], overlaps=[(0, 0, 1, 0), (0, 1, 2, 0), (0, 0, 2, 0)])
    _assert_valid(p)
    assert p.offset(0, 0) != p.offset(0, 1)  # t0 lives on into op1
    assert p.offset(0, 2) in (p.offset(0, 0), p.offset(0, 1))  # ADD in place
    assert p.arena_bytes == 128


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 300), st.integers(-300, 300)), min_size=2, max_size=12))
def test_random_chains_with_overlaps_stay_within_the_limits(sizes_and_limits):
    sizes = [s for s, _ in sizes_and_limits]
    overlaps = [(0, i, i + 1, limit) for i, (_, limit) in enumerate(sizes_and_limits[1:])]
    p = memory.plan([_chain(sizes)], overlaps=overlaps)
    _assert_valid(p)


def test_ops_of_a_fused_segment_share_a_step():
    # t0 -> op0 -> t1 (a ring of 16 bytes) -> op1 -> t2, fused: all three live at once
    p = memory.plan([_chain([64, 64, 64])], steps={(0, 0): 0, (0, 1): 0}, sizes={(0, 1): 16})
    _assert_valid(p)
    assert {v.size for v in p.values} == {64, 16} and len({(v.first, v.last) for v in p.values}) == 1
    assert p.arena_bytes == 64 + 16 + 64
