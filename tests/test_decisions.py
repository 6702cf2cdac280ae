"""Each exit decision mechanism takes the same decisions in Python and in the firmware's C
(compiled for the host), on random int8 exit outputs and random streams, state included."""

import ctypes
import subprocess
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from eenn.decision import mechanisms
from eenn.decision.mechanisms import Decider, DecisionSpec
from eenn.firmware import hostrun, image

DECISION_C = image.SOURCES / "decision.c"


def _compile(spec: DecisionSpec, stages: int, classes: int, directory: Path) -> ctypes.CDLL:
    (directory / "eenn_model.h").write_text(
        f"#define EENN_NUM_STAGES {stages}\n#define EENN_NUM_CLASSES {classes}\n")
    (directory / "decision_config.h").write_text(image.decision_config(spec, stages))
    library = directory / "libdecision.so"
    done = subprocess.run(["gcc", *hostrun.CFLAGS, "-fPIC", "-shared", "-I", str(directory), "-I",
                           str(image.SOURCES), str(DECISION_C), "-o", str(library)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    lib = ctypes.CDLL(str(library))
    lib.eenn_decision_step.argtypes = [ctypes.c_int32, ctypes.c_void_p]
    lib.eenn_decision_step.restype = ctypes.c_int32
    return lib


@st.composite
def cases(draw, mechanism: str):
    """A spec for `mechanism`, and a stream of int8 exit outputs with repeats and resets."""
    stages, classes = draw(st.integers(1, 4)), draw(st.integers(2, 10))
    if mechanism == "entropy":
        thresholds = draw(st.lists(st.integers(0, 60000), min_size=stages - 1, max_size=stages - 1))
    else:
        thresholds = draw(st.lists(st.integers(-128, 128), min_size=stages - 1, max_size=stages - 1))
    spec = DecisionSpec(mechanism, tuple(thresholds), patience=draw(st.integers(1, 4)), tau=draw(st.integers(0, 300)),
                        distance=draw(st.sampled_from(mechanisms.DISTANCES)), max_run=draw(st.integers(0, 6)),
                        deep=draw(st.sampled_from(mechanisms.DEEP)))
    if stages == 1 and spec.deep == "cascade" and mechanism in mechanisms.TEMPORAL:
        spec = DecisionSpec(mechanism, (), spec.patience, spec.tau, spec.distance, spec.max_run, "full")
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    steps = draw(st.integers(1, 60))
    scenes = rng.integers(-128, 128, size=(4, stages, classes))
    picks = rng.integers(0, 4, size=steps)
    jitter = rng.integers(-3, 4, size=(steps, stages, classes)) * (rng.random(steps) < 0.7)[:, None, None]
    stream = np.clip(scenes[picks] + jitter, -128, 127).astype(np.int8)
    resets = rng.random(steps) < 0.1
    return spec, stream, resets


@pytest.mark.parametrize("mechanism", mechanisms.MECHANISMS)
def test_python_and_c_decide_alike(mechanism, tmp_path_factory):
    @settings(max_examples=25, deadline=None)
    @given(cases(mechanism))
    def check(case):
        spec, stream, resets = case
        stages, classes = stream.shape[1:]
        lib = _compile(spec, stages, classes, tmp_path_factory.mktemp("decision"))
        python = Decider(spec, stages)
        lib.eenn_decision_reset()
        for i, sample in enumerate(stream):
            if resets[i]:
                python.reset()
                lib.eenn_decision_reset()
            python.begin()
            lib.eenn_decision_begin()
            for k in range(stages):
                row = np.ascontiguousarray(sample[k])
                expected = python.step(k, row)
                actual = lib.eenn_decision_step(k, row.ctypes.data)
                assert actual == (-1 if expected is None else expected), f"sample {i}, stage {k}"
                if expected is not None:
                    break

    check()


def test_entropy_table_is_minus_p_log_p_in_q16():
    t = mechanisms.ENTROPY_TABLE
    assert t[0] == 0 and t[255] == round(-(255 / 256) * np.log(255 / 256) * 65536)
    assert abs(t.argmax() - 256 / np.e) < 1  # -p ln p peaks at p = 1/e


def test_temporal_patience_leaves_early_on_a_steady_stream_and_revalidates():
    spec = DecisionSpec("temporal-patience", (128,), patience=2, max_run=3, deep="cascade")
    steady = np.zeros((10, 2, 3), np.int8)
    steady[:, :, 1] = 100  # class 1 everywhere
    exits, classes = mechanisms.simulate(spec, steady)
    assert classes.tolist() == [1] * 10
    assert exits.tolist() == [1, 1, 0, 0, 0, 1, 0, 0, 0, 1]  # two to build patience, runs of 3, then a check


def test_difference_detection_reuses_the_reference_class():
    spec = DecisionSpec("difference", (128,), tau=4, distance="l1", deep="full")
    probs = np.zeros((3, 2, 2), np.int8)
    probs[:, 1] = [[-128, 127]] * 3  # the deep exit says class 1
    probs[:, 0] = [[10, 0], [11, 1], [60, 0]]  # the first exit barely moves, then jumps
    exits, classes = mechanisms.simulate(spec, probs)
    assert exits.tolist() == [1, 0, 1] and classes.tolist() == [1, 1, 1]
