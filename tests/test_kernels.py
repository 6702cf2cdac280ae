"""Each kernel, generated and compiled for the host, computes exactly what TFLM computes:
single-op models over random shapes, strides, paddings, dilations, channel counts, scales,
zero points and fused activations (property-based), each on several random int8 inputs.
Both kernel paths run: the portable one and the DSP one (its instructions as exact C
stand-ins); the QEMU tests run the DSP path's real instructions."""

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from tflite_micro import runtime

from eenn import codegen, hostrun
from singleop import STRATEGIES

INPUTS_PER_MODEL = 8


def _compare(model, path: str) -> None:
    interp = runtime.Interpreter.from_bytes(model.tflite)
    rng = np.random.default_rng(len(model.tflite))
    with tempfile.TemporaryDirectory() as tmp:
        generated = codegen.generate([("op.tflite", model.tflite)], Path(tmp) / "src", "op")
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
CASES = [(kind, "portable") for kind in sorted(STRATEGIES)] + [(kind, "dsp") for kind in DSP_KINDS]


@pytest.mark.parametrize("kind, path", CASES)
def test_generated_kernel_matches_tflm(kind, path):
    @settings(max_examples=20, deadline=None)
    @given(STRATEGIES[kind]())
    def check(model):
        _compare(model, path)

    check()
