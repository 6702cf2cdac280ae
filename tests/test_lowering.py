"""What the kernels do not handle is refused before any file is written, naming the stage,
the op, its index and its tensors; the prepare-time arithmetic matches TFLite's."""

import numpy as np
import pytest
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from eenn.codegen import emit
from eenn.codegen.singleop import INT8, Tensor
from eenn.ops import Refusal, _quantmath as qm
from singleop import _single

INT16 = schema.TensorType.INT16
ACT = schema.ActivationFunctionType


def _add(activation=ACT.NONE, dtype=INT8):
    shape = (1, 2, 2, 3)
    tensors = [Tensor("left", shape, dtype, (0.1,), (0,)), Tensor("right", shape, dtype, (0.2,), (0,)),
               Tensor("sum", shape, dtype, (0.3,), (0,))]
    options = schema.AddOptionsT(fusedActivationFunction=activation)
    return _single("ADD", schema.BuiltinOptions.AddOptions, options, tensors).tflite


def _softmax(output_scale):
    tensors = [Tensor("logits", (1, 10), INT8, (0.1,), (3,)), Tensor("probs", (1, 10), INT8, (output_scale,), (-128,))]
    return _single("SOFTMAX", schema.BuiltinOptions.SoftmaxOptions, schema.SoftmaxOptionsT(beta=1.0), tensors).tflite


def _abs():
    tensors = [Tensor("x", (1, 4), INT8, (0.1,), (0,)), Tensor("y", (1, 4), INT8, (0.1,), (0,))]
    return _single("ABS", 0, None, tensors).tflite


@pytest.mark.parametrize("model, message", [
    (_abs, r"stage 0, op 0 \(ABS\): no kernel for this op .*\[inputs 'x'; outputs 'y'\]"),
    (lambda: _add(ACT.TANH), r"op 0 \(ADD\): fused activation TANH is not supported .*'left', 'right'"),
    (lambda: _add(dtype=INT16), r"op 0 \(ADD\): input 'left' has type int16"),
    (lambda: _softmax(0.01), r"op 0 \(SOFTMAX\): output quantization must be scale 1/256"),
], ids=["op", "activation", "dtype", "softmax-output"])
def test_unsupported_is_refused_before_anything_is_written(tmp_path, model, message):
    out = tmp_path / "src"
    with pytest.raises(Refusal, match=message):
        emit.generate([("stage0.tflite", model())], out)
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_refusal_keeps_the_previous_sources(tmp_path):
    out = tmp_path / "src"
    emit.generate([("stage0.tflite", _add())], out)
    before = {p.name: p.read_text() for p in out.iterdir()}
    with pytest.raises(Refusal):
        emit.generate([("stage0.tflite", _abs())], out)
    assert {p.name: p.read_text() for p in out.iterdir()} == before


@pytest.mark.parametrize("real, expected", [
    (0.5, (1 << 30, 0)), (1.0, (1 << 30, 1)), (0.75, (3 << 29, 0)), (2 ** -40, (0, 0)), (0.0, (0, 0)),
    (1 - 2 ** -33, (1 << 30, 1)),  # rounds up to 2^31: halved, shift + 1
])
def test_quantize_multiplier(real, expected):
    assert qm.quantize_multiplier(real) == expected


def test_activation_ranges_round_half_away_from_zero_in_float32():
    assert qm.activation_range("NONE", 0.1, 5) == (-128, 127)
    assert qm.activation_range("RELU", 0.1, -128) == (-128, 127)
    assert qm.activation_range("RELU6", 0.05, -128) == (-128, -8)
    assert qm.activation_range("RELU_N1_TO_1", 0.008, 0) == (-125, 125)
    assert qm.activation_range("RELU6", 4.0, 0) == (0, 2)  # 6 / 4 = 1.5 rounds to 2
    assert qm.activation_range("TANH", 0.1, 0) is None


@pytest.mark.parametrize("padding, size, kernel, stride, dilation, expected", [
    ("SAME", 8, 3, 1, 1, (8, 1)), ("SAME", 8, 3, 2, 1, (4, 0)), ("SAME", 7, 4, 2, 1, (4, 1)),
    ("VALID", 8, 3, 1, 1, (6, 0)), ("VALID", 9, 3, 2, 2, (3, 0)), ("SAME", 5, 3, 1, 2, (5, 2)),
])
def test_output_size_and_padding(padding, size, kernel, stride, dilation, expected):
    assert qm.same_or_valid(padding, size, kernel, stride, dilation) == expected


def test_softmax_scale_outside_the_kernel_range_is_refused():
    assert qm.softmax_params(1.0, 1e-9) is None  # multiplier below one
    assert qm.softmax_params(1.0, 64.0) is None  # saturated: the shift would pass 30
    p = qm.softmax_params(1.0, 0.1)
    assert p["input_left_shift"] <= 30 and p["diff_min"] < 0


def test_mean_multiplier_folds_the_count_in():
    m, s = qm.mean_sum_rescale(0.2, 0.1, 16)
    assert m * 2.0 ** (s - 31) == pytest.approx(2.0 / 16, rel=1e-9)
    assert np.int32(m) == m
