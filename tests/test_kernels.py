"""Each kernel, generated and compiled for the host, computes exactly what TFLM computes:
single-op models over random shapes, strides, paddings, dilations, channel counts, scales,
zero points and fused activations (property-based), each on several random int8 inputs."""

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from tflite_micro import runtime

from eenn import codegen, hostrun
from singleop import STRATEGIES

INPUTS_PER_MODEL = 8


def _compare(model) -> None:
    interp = runtime.Interpreter.from_bytes(model.tflite)
    rng = np.random.default_rng(len(model.tflite))
    with tempfile.TemporaryDirectory() as tmp:
        generated = codegen.generate([("op.tflite", model.tflite)], Path(tmp) / "src", "op")
        host = hostrun.HostModel(generated, Path(tmp))
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


@pytest.mark.parametrize("kind", sorted(STRATEGIES))
def test_generated_kernel_matches_tflm(kind):
    @settings(max_examples=20, deadline=None)
    @given(STRATEGIES[kind]())
    def check(model):
        _compare(model)

    check()
