"""eenn.ops._tables against TFLM: a single-op model whose [1, 256] input holds every int8 value
outputs, element for element, the op's table; where a table function refuses its parameters,
TFLM's Prepare fails on them too (a failed status, which TFLM reports without aborting)."""

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from tflite_micro import runtime
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from eenn.codegen.singleop import INT8, Tensor, single
from eenn.ops import _quantmath as qm, _tables

ALL_INT8 = np.arange(-128, 128, dtype=np.int8).reshape(1, 256)
EXAMPLES = 300
ACTIVATIONS = ("NONE", "RELU", "RELU6", "RELU_N1_TO_1")


def f32(x: float) -> float:
    return float(np.float32(x))


def scales(lo: float = 1e-4, hi: float = 1.0):
    """float32 scales, log-uniform in [lo, hi]."""
    return st.floats(math.log(lo), math.log(hi)).map(lambda v: f32(math.exp(v)))


zero_points = st.integers(-128, 127)


def activation(name: str, scale: float, zero_point: int) -> Tensor:
    return Tensor(name, (1, 256), INT8, (scale,), (zero_point,))


def tflm_output(kind: str, tensors: list, options_type=schema.BuiltinOptions.NONE, options=None,
                op_inputs=None) -> np.ndarray:
    """TFLM's output of the single `kind` op for ALL_INT8 (tensors: input, constants..., output)."""
    interpreter = runtime.Interpreter.from_bytes(single(kind, options_type, options, tensors, op_inputs))
    interpreter.set_input(ALL_INT8, 0)
    interpreter.invoke()
    return interpreter.get_output(0).reshape(-1)


def assert_agrees(table_function, args: tuple, kind: str, tensors: list, **model):
    """table_function(*args) is TFLM's output for each int8 input, or raises ValueError where
    TFLM fails to prepare the op."""
    try:
        table = table_function(*args)
    except ValueError:
        with pytest.raises(RuntimeError, match="allocate"):
            tflm_output(kind, tensors, **model)
        return
    assert table.dtype == np.int8 and table.shape == (256,)
    tflm = tflm_output(kind, tensors, **model)
    bad = np.flatnonzero(table != tflm)
    assert not bad.size, (f"{kind} {args}: {bad.size} mismatches, the first at input {bad[0] - 128}: "
                          f"TFLM {tflm[bad[0]]}, table {table[bad[0]]}")


def assert_unary(kind: str, table_function, x: tuple, y: tuple, *extra, **model):
    assert_agrees(table_function, (*x, *y, *extra), kind, [activation("x", *x), activation("y", *y)], **model)


def leaky_relu_options(alpha: float) -> dict:
    return {"options_type": schema.BuiltinOptions.LeakyReluOptions, "options": schema.LeakyReluOptionsT(alpha=alpha)}


# ---- random quantizations ------------------------------------------------------------------------

quantizations = st.tuples(scales(), zero_points)


@settings(max_examples=EXAMPLES, deadline=None)
@given(x=quantizations, out_scale=st.one_of(st.just(f32(1 / 256)), scales()),
       out_zp=st.one_of(st.just(-128), zero_points))
def test_logistic(x, out_scale, out_zp):
    assert_unary("LOGISTIC", _tables.logistic, x, (out_scale, out_zp))


@settings(max_examples=EXAMPLES, deadline=None)
@given(x=quantizations, y=st.one_of(st.just((f32(1 / 128), 0)), quantizations))
def test_tanh(x, y):
    assert_unary("TANH", _tables.tanh, x, y)


@settings(max_examples=EXAMPLES, deadline=None)
@given(x=quantizations, y=quantizations)
def test_hard_swish(x, y):
    assert_unary("HARD_SWISH", _tables.hard_swish, x, y)


@settings(max_examples=EXAMPLES, deadline=None)
@given(x=quantizations, y=quantizations,
       alpha=st.one_of(st.sampled_from([0.0, 0.01, 0.1, 0.2, 0.3, 1.0]), st.floats(-2.0, 2.0).map(f32)))
def test_leaky_relu(x, y, alpha):
    assert_unary("LEAKY_RELU", _tables.leaky_relu, x, y, alpha, **leaky_relu_options(alpha))


@pytest.mark.parametrize("kind, table_function", [("QUANTIZE", _tables.requantize), ("RELU", _tables.relu),
                                                  ("RELU6", _tables.relu6)])
@settings(max_examples=EXAMPLES, deadline=None)
@given(x=quantizations, y=st.one_of(quantizations, st.just(None)))
def test_requantizing_activations(kind, table_function, x, y):
    assert_unary(kind, table_function, x, x if y is None else y)


@st.composite
def mul_by_constant(draw):
    """(the mul_constant arguments, the MUL model's tensors, op inputs and options)."""
    x, y = draw(quantizations), draw(quantizations)
    constant, constant_scale, constant_zp = draw(st.integers(-128, 127)), draw(scales()), draw(zero_points)
    activation_name = draw(st.sampled_from(ACTIVATIONS))
    act_min, act_max = qm.activation_range(activation_name, *y)
    c = Tensor("c", draw(st.sampled_from([(), (1,)])), INT8, (constant_scale,), (constant_zp,),
               data=np.array(constant, np.int8))
    args = (*x, constant, constant_scale, constant_zp, *y, act_min, act_max)
    options = schema.MulOptionsT(fusedActivationFunction=getattr(schema.ActivationFunctionType, activation_name))
    op_inputs = draw(st.sampled_from([[0, 1], [1, 0]]))  # the constant second or first
    return args, [activation("x", *x), c, activation("y", *y)], op_inputs, options


