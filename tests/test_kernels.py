"""Each kernel, generated and compiled for the host, computes exactly what TFLM computes:
single-op models over random shapes, strides, paddings, dilations, channel counts, scales,
zero points and fused activations (property-based), each on several random int8 inputs.
Every host kernel path runs: the portable one, the Armv6-M one (in C) and the DSP one (its
instructions as exact C stand-ins); the QEMU tests run the DSP path's real instructions, the
Helium path on the Cortex-M55 and the Armv6-M path's assembly on the Cortex-M0. The memory plan puts an output over its input where the kernel allows
(eenn.codegen.overlap); one test puts it exactly at the limit."""

import re
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from tflite_micro import runtime

from eenn.codegen import emit, kernels, memory
from eenn.costs import timing
from eenn.device.qemu import qemu_command
from eenn.firmware import hostrun, image
from eenn.hardware import boards
from eenn.ops._layout import DEPTHWISE_LANES
from singleop import LOOKUP_KINDS, STRATEGIES

INPUTS_PER_MODEL = 8
TFLM_ARENA = 1 << 20  # bytes: the default, sized from the model, is too small for RESIZE_NEAREST_NEIGHBOR's output
EXAMPLES = 10
# few for the ops of one kernel, whose tables test_tables.py checks over every input, and for aliases
FEW_EXAMPLES = {kind: 4 for kind in (*LOOKUP_KINDS, "SQUEEZE", "EXPAND_DIMS")}


def _compare(model, path: str) -> None:
    interp = runtime.Interpreter.from_bytes(model.tflite, arena_size=TFLM_ARENA)
    rng = np.random.default_rng(len(model.tflite))
    with tempfile.TemporaryDirectory() as tmp:
        generated = emit.generate([("op.tflite", model.tflite)], Path(tmp) / "src", "op")
        host = hostrun.HostModel(generated, Path(tmp), path)
        for _ in range(INPUTS_PER_MODEL):
            xs = [rng.integers(-128, 128, size=shape, dtype=np.int8) for shape in model.input_shapes]
            for i, x in enumerate(xs):
                interp.set_input(x, i)
            interp.invoke()
            expected = interp.get_output(0).reshape(-1)
            actual, _ = host.run_stage(0, *xs)
            mismatches = np.flatnonzero(expected != actual)
            assert mismatches.size == 0, (
                f"{mismatches.size} of {expected.size} elements differ, first at {mismatches[0]}: "
                f"TFLM {expected[mismatches[0]]}, generated C {actual[mismatches[0]]}")


DSP_KINDS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")  # ops with a kernel of their own on the DSP path
ARMV6M_KINDS = DSP_KINDS  # and on the Armv6-M path
CASES = ([(kind, "portable") for kind in sorted(STRATEGIES)] + [(kind, "armv6m") for kind in ARMV6M_KINDS]
         + [(kind, "dsp") for kind in DSP_KINDS])


@pytest.mark.parametrize("kind, path", CASES)
def test_generated_kernel_matches_tflm(kind, path):
    @settings(max_examples=FEW_EXAMPLES.get(kind, EXAMPLES), deadline=None)
    @given(STRATEGIES[kind]())
    def check(model):
        _compare(model, path)

    check()


OVERLAP_KINDS = ("CONV_2D", "DEPTHWISE_CONV_2D", "MAX_POOL_2D", "AVERAGE_POOL_2D", "ADD", "MUL", "LOGISTIC")
# the other paths only for ops with a kernel of their own there: the others compile the portable file
OVERLAP_CASES = [(kind, path) for kind in OVERLAP_KINDS for path in hostrun.PATHS
                 if path == "portable" or kind in {"dsp": DSP_KINDS, "armv6m": ARMV6M_KINDS}[path]]


