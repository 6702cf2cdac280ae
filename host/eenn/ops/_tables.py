"""The 256-entry lookup tables of TFLM's unary int8 kernels, computed on the host.

Each function returns an int8 array `table` of shape (256,) where `table[i]` is what the
TFLite Micro kernel outputs for the int8 input `i - 128`: its Prepare-time constants are
computed as the installed TFLM interpreter computes them from the float32 scales (in float32
or in double, which for HARD_SWISH and LEAKY_RELU is double where TFLM's source says float32),
and its integer arithmetic, gemmlowp's fixed-point logistic and tanh included, is run on all 256
inputs at once in int64 numpy arrays that hold the values of C's int32 and int16 variables,
wrapped and rounded as C wraps and rounds them. Where TFLM's Prepare refuses the parameters
(or its arithmetic has no defined result), the function raises ValueError saying why.
"""

import math

import numpy as np

from ._quantmath import INT8_MAX, INT8_MIN, add_params, quantize_multiplier, round_half_away

INT32_MAX = (1 << 31) - 1
_INPUTS = np.arange(INT8_MIN, INT8_MAX + 1, dtype=np.int64)


# ---- C integer semantics -------------------------------------------------------------------

def _wrap(x, bits: int = 32):
    """x converted to a signed `bits`-bit integer, wrapping around (two's complement)."""
    half = 1 << (bits - 1)
    return (np.asarray(x, dtype=np.int64) + half) % (2 * half) - half


