"""TFLite's prepare-time integer arithmetic, done once on the host.

Each function mirrors what the TFLite Micro kernels compute in their Prepare step (scales
are float32 in the flatbuffer, products and quotients are taken in double where TFLite
takes them in double), so that the generated C, given these constants, computes what
TFLM computes bit for bit.
"""

import math

import numpy as np

INT8_MIN, INT8_MAX = -128, 127


def round_half_away(x: float) -> int:
    """std::round: to nearest, ties away from zero."""
    return int(math.copysign(math.floor(abs(x) + 0.5), x))


def quantize_multiplier(real: float) -> tuple:
    """real = multiplier * 2^shift / 2^31, multiplier in [2^30, 2^31): TFLite's QuantizeMultiplier."""
    if real == 0.0:
        return 0, 0
    fraction, shift = math.frexp(real)
    fixed = round_half_away(fraction * (1 << 31))
    if fixed == 1 << 31:
        fixed //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    return fixed, shift


def activation_range(activation: str, scale: float, zero_point: int) -> tuple:
    """The int8 clamp of a fused activation (CalculateActivationRangeQuantized), or None."""

    def quantize(value):
        return zero_point + round_half_away(float(np.float32(value) / np.float32(scale)))

    if activation == "NONE":
        return INT8_MIN, INT8_MAX
    if activation == "RELU":
        return max(INT8_MIN, quantize(0.0)), INT8_MAX
    if activation == "RELU6":
        return max(INT8_MIN, quantize(0.0)), min(INT8_MAX, quantize(6.0))
    if activation == "RELU_N1_TO_1":
        return max(INT8_MIN, quantize(-1.0)), min(INT8_MAX, quantize(1.0))
    return None


def same_or_valid(padding: str, size: int, kernel: int, stride: int, dilation: int = 1) -> tuple:
    """(output size, padding before the input) of one spatial axis, as TFLite computes them."""
    effective = (kernel - 1) * dilation + 1
    out = (size + stride - 1) // stride if padding == "SAME" else (size + stride - effective) // stride
    total = max((out - 1) * stride + effective - size, 0)
    return out, total // 2


def conv_multipliers(input_scale: float, weight_scales, output_scale: float, per_tensor_product=False):
    """Per-channel (multiplier, shift) lists of a conv, depthwise conv or fully connected op.

    TFLM multiplies the float32 scales in double, except for a per-tensor FULLY_CONNECTED,
    whose input and weight scales are multiplied in float32 first.
    """
    pairs = []
    for w in weight_scales:
        if per_tensor_product:
            product = float(np.float32(input_scale) * np.float32(w))
        else:
            product = input_scale * w
        pairs.append(quantize_multiplier(product / output_scale))
    return [m for m, _ in pairs], [s for _, s in pairs]


def add_params(scale1: float, scale2: float, output_scale: float, left_shift: int = 20) -> dict:
    """Multipliers of an int8 ADD: inputs rescaled to twice the larger input scale."""
    twice_max = 2 * max(scale1, scale2)
    m1, s1 = quantize_multiplier(scale1 / twice_max)
    m2, s2 = quantize_multiplier(scale2 / twice_max)
    mo, so = quantize_multiplier(twice_max / ((1 << left_shift) * output_scale))
    return {"left_shift": left_shift, "input1_multiplier": m1, "input1_shift": s1, "input2_multiplier": m2,
            "input2_shift": s2, "output_multiplier": mo, "output_shift": so}


SOFTMAX_DIFF_INTEGER_BITS = 5


def softmax_params(beta: float, input_scale: float) -> "dict | None":
    """Input multiplier, left shift and smallest input difference of an int8 SOFTMAX, or None
    when the input scale is outside what the kernel handles (TFLM aborts there too)."""
    bits = SOFTMAX_DIFF_INTEGER_BITS
    real = min(beta * input_scale * (1 << (31 - bits)), (1 << 31) - 1.0)
    if not real > 1.0:
        return None
    multiplier, shift = quantize_multiplier(real)
    if shift > 30:
        return None
    radius = math.floor(((1 << bits) - 1) * (1 << (31 - bits)) / (1 << shift))
    return {"input_multiplier": multiplier, "input_left_shift": shift, "diff_min": -radius}


def mean_sum_rescale(input_scale: float, output_scale: float, count: int) -> tuple:
    """(multiplier, shift) that maps a zero-point-corrected sum of `count` values to the
    output (QuantizedMeanOrSum): 1/count folded into the multiplier."""
    multiplier, shift = quantize_multiplier(input_scale / output_scale)
    extra = min(count.bit_length() - 1, 32, 31 + shift)
    return int((multiplier << extra) // count), shift - extra