@settings(max_examples=EXAMPLES, deadline=None)
@given(case=mul_by_constant())
def test_mul_constant(case):
    args, tensors, op_inputs, options = case
    assert_agrees(_tables.mul_constant, args, "MUL", tensors, options_type=schema.BuiltinOptions.MulOptions,
                  options=options, op_inputs=op_inputs)


# ---- quantizations from real models, and refusals --------------------------------------------------

@pytest.mark.parametrize("kind, table_function, x, y", [
    ("LOGISTIC", _tables.logistic, (0.008055193349719048, 12), (1 / 256, -128)),
    ("TANH", _tables.tanh, (0.0075901527889072895, -23), (0.0078125, 0)),
    ("HARD_SWISH", _tables.hard_swish, (0.008728467859327793, 6), (0.0041989171877503395, -43)),
    ("HARD_SWISH", _tables.hard_swish, (2.2974445528234355e-06, -19), (1.1487542224131175e-06, -19)),
    ("LOGISTIC", _tables.logistic, (0.5, 0), (1 / 256, -128)),  # a left shift of 27: input radius 1
    ("LOGISTIC", _tables.logistic, (20.0, -3), (1 / 256, -128)),  # input radius 0: every output saturates
    ("TANH", _tables.tanh, (2 ** -28, 100), (0.0078125, 0)),  # the smallest input scale not shifted right
    ("RELU6", _tables.relu6, (6 / 255, -128), (6 / 255, -128)),
    ("QUANTIZE", _tables.requantize, (6 / 255, -128), (6 / 255, -128)),
])
def test_real_quantizations(kind, table_function, x, y):
    assert_unary(kind, table_function, (f32(x[0]), x[1]), (f32(y[0]), y[1]))


@pytest.mark.parametrize("kind, table_function, x, y, extra", [
    # TFLM's multipliers are those of the double quotients (its source's float32 quotients give other tables)
    ("HARD_SWISH", _tables.hard_swish, (0.006211341358721256, 41), (0.00024418518296442926, 57), ()),
    ("HARD_SWISH", _tables.hard_swish, (0.04243895038962364, -40), (0.669522225856781, 90), ()),
    ("LEAKY_RELU", _tables.leaky_relu, (0.6926071047782898, 44), (0.1401149481534958, 59), (0.8300281763076782,)),
    ("LEAKY_RELU", _tables.leaky_relu, (0.6886796355247498, -45), (0.8386135697364807, -119), (0.36680638790130615,)),
    # RELU6's 6 is quantized in float32: 6 / 2.4000001 is 2.5 in float32, just below it in double
    ("RELU6", _tables.relu6, (2.4000000953674316, -128), (2.4000000953674316, -128), ()),
    # the largest output multiplier HARD_SWISH accepts: output scale one float32 step above input scale / 128
    ("HARD_SWISH", _tables.hard_swish, (0.5, 3), (float(np.nextafter(np.float32(0.5 / 128), np.float32(1))), 0), ()),
])
def test_rounding_of_prepare_constants(kind, table_function, x, y, extra):
    options = leaky_relu_options(*extra) if kind == "LEAKY_RELU" else {}
    assert_unary(kind, table_function, x, y, *extra, **options)


def test_hard_sigmoid_mul():
    """relu6(x + 3) * (1/6), the converter's hard sigmoid: the constant 1/6 is one int8 value."""
    x, y, constant_scale = (f32(6 / 255), -128), (f32(1 / 255), -128), f32(1 / 6 / 127)
    c = Tensor("c", (), INT8, (constant_scale,), (0,), data=np.array(127, np.int8))
    assert_agrees(_tables.mul_constant, (*x, 127, constant_scale, 0, *y, -128, 127), "MUL",
                  [activation("x", *x), c, activation("y", *y)], options_type=schema.BuiltinOptions.MulOptions,
                  options=schema.MulOptionsT(fusedActivationFunction=schema.ActivationFunctionType.NONE))


@pytest.mark.parametrize("kind, table_function, x, y, message", [
    ("LOGISTIC", _tables.logistic, (0.01, 3), (1 / 256, 0), "zero point must be -128"),
    ("HARD_SWISH", _tables.hard_swish, (0.5, 3), (0.001, 0), "output scale must be above"),
    ("HARD_SWISH", _tables.hard_swish, (0.5, 3), (0.5 / 128, 0), "output scale must be above"),
])
def test_refusals(kind, table_function, x, y, message):
    """The table functions refuse what TFLM fails to prepare."""
    x, y = (f32(x[0]), x[1]), (f32(y[0]), y[1])
    with pytest.raises(ValueError, match=message):
        table_function(*x, *y)
    assert_unary(kind, table_function, x, y)


@pytest.mark.parametrize("table_function, in_scale", [(_tables.logistic, 1e-9), (_tables.tanh, 1e-9),
                                                     (_tables.relu6, 1e-10)])
def test_refuses_input_scales_where_tflm_is_undefined(table_function, in_scale):
    """LOGISTIC and TANH below an input scale of 2^-28 (CalculateInputRadius would shift by a
    negative amount), RELU6 below 6 / 2^31 (6 / scale overflows int32): C leaves TFLM's result
    undefined there, so TFLM is not fed these."""
    with pytest.raises(ValueError, match="input scale"):
        table_function(f32(in_scale), 0, f32(1 / 256), -128)
