/* Fixed-point arithmetic of TFLite's integer kernels (gemmlowp semantics), in C99.
 * Right shifts of negative values are arithmetic, as on every compiler eenn supports. */
#ifndef EENN_FIXEDPOINT_H
#define EENN_FIXEDPOINT_H

#include <stdint.h>

/* round(a * b / 2^31), saturating the one overflowing case. */
static inline int32_t eenn_high_mul(int32_t a, int32_t b)
{
    if (a == INT32_MIN && b == INT32_MIN) {
        return INT32_MAX;
    }
    const int64_t ab = (int64_t)a * (int64_t)b;
    const int64_t nudge = ab >= 0 ? (1LL << 30) : (1 - (1LL << 30));
    return (int32_t)((ab + nudge) / (1LL << 31));
}

/* x / 2^exponent, rounded to nearest, ties away from zero. */
static inline int32_t eenn_divide_by_pot(int32_t x, int32_t exponent)
{
    const int32_t mask = (int32_t)((1LL << exponent) - 1);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/* x * 2^exponent (exponent >= 0), saturating. */
static inline int32_t eenn_saturating_shift_left(int32_t x, int32_t exponent)
{
    const int32_t limit = (int32_t)((1LL << (31 - exponent)) - 1);
    if (x > limit) {
        return INT32_MAX;
    }
    if (x < -limit) {
        return INT32_MIN;
    }
    return (int32_t)((uint32_t)x << exponent);
}

/* x * multiplier * 2^shift / 2^31: TFLite's MultiplyByQuantizedMultiplier (double rounding),
 * for a multiplier >= 0 (every requantization's is) and shift in [-31, 30]. Written for few
 * instructions, and equal to eenn_divide_by_pot(eenn_high_mul(x << left, multiplier), right)
 * for every input: with a multiplier >= 0 the high multiply never saturates and is
 * floor((x * multiplier + 2^30) / 2^31) whatever the sign; the rounding division adds
 * 2^(right-1), less one for a negative value, then shifts, unless that sum would overflow. */
static inline int32_t eenn_requantize(int32_t x, int32_t multiplier, int32_t shift)
{
    const int32_t left = shift > 0 ? shift : 0;
    const int32_t right = shift > 0 ? 0 : -shift;
    const int64_t product = (int64_t)(int32_t)((uint32_t)x << left) * multiplier;
    const int32_t high = (int32_t)((product + (1LL << 30)) >> 31);
    const int32_t nudge = (int32_t)(((1u << right) - 1u + (uint32_t)(high >= 0)) >> 1);
    if (high > INT32_MAX - nudge) {
        return (int32_t)(((int64_t)high + nudge) >> right);
    }
    return (high + nudge) >> right;
}

static inline int8_t eenn_clamp(int32_t x, int32_t lo, int32_t hi)
{
    return (int8_t)(x < lo ? lo : (x > hi ? hi : x));
}

/* How a convolution or fully connected kernel turns an accumulator into an int8 output.
 * Kernels copy these values out of their parameters once: stores to int8 outputs may alias
 * anything, so values read through a pointer after one would be read again.
 *
 * requant holds six words per channel: multiplier m (>= 0), shift, and for a right shift
 * r = -shift >= 1 the constants C = 2^30 + 2^(30 + r) and C - 2^31, each as its low and high
 * word. Then TFLite's double rounding, eenn_requantize(x, m, -r), is one rounding: the high
 * word of x * m + C (x >= 0) or x * m + C - 2^31 (x < 0), shifted right by r - 1. (The high
 * multiply is floor((x m + 2^30) / 2^31); adding 2^(r-1), less one below zero, then shifting
 * by r rounds the same as adding that amount times 2^31 before dividing by 2^(31 + r); and
 * below zero may be tested on x: where the signs of x and the high multiply differ, both
 * give 0.) */
typedef struct {
    const int32_t *bias;
    const int32_t *requant;
    int32_t offset, min, max;
} eenn_output_rule;

static inline int8_t eenn_output(const eenn_output_rule r, int32_t acc, int32_t channel)
{
    acc += r.bias[channel];
    const int32_t *q = r.requant + 6 * channel;
    int32_t value;
    if (__builtin_expect(q[1] < 0, 1)) { /* a right shift: almost every channel */
        const int32_t *c = q + 2 + 2 * (int32_t)((uint32_t)acc >> 31);
        const int64_t rounding = (int64_t)((uint64_t)(uint32_t)c[1] << 32 | (uint32_t)c[0]);
        value = (int32_t)((rounding + (int64_t)acc * q[0]) >> 32) >> ~q[1];
    } else {
        value = eenn_requantize(acc, q[0], q[1]);
    }
    return eenn_clamp(value + r.offset, r.min, r.max);
}

#endif