def _plan_at_the_limit(graphs, scratch, overlaps, *_):
    """A plan for one op with its output exactly at the overlap limit of its first input;
    other inputs and the scratch buffer after them."""
    (_, source, output, limit), *_ = overlaps
    graph = graphs[0]
    (op,) = graph.ops
    op_key = (0, op.index)
    placed = {source: max(0, -limit)}
    placed[output] = placed[source] + limit
    end = max(placed[t] + graph.tensors[t].nbytes for t in placed)
    for t in op.inputs[1:]:
        if t >= 0 and not graph.tensors[t].is_constant and t not in placed:
            placed[t], end = end, end + graph.tensors[t].nbytes
    values = [memory.Value(((0, t),), graph.tensors[t].nbytes, 0, 0, offset) for t, offset in placed.items()]
    if op_key in scratch:
        at = -(-end // 4) * 4  # the DSP kernels read their scratch a word at a time
        values.append(memory.Value(((0, memory.scratch_key(op.index)),), scratch[op_key], 0, 0, at))
        end = at + scratch[op_key]
    return memory.Plan(tuple(values), end, 0, 0)


@pytest.mark.parametrize("kind, path", OVERLAP_CASES)
def test_kernel_with_its_output_at_the_overlap_limit_matches_tflm(kind, path, monkeypatch):
    monkeypatch.setattr(emit.memory, "plan", _plan_at_the_limit)

    @settings(max_examples=10, deadline=None)
    @given(STRATEGIES[kind]())
    def check(model):
        _compare(model, path)

    check()


MVE_KINDS = DSP_KINDS  # ops with a Helium kernel of their own
QEMU_EXAMPLES = 6
# the board of each path whose instructions only QEMU runs: the M0 image on the AN385, whose 4 MB hold any layer
QEMU_BOARDS = {"mve": "mps3-an547", "armv6m": "mps2-an385-m0"}
QEMU_CASES = [(path, kind, at_the_limit) for path, kinds in (("mve", MVE_KINDS), ("armv6m", ARMV6M_KINDS))
              for at_the_limit in (False, True) for kind in kinds if not at_the_limit or kind in OVERLAP_KINDS]


@pytest.mark.parametrize("path, kind, at_the_limit", QEMU_CASES)
def test_kernel_path_matches_tflm_under_qemu(path, kind, at_the_limit, tmp_path, monkeypatch):
    """Random layers on the Cortex-M55 (kernels = "mve") and the Cortex-M0 (kernels = "armv6m",
    its assembly), their output planned where the arena puts it or at the overlap limit of
    their input: the hash of the output the image computes from its pseudo-random arena equals
    that of TFLM's output for the same input."""
    board = boards.get(QEMU_BOARDS[path])
    assert board.kernels == path
    if at_the_limit:
        monkeypatch.setattr(emit.memory, "plan", _plan_at_the_limit)

    @settings(max_examples=QEMU_EXAMPLES, deadline=None)
    @given(STRATEGIES[kind]())
    def check(model):
        with tempfile.TemporaryDirectory(dir=tmp_path) as tmp:
            generated = emit.generate([("op.tflite", model.tflite)], Path(tmp) / "src", "op")
            elf = image.build_benchmark(generated.directory, board, Path(tmp) / "image")
            _, (got,) = timing.run(elf, board, 1)
        stage, (shape,) = generated.stages[0], model.input_shapes
        start = stage.input_offsets[0]
        x = timing.pseudo_random_arena(generated.plan.arena_bytes)[start:start + int(np.prod(shape))]
        interp = runtime.Interpreter.from_bytes(model.tflite, arena_size=TFLM_ARENA)
        interp.set_input(x.view(np.int8).reshape(shape), 0)
        interp.invoke()
        assert got == timing.check_hash(interp.get_output(0).reshape(-1), np.zeros(0, np.int8))

    check()


def test_the_armv6m_high_multiply_equals_64_bit_arithmetic_under_qemu(tmp_path):
    """The requantization's multiply in Thumb assembly against the compiler's 64-bit arithmetic
    on the Cortex-M0 itself (random layers rarely put a rounding on its last bit)."""
    board = boards.get(QEMU_BOARDS["armv6m"])
    program = Path(__file__).parent / "firmware" / "high_mul_check.c"
    elf = image.build_program([program], kernels.KERNELS, board, tmp_path / "image")
    done = subprocess.run(qemu_command(elf, board.emulation.machine, "stdio"), stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"status {done.returncode}: 1 is a wrong product, 3 or 4 a fault"


def test_the_helium_depthwise_kernel_stores_channels_in_the_lane_order_of_its_constants():
    source = (kernels.KERNELS / "mve" / "depthwise_conv2d_mve.c").read_text()
    table = re.search(r"lanes\[16\] = \{([^}]*)\}", source)
    assert table, "depthwise_conv2d_mve.c has no lane table"
    assert tuple(int(v) for v in table.group(1).split(",")) == DEPTHWISE_LANES
