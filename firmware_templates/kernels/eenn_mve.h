/* Paired rows times a column on Helium (MVE), for the kernels of the MVE path (kernels/mve/).
 *
 * Sixteen bytes of a pair of rows (eenn_kernels.h) hold eight values of each row, four of the
 * first, four of the second, four of the first, four of the second. The column is spread once
 * into two copies, `low` and `high`, of 2 * n4 bytes each: sixteen bytes of `low` hold eight
 * column values where the first row's values are and zeros where the second's are, `high` the
 * other way round. One VMLADAVA of sixteen weight bytes with each copy then adds eight
 * products to each row's sum. The bias is folded (eenn_kernels.h): no input offset to add. */
#ifndef EENN_MVE_H
#define EENN_MVE_H

#include <string.h>

#include <arm_mve.h>

#include "eenn_fixedpoint.h"
#include "eenn_kernels.h"
#include "eenn_simd.h"

#if !defined(__ARM_FEATURE_MVE)
#error "a Helium kernel compiled for a core without MVE: the board takes another kernel path (boards/README.md)"
#endif

/* The n values of `x` spread into `low` and `high` (2 * n4 bytes each, 4-byte aligned). */
static inline void eenn_mve_spread(const int8_t *x, int32_t n, int8_t *low, int8_t *high)
{
    uint32_t *l = __builtin_assume_aligned(low, 4), *h = __builtin_assume_aligned(high, 4);
    int32_t k = 0;
    for (; k + 4 <= n; k += 4, l += 2, h += 2) {
        const uint32_t v = eenn_load32(x + k);
        l[0] = v;
        l[1] = 0;
        h[0] = 0;
        h[1] = v;
    }
    if (k < n) {
        uint32_t v = 0; /* the last group, completed with zeros */
        memcpy(&v, x + k, (size_t)(n - k));
        l[0] = v;
        l[1] = 0;
        h[0] = 0;
        h[1] = v;
    }
}

/* The accumulators of channels o to o + 3 as int8 outputs at out + o, requantized as TFLite
 * does (a left shift, the saturating rounding doubling high multiply, then a rounding right
 * shift with ties away from zero: VRSHL rounds them up, so a negative value is moved down by
 * one first, as gemmlowp's NEON code does), four channels per instruction. */
static inline void eenn_mve_output4(const eenn_output_rule *r, int32x4_t acc, int32_t o, int8_t *out)
{
    static const uint32_t records[4] = {0, 6, 12, 18}; /* word offsets of four channels' requant records */
    const uint32x4_t at = vld1q_u32(records);
    const int32_t *q = r->requant + 6 * o;
    const int32x4_t multiplier = vldrwq_gather_shifted_offset_s32(q, at);
    const int32x4_t shift = vldrwq_gather_shifted_offset_s32(q + 1, at);
    const int32x4_t zero = vdupq_n_s32(0);
    const int32x4_t right = vminq_s32(shift, zero); /* minus the right shift */
    acc = vshlq_s32(vaddq_s32(acc, vld1q_s32(r->bias + o)), vmaxq_s32(shift, zero));
    acc = vqrdmulhq_s32(acc, multiplier);
    acc = vrshlq_s32(vqaddq_s32(acc, vshrq_n_s32(vandq_s32(acc, right), 31)), right);
    acc = vminq_s32(vmaxq_s32(vaddq_n_s32(acc, r->offset), vdupq_n_s32(r->min)), vdupq_n_s32(r->max));
    vstrbq_s32(out + o, acc);
}

/* `rows` paired rows of n values (`weights`) times the column of n values, spread into `low`
 * and `high`, as outputs by `rule`. */
static inline void eenn_mve_multiply(const int8_t *weights, int32_t rows, int32_t n, const int8_t *low,
                                     const int8_t *high, const int8_t *column, const eenn_output_rule *rule,
                                     int8_t *out)
{
    const int32_t n4 = eenn_padded(n);
    const eenn_output_rule r = *rule;
    const int32_t span = 2 * n4; /* bytes of a pair */
    const int32_t whole = span & ~15;
    const mve_pred16_t half = vctp8q((uint32_t)(span - whole)); /* the last 8 bytes, if n4 is not a multiple of 8 */
    const int8_t *w = weights;
    int32_t o = 0;
    for (; o + 4 <= rows; o += 4, w += 2 * span) {
        const int8_t *u = w, *v = w + span, *l = low, *h = high;
        int32_t acc0 = 0, acc1 = 0, acc2 = 0, acc3 = 0;
        for (int32_t k = whole; k > 0; k -= 16, u += 16, v += 16, l += 16, h += 16) {
            const int8x16_t lk = vld1q_s8(l), hk = vld1q_s8(h), uk = vld1q_s8(u), vk = vld1q_s8(v);
            acc0 = vmladavaq_s8(acc0, uk, lk);
            acc1 = vmladavaq_s8(acc1, uk, hk);
            acc2 = vmladavaq_s8(acc2, vk, lk);
            acc3 = vmladavaq_s8(acc3, vk, hk);
        }
        if (whole < span) {
            const int8x16_t lk = vldrbq_z_s8(l, half), hk = vldrbq_z_s8(h, half);
            const int8x16_t uk = vldrbq_z_s8(u, half), vk = vldrbq_z_s8(v, half);
            acc0 = vmladavaq_s8(acc0, uk, lk);
            acc1 = vmladavaq_s8(acc1, uk, hk);
            acc2 = vmladavaq_s8(acc2, vk, lk);
            acc3 = vmladavaq_s8(acc3, vk, hk);
        }
        int32x4_t acc = vdupq_n_s32(acc0);
        acc = vsetq_lane_s32(acc1, acc, 1);
        acc = vsetq_lane_s32(acc2, acc, 2);
        acc = vsetq_lane_s32(acc3, acc, 3);
        eenn_mve_output4(&r, acc, o, out);
    }
    if (o + 2 <= rows) {
        const int8_t *u = w, *l = low, *h = high;
        int32_t acc0 = 0, acc1 = 0;
        for (int32_t k = whole; k > 0; k -= 16, u += 16, l += 16, h += 16) {
            const int8x16_t uk = vld1q_s8(u);
            acc0 = vmladavaq_s8(acc0, uk, vld1q_s8(l));
            acc1 = vmladavaq_s8(acc1, uk, vld1q_s8(h));
        }
        if (whole < span) {
            const int8x16_t uk = vldrbq_z_s8(u, half);
            acc0 = vmladavaq_s8(acc0, uk, vldrbq_z_s8(l, half));
            acc1 = vmladavaq_s8(acc1, uk, vldrbq_z_s8(h, half));
        }
        out[o] = eenn_output(r, acc0, o);
        out[o + 1] = eenn_output(r, acc1, o + 1);
        w += span;
        o += 2;
    }
    if (o < rows) { /* the last row, alone: its values in order, times the column itself */
        const int8_t *u = w, *x = column;
        int32_t acc = 0;
        for (int32_t k = n & ~15; k > 0; k -= 16, u += 16, x += 16) {
            acc = vmladavaq_s8(acc, vld1q_s8(u), vld1q_s8(x));
        }
        const mve_pred16_t tail = vctp8q((uint32_t)(n & 15));
        acc = vmladavaq_s8(acc, vldrbq_z_s8(u, tail), vldrbq_z_s8(x, tail));
        out[o] = eenn_output(r, acc, o);
    }
}

#endif