def _divide_toward_zero(x, divisor: int):
    """C's integer division by a positive divisor: the quotient truncated toward zero."""
    return np.sign(x) * (np.abs(x) // divisor)


def _high_mul(a, b, bits: int = 32):
    """gemmlowp's SaturatingRoundingDoublingHighMul: a * b / 2^(bits-1), to nearest (ties away
    from zero), saturating MIN * MIN to MAX."""
    low = -(1 << (bits - 1))
    product = np.asarray(a, dtype=np.int64) * b
    nudge = np.where(product >= 0, 1 << (bits - 2), 1 - (1 << (bits - 2)))
    return np.where((a == low) & (b == low), -low - 1, _divide_toward_zero(product + nudge, -low))


def _doubling_high_mul16(a, b):
    """TFLM's int16 SaturatingDoublingHighMul: a * b / 2^15 truncated toward zero, saturating."""
    low = -(1 << 15)
    return np.where((a == low) & (b == low), -low - 1, _divide_toward_zero(a * b, -low))


def _divide_by_pot(x, exponent: int, bits: int = 32):
    """gemmlowp's RoundingDivideByPOT: x / 2^exponent to nearest, ties away from zero. Its mask
    (2^exponent - 1) is converted to the `bits`-bit type, so an int16 exponent of 16 or more
    gives -1 or +1 (by the sign of x), as in C."""
    mask = _wrap((1 << exponent) - 1, bits)
    threshold = _wrap((mask >> 1) + (x < 0), bits)
    return _wrap((x >> exponent) + ((x & mask) > threshold), bits)


def _multiply_by_quantized_multiplier(x, multiplier: int, shift: int):
    """TFLM's (double-rounding) MultiplyByQuantizedMultiplier of int32 x: the left shift wraps
    around as int32 arithmetic does."""
    left, right = max(shift, 0), max(-shift, 0)
    return _divide_by_pot(_high_mul(_wrap(x * (1 << min(left, 32))), multiplier), right)


def _saturating_shift_left(x, amount: int, bits: int = 32):
    """x * 2^amount, saturated to the `bits`-bit range (gemmlowp's SaturatingRoundingMultiplyByPOT
    of a positive exponent, and hard swish's SaturatingLeftShift)."""
    return np.clip(x * (1 << amount), -(1 << (bits - 1)), (1 << (bits - 1)) - 1)


def _clamp_int8(x) -> np.ndarray:
    return np.clip(x, INT8_MIN, INT8_MAX).astype(np.int8)


# ---- gemmlowp fixed point (raw int32 values; Qm.n has m integer bits) ----------------------------

_EXP_BARREL_SHIFTER = ((-2, 1672461947), (-1, 1302514674), (0, 790015084), (1, 290630308), (2, 39332535),
                       (3, 720401), (4, 242))  # exp(-2^exponent) in Q0.31


def _exp_on_quarter_interval(a):
    """exp(a) for a in [-1/4, 0), Q0.31 to Q0.31: a Taylor expansion about -1/8."""
    exp_minus_one_eighth, one_third = 1895147668, 715827883
    x = _wrap(a + (1 << 28))
    x2 = _high_mul(x, x)
    x3 = _high_mul(x2, x)
    x4 = _high_mul(x2, x2)
    x4_over_4 = _divide_by_pot(x4, 2)
    poly = _divide_by_pot(_wrap(_high_mul(_wrap(x4_over_4 + x3), one_third) + x2), 1)
    return _wrap(exp_minus_one_eighth + _high_mul(exp_minus_one_eighth, _wrap(x + poly)))


def _exp_on_negative_values(a, integer_bits: int):
    """gemmlowp's exp_on_negative_values: exp(a) for a <= 0 in Q(integer_bits), to Q0.31."""
    fractional_bits = 31 - integer_bits
    quarter = 1 << (fractional_bits - 2)
    a_mod_quarter_minus_quarter = _wrap((a & (quarter - 1)) - quarter)
    result = _exp_on_quarter_interval(_saturating_shift_left(a_mod_quarter_minus_quarter, integer_bits))
    remainder = _wrap(a_mod_quarter_minus_quarter - a)
    for exponent, multiplier in _EXP_BARREL_SHIFTER:
        if integer_bits > exponent:
            bit = 1 << (fractional_bits + exponent)
            result = np.where(remainder & bit, _high_mul(result, multiplier), result)
    if integer_bits > 5:
        result = np.where(a < -(1 << (36 - integer_bits)), 0, result)
    return np.where(a == 0, INT32_MAX, result)


def _inverse_half_denominator(a):
    """Newton-Raphson 1 / ((1 + a) / 2) for a in Q0.31 (0, 1), in Q2.29."""
    total = a + INT32_MAX
    half_denominator = _wrap(_divide_toward_zero(total + np.where(total >= 0, 1, -1), 2))  # RoundingHalfSum(a, 1)
    x = _wrap(1515870810 + _high_mul(half_denominator, -1010580540))  # 48/17 - 32/17 * d
    for _ in range(3):
        one_minus_half_denominator_times_x = _wrap((1 << 29) - _high_mul(half_denominator, x))
        x = _wrap(x + _saturating_shift_left(_high_mul(x, one_minus_half_denominator_times_x), 2))
    return x


def _fixed_logistic(a, integer_bits: int):
    """gemmlowp's logistic of Q(integer_bits) a, in Q0.31."""
    positive = a > 0
    minus_abs = np.where(positive, _wrap(-a), a)
    exp_of_minus_abs = _exp_on_negative_values(minus_abs, integer_bits)
    logistic_of_abs = _saturating_shift_left(_inverse_half_denominator(exp_of_minus_abs), 1)  # 1 / (1 + exp(-|a|))
    return np.where(a == 0, 1 << 30, np.where(positive, logistic_of_abs, _wrap(INT32_MAX - logistic_of_abs)))


def _fixed_tanh(a, integer_bits: int):
    """gemmlowp's tanh of Q(integer_bits) a, in Q0.31."""
    negative = a < 0
    minus_abs = np.where(negative, a, _wrap(-a))
    exp_of_twice = _exp_on_negative_values(minus_abs, integer_bits + 1)  # the same raw value, read as 2 * minus_abs
    tanh_of_abs = _saturating_shift_left(_wrap(_inverse_half_denominator(exp_of_twice) - (1 << 29)), 2)
    return np.where(a == 0, 0, np.where(negative, _wrap(-tanh_of_abs), tanh_of_abs))


# ---- the kernels -------------------------------------------------------------------------------

SIGMOID_INPUT_INTEGER_BITS = 4


def _sigmoid_of_inputs(fixed_function, in_scale: float, in_zp: int):
    """LOGISTIC's and TANH's int8 path: the Q0.31 result of `fixed_function` for each input on
    Q4.27, and the masks of the inputs at or below -radius and at or above +radius, which TFLM
    saturates instead (in that order: with radius 0, input 0 saturates low)."""
    bits = SIGMOID_INPUT_INTEGER_BITS
    fraction, left_shift = math.frexp(in_scale * (1 << (31 - bits)))
    if not 0 <= left_shift < 63:
        raise ValueError(f"input scale {in_scale} is outside the range of tflm's int8 rescaling to q4.27")
    multiplier = round_half_away(fraction * (1 << 31))
    radius = math.floor(((1 << bits) - 1) * (1 << (31 - bits)) / (1 << left_shift))  # CalculateInputRadius
    x = _INPUTS - in_zp
    inside = np.where(np.abs(x) < radius, x, 0)
    raw = fixed_function(_multiply_by_quantized_multiplier(inside, multiplier, left_shift), bits)
    return raw, x <= -radius, x >= radius


def logistic(in_scale: float, in_zp: int, out_scale: float, out_zp: int) -> np.ndarray:
    """LOGISTIC. TFLM requires output zero point -128 but not a scale: it writes the output on
    scale 1/256 whatever `out_scale` says."""
    if out_zp != INT8_MIN:
        raise ValueError(f"output zero point must be -128 (not {out_zp}; the output scale is taken as 1/256)")
    raw, low, high = _sigmoid_of_inputs(_fixed_logistic, in_scale, in_zp)
    return _clamp_int8(np.where(low, INT8_MIN, np.where(high, INT8_MAX, _divide_by_pot(raw, 23) + INT8_MIN)))


def tanh(in_scale: float, in_zp: int, out_scale: float, out_zp: int) -> np.ndarray:
    """TANH. TFLM checks nothing of the output quantization: it writes the output on scale
    1/128 and zero point 0 whatever `out_scale` and `out_zp` say."""
    raw, low, high = _sigmoid_of_inputs(_fixed_tanh, in_scale, in_zp)
    return _clamp_int8(np.where(low, INT8_MIN, np.where(high, INT8_MAX, _divide_by_pot(raw, 24))))


def _int16_multiplier(multiplier: int) -> int:
    """DownScaleInt32ToInt16Multiplier: the int32 multiplier rounded to its top 16 bits."""
    rounding = 1 << 15
    return 32767 if multiplier >= INT32_MAX - rounding else (multiplier + rounding) >> 16


def hard_swish(in_scale: float, in_zp: int, out_scale: float, out_zp: int) -> np.ndarray:
    """HARD_SWISH: reference_ops::HardSwish in int16 fixed point. Its Prepare requires the output
    multiplier not to shift left. TFLM's source divides the scales in float32, but the installed
    interpreter's multipliers are those of the quotients in double (the output one differs where
    its int16 downscaling meets a tie; the reluish one, of a float32 over 3 * 2^-15, cannot)."""
    hires_scale = in_scale / 128
    out_multiplier, out_exponent = quantize_multiplier(hires_scale / out_scale)
    if out_exponent > 0:
        raise ValueError(f"output scale must be above input scale / 128 (not {out_scale} with input scale {in_scale})")
    reluish_multiplier, reluish_exponent = quantize_multiplier(hires_scale / (3 / 32768))
    out_multiplier, reluish_multiplier = _int16_multiplier(out_multiplier), _int16_multiplier(reluish_multiplier)

    hires = (_INPUTS - in_zp) * (1 << 7)
    preshift_output = _high_mul(hires, out_multiplier, 16)
    reluish = hires  # the input on a scale where 3.0 is 2^15, saturated, then mapped from [-1, 1] to [0, 1]
    if reluish_exponent > 0:
        reluish = _saturating_shift_left(reluish, reluish_exponent - 1, 16)
    reluish = _high_mul(reluish, reluish_multiplier, 16)
    if reluish_exponent > 0:
        reluish = _saturating_shift_left(reluish, 1, 16)
    elif reluish_exponent < 0:
        reluish = _divide_by_pot(reluish, -reluish_exponent, 16)
    reluish = (reluish + (1 << 15)) >> 1
    output = _divide_by_pot(_doubling_high_mul16(reluish, preshift_output), -out_exponent, 16)
    return _clamp_int8(_wrap(output + out_zp, 16))


def leaky_relu(in_scale: float, in_zp: int, out_scale: float, out_zp: int, alpha: float) -> np.ndarray:
    """LEAKY_RELU. TFLM's source takes in_scale * alpha / out_scale and in_scale / out_scale in
    float32, but the installed interpreter's multipliers are those of the double quotients; a
    negative alpha's multiplier is applied to the magnitude and negated."""
    alpha_multiplier, alpha_shift = quantize_multiplier(in_scale * alpha / out_scale)
    identity_multiplier, identity_shift = quantize_multiplier(in_scale / out_scale)
    x = _INPUTS - in_zp
    identity = _multiply_by_quantized_multiplier(x, identity_multiplier, identity_shift)
    scaled = _multiply_by_quantized_multiplier(x, abs(alpha_multiplier), alpha_shift)
    return _clamp_int8(out_zp + np.where(x >= 0, identity, -scaled if alpha_multiplier < 0 else scaled))


def requantize(in_scale: float, in_zp: int, out_scale: float, out_zp: int) -> np.ndarray:
    """QUANTIZE from int8 to int8 (reference_ops::Requantize)."""
    multiplier, shift = quantize_multiplier(in_scale / out_scale)
    return _clamp_int8(_multiply_by_quantized_multiplier(_INPUTS - in_zp, multiplier, shift) + out_zp)


def relu(in_scale: float, in_zp: int, out_scale: float, out_zp: int) -> np.ndarray:
    """RELU: requantized to the output, clamped below at the output zero point (real 0)."""
    multiplier, shift = quantize_multiplier(in_scale / out_scale)
    output = out_zp + _multiply_by_quantized_multiplier(_INPUTS - in_zp, multiplier, shift)
    return np.clip(output, max(INT8_MIN, out_zp), INT8_MAX).astype(np.int8)


def relu6(in_scale: float, in_zp: int, out_scale: float, out_zp: int) -> np.ndarray:
    """RELU6. TFLM does not requantize: it clamps the input values to [input zero point, 6 on the
    input's scale], whatever the output quantization says."""
    six = round_half_away(float(np.float32(6.0) / np.float32(in_scale))) + in_zp
    if six > INT32_MAX:
        raise ValueError(f"input scale {in_scale} is too small: tflm's int32 conversion of 6 / scale overflows")
    six = min(INT8_MAX, six)
    return np.where(_INPUTS > six, six, np.where(_INPUTS < in_zp, in_zp, _INPUTS)).astype(np.int8)


def mul_constant(in_scale: float, in_zp: int, constant: int, constant_scale: float, constant_zp: int,
                 out_scale: float, out_zp: int, act_min: int, act_max: int) -> np.ndarray:
    """MUL of the input by one int8 constant, clamped to [act_min, act_max]: the multiplier is
    in_scale * constant_scale / out_scale in double."""
    multiplier, shift = quantize_multiplier(in_scale * constant_scale / out_scale)
    product = (_INPUTS - in_zp) * (constant - constant_zp)
    output = out_zp + _multiply_by_quantized_multiplier(product, multiplier, shift)
    return np.minimum(act_max, np.maximum(act_min, output)).astype(np.int8)


def add_constant(subtract: bool, position: int, constant: int, scale1: float, zp1: int, scale2: float, zp2: int,
                 out_scale: float, out_zp: int, act_min: int, act_max: int) -> np.ndarray:
    """ADD (SUB: input 1 minus input 2) of the input and one int8 constant at input `position`
    (0 or 1), clamped to [act_min, act_max]: both rescaled to twice the larger input scale."""
    p = add_params(scale1, scale2, out_scale)
    first, second = (constant, _INPUTS) if position == 0 else (_INPUTS, constant)
    a = _multiply_by_quantized_multiplier((first - zp1) * (1 << p["left_shift"]), p["input1_multiplier"],
                                          p["input1_shift"])
    b = _multiply_by_quantized_multiplier((second - zp2) * (1 << p["left_shift"]), p["input2_multiplier"],
                                          p["input2_shift"])
    total = _wrap(a - b if subtract else a + b)
    output = out_zp + _multiply_by_quantized_multiplier(total, p["output_multiplier"], p["output_shift"])
    return np.minimum(act_max, np.maximum(act_min, output)).astype(np.int8)
