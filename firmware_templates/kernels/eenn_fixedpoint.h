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

/* x * multiplier * 2^shift / 2^31: TFLite's MultiplyByQuantizedMultiplier (double rounding). */
static inline int32_t eenn_requantize(int32_t x, int32_t multiplier, int32_t shift)
{
    const int32_t left = shift > 0 ? shift : 0;
    const int32_t right = shift > 0 ? 0 : -shift;
    return eenn_divide_by_pot(eenn_high_mul((int32_t)((uint32_t)x << left), multiplier), right);
}

static inline int8_t eenn_clamp(int32_t x, int32_t lo, int32_t hi)
{
    return (int8_t)(x < lo ? lo : (x > hi ? hi : x));
}

#endif
