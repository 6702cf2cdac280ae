/* int8 SOFTMAX with TFLite's fixed-point exp and reciprocal (gemmlowp). Values are Q-format
 * int32: "Qn" below means n integer bits and 31 - n fractional bits. */
#include "eenn_fixedpoint.h"
#include "eenn_kernels.h"

enum {
    DIFF_INTEGER_BITS = 5, /* scaled input differences are Q5 */
    SUM_INTEGER_BITS = 12, /* the sum of exponentials is Q12 */
};

/* exp(a) for a in [-1/4, 0), Q0 in and out: Taylor series around -1/8. */
static int32_t exp_on_quarter_interval(int32_t a)
{
    const int32_t exp_minus_one_eighth = 1895147668;
    const int32_t one_third = 715827883;
    const int32_t x = a + (1 << 28); /* a + 1/8 */
    const int32_t x2 = eenn_high_mul(x, x);
    const int32_t x3 = eenn_high_mul(x2, x);
    const int32_t x4 = eenn_high_mul(x2, x2);
    const int32_t x4_over_4 = eenn_divide_by_pot(x4, 2);
    const int32_t higher_terms = eenn_divide_by_pot(eenn_high_mul(x4_over_4 + x3, one_third) + x2, 1);
    return exp_minus_one_eighth + eenn_high_mul(exp_minus_one_eighth, x + higher_terms);
}

/* exp(a) for a <= 0, a in Q5, result in Q0: the interval part times exp(-2^k) for each
 * set bit k of the rest. */
static int32_t exp_on_negative_values(int32_t a)
{
    static const int32_t exp_of_minus_power_of_two[7] = {
        1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242, /* exp(-1/4) .. exp(-16) */
    };
    const int32_t fractional_bits = 31 - DIFF_INTEGER_BITS;
    const int32_t one_quarter = 1 << (fractional_bits - 2);
    const int32_t in_interval = (a & (one_quarter - 1)) - one_quarter;
    int32_t result = exp_on_quarter_interval(eenn_saturating_shift_left(in_interval, DIFF_INTEGER_BITS));
    const int32_t rest = in_interval - a;
    for (int32_t k = 0; k < 7; ++k) {
        if (rest & (1 << (fractional_bits - 2 + k))) {
            result = eenn_high_mul(result, exp_of_minus_power_of_two[k]);
        }
    }
    return a == 0 ? INT32_MAX : result;
}

/* 1 / (1 + a) for a in [0, 1), Q0 in and out: three Newton-Raphson steps in Q2. */
static int32_t one_over_one_plus(int32_t a)
{
    const int64_t sum = (int64_t)a + INT32_MAX;
    const int32_t half_denominator = (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
    const int32_t q2_one = 1 << 29;
    int32_t x = 1515870810 + eenn_high_mul(half_denominator, -1010580540); /* 48/17 - 32/17 d */
    for (int32_t i = 0; i < 3; ++i) {
        const int32_t error = q2_one - eenn_high_mul(half_denominator, x);
        x += eenn_saturating_shift_left(eenn_high_mul(x, error), 2);
    }
    return eenn_saturating_shift_left(x, 1);
}

static int32_t leading_zeros(uint32_t x)
{
    int32_t n = 0;
    while (n < 32 && !(x & (UINT32_C(1) << (31 - n)))) {
        ++n;
    }
    return n;
}

void eenn_softmax(const eenn_softmax_params *p, const int8_t *input, int8_t *output)
{
    for (int32_t r = 0; r < p->rows; ++r) {
        const int8_t *in = input + r * p->depth;
        int8_t *out = output + r * p->depth;
        int32_t max = INT8_MIN;
        for (int32_t c = 0; c < p->depth; ++c) {
            max = in[c] > max ? in[c] : max;
        }
        int32_t sum = 0;
        for (int32_t c = 0; c < p->depth; ++c) {
            const int32_t diff = in[c] - max;
            if (diff >= p->diff_min) {
                const int32_t scaled = eenn_requantize(diff, p->input_multiplier, p->input_left_shift);
                sum += eenn_divide_by_pot(exp_on_negative_values(scaled), SUM_INTEGER_BITS);
            }
        }
        /* sum = 2^(bits_over_unit) * (1 + fraction): the reciprocal of 1 + fraction, in Q0 */
        const int32_t headroom = leading_zeros((uint32_t)sum);
        const int32_t bits_over_unit = SUM_INTEGER_BITS - headroom;
        const int32_t fraction = (int32_t)(((uint32_t)sum << headroom) - (UINT32_C(1) << 31));
        const int32_t reciprocal = one_over_one_plus(fraction);
        for (int32_t c = 0; c < p->depth; ++c) {
            const int32_t diff = in[c] - max;
            if (diff >= p->diff_min) {
                const int32_t scaled = eenn_requantize(diff, p->input_multiplier, p->input_left_shift);
                const int32_t e = eenn_high_mul(reciprocal, exp_on_negative_values(scaled));
                const int32_t q = eenn_divide_by_pot(e, bits_over_unit + 31 - 8) + INT8_MIN;
                out[c] = eenn_clamp(q, INT8_MIN, INT8_MAX);
            } else {
                out[c] = INT8_MIN;
            }
        }
    }
}
