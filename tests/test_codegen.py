"""The generated C of every zoo model computes what TFLM computes, element by element, stage
by stage; it compiles warning-free for the host and for Cortex-M; its arena is no larger
than TFLM's."""

import ctypes
import shutil
import subprocess

import numpy as np
import pytest

from eenn import pipeline
from eenn.codegen import emit, kernels
from eenn.costs import timing
from eenn.firmware import hostrun
from eenn.frontend import quantize, stages, zoo
from eenn.hardware import boards
from eenn.tflite import ir, reference

RANDOM_INPUTS = 200
CORES = {b.cpu: b for b in boards.all_boards()}  # a board of each core, for its flags and kernel path


@pytest.fixture(scope="module")
def zoo_code(converted, tmp_path_factory):
    """get(name, path) -> (stage models, Generated, HostModel with the kernels of `path`) of a
    zoo model with its default exits."""
    generated, hosts = {}, {}

    def get(name, path="portable"):
        if name not in generated:
            entry, whole, _ = converted(name)
            models = [(f"stage{s.index}.tflite", s.tflite) for s in stages.split(whole, len(entry.default_exits) + 1)]
            out = tmp_path_factory.mktemp(name)
            generated[name] = (models, emit.generate(models, out / "src", name), out)
        models, code, out = generated[name]
        if (name, path) not in hosts:
            hosts[(name, path)] = hostrun.HostModel(code, out, path)
        return models, code, hosts[(name, path)]

    return get


@pytest.fixture(scope="module")
def zoo_references(zoo_code):
    """get(name) -> per stage, RANDOM_INPUTS random int8 inputs and TFLM's outputs for each
    (computed once for every kernel path)."""
    cache = {}

    def get(name):
        if name not in cache:
            models, _, _ = zoo_code(name)
            chain = reference.StageChain([tflite for _, tflite in models])
            rng = np.random.default_rng(7)
            cache[name] = []
            for k, (_, tflite) in enumerate(models):
                graph = ir.read(tflite)
                shape = graph.tensors[graph.inputs[0]].shape
                xs = [rng.integers(-128, 128, size=shape, dtype=np.int8) for _ in range(RANDOM_INPUTS)]
                cache[name].append([(x, chain.run_stage(k, x)) for x in xs])
        return cache[name]

    return get


@pytest.mark.parametrize("path", sorted(hostrun.PATHS))
@pytest.mark.parametrize("name", list(zoo.ZOO))
def test_every_stage_equals_tflm_on_random_int8_inputs(zoo_code, zoo_references, name, path):
    _, _, host = zoo_code(name, path)
    for k, cases in enumerate(zoo_references(name)):
        mismatches = 0
        for x, expected in cases:
            actual = host.run_stage(k, x)
            mismatches += int(np.sum(expected[0] != actual[0]))
            if expected[1] is not None:
                mismatches += int(np.sum(expected[1].reshape(-1) != actual[1]))
        assert mismatches == 0, f"{name} stage {k} ({path} kernels): {mismatches} elements differ from TFLM"


def test_default_build_equals_tflm_records_on_test_data(default_build, tmp_path):
    """The chained generated C reproduces every exit's int8 probabilities the build recorded
    under TFLM, on the whole test split."""
    generated, _ = pipeline.generate(default_build)
    assert (generated.directory / pipeline.MEMORY_PLOT).read_bytes().startswith(b"\x89PNG")
    host = hostrun.HostModel(generated, tmp_path)
    manifest = default_build.manifest
    records = default_build.records("test")
    split, _ = pipeline.load_split(manifest.project, zoo.get(manifest.model.name))
    q = manifest.input.quantization
    x = quantize.quantize_input(split.test.x, q.scale[0], q.zero_point[0])
    assert len(x) >= 200
    generated_probs = np.stack([np.stack(host.run_one(sample)) for sample in x])
    np.testing.assert_array_equal(generated_probs, records.probs)


def test_model_api_points_into_the_planned_arena(zoo_code):
    _, generated, host = zoo_code("digits-cnn")
    lib, base = host.lib, host.base
    for name in ("eenn_input", "eenn_exit_probabilities", "eenn_boundary"):
        getattr(lib, name).restype = ctypes.c_void_p
    lib.eenn_input.argtypes = [ctypes.c_void_p]
    assert lib.eenn_input(base) - base == generated.stages[0].input_offsets[0]
    for s in generated.stages:
        lib.eenn_exit_probabilities.argtypes = lib.eenn_boundary.argtypes = [ctypes.c_int32, ctypes.c_void_p]
        assert lib.eenn_exit_probabilities(s.index, base) - base == s.exit_offset
        assert lib.eenn_boundary(s.index, base) - base == s.boundary_offset
        if s.index + 1 < len(generated.stages):
            assert generated.stages[s.index + 1].input_offsets[0] == s.boundary_offset
    macs = (ctypes.c_uint32 * len(generated.stages)).in_dll(lib, "eenn_stage_macs")
    assert list(macs) == [s.macs for s in generated.stages]


@pytest.mark.parametrize("name, board", [("ds-cnn", "mps2-an386"), ("ds-cnn", "microbit"),
                                         ("resnet8", "mps2-an500"), ("mobilenetv1-0.25", "mps3-an547")])
def test_fused_segments_compute_on_the_core_what_they_compute_on_the_host(zoo_code, name, board):
    models, generated, _ = zoo_code(name)
    assert any(segment.steps > 1 for stage in generated.stages for segment in stage.segments)
    instructions = timing.measure(models, boards.get(board), check=True)
    assert len(instructions) == len(models) and min(instructions) > 0


@pytest.mark.parametrize("cpu", sorted(CORES))
@pytest.mark.parametrize("name", list(zoo.ZOO))
def test_sources_compile_warning_free_for_cortex_m(zoo_code, name, cpu, tmp_path):
    compiler = shutil.which("arm-none-eabi-gcc")
    assert compiler, "arm-none-eabi-gcc is missing: run 'make setup'"
    _, generated, _ = zoo_code(name)
    src, board = generated.directory, CORES[cpu]
    for source in kernels.sources(src, board.kernels):
        done = subprocess.run([compiler, *hostrun.CFLAGS, *board.cflags, "-I", str(src), "-c", str(source),
                               "-o", str(tmp_path / f"{source.stem}.o")], capture_output=True, text=True)
        assert done.returncode == 0 and not done.stderr, done.stderr


@pytest.mark.parametrize("name", list(zoo.ZOO))
def test_arena_is_no_larger_than_tflms(zoo_code, name):
    models, generated, _ = zoo_code(name)
    tflm = [reference.tflm_arena_bytes(tflite) for _, tflite in models]
    largest_stage = max(t["total"] for t in tflm)
    print(f"{name}: generated arena {generated.plan.arena_bytes} bytes for all stages; TFLM {largest_stage} bytes "
          f"for its largest stage alone ({max(t['non_persistent'] for t in tflm)} of them activations)")
    assert generated.plan.arena_bytes <= largest_stage
    assert generated.plan.arena_bytes >= generated.plan.peak_bytes
