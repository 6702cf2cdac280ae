/* Rows times a column on Helium (MVE), for the kernels of the MVE path (kernels/mve/).
 *
 * Row blocks (EENN_KERNELS_MVE, eenn_kernels.h): rows of n values, each padded with zeros to
 * a multiple of 16, go in blocks of four, a block's rows interleaved sixteen values at a time
 * (row 0 values 0-15, row 1 values 0-15, ..., row 3, row 0 values 16-31, ...); the last block
 * completed with rows of zeros. Per sixteen values of a block, one load of the column and four
 * of weights from one pointer, then one VMLADAVA per row adds sixteen products to its sum. The
 * bias is folded: no input offset to add. */
#ifndef EENN_MVE_H
#define EENN_MVE_H

#include <arm_mve.h>

#include "eenn_fixedpoint.h"
#include "eenn_kernels.h"

#if !defined(__ARM_FEATURE_MVE) || !EENN_KERNELS_MVE
#error "a Helium kernel compiled for a core without MVE or for constants in another layout: the board takes another kernel path (boards/README.md)"
#endif

/* The accumulators of four channels as int8 values, with their four biases and requantization
 * records (`bias`, `q`: Helium's layout, eenn_kernels.h): requantized as TFLite does (a left
 * shift, the saturating rounding doubling high multiply, then a rounding right shift with ties
 * away from zero: VRSHL rounds them up, so a negative value is moved down by one first, as
 * gemmlowp's NEON code does), four channels per instruction. */
static inline int32x4_t eenn_mve_requantize(const eenn_output_rule *r, int32x4_t acc, const int32_t *bias,
                                            const int32_t *q)
{
    const int32x4_t right = vld1q_s32(q + 8); /* minus the right shifts */
    acc = vshlq_s32(vaddq_s32(acc, vld1q_s32(bias)), vld1q_s32(q + 4));
    acc = vqrdmulhq_s32(acc, vld1q_s32(q));
    acc = vrshlq_s32(vqaddq_s32(acc, vshrq_n_s32(vandq_s32(acc, right), 31)), right);
    return vminq_s32(vmaxq_s32(vaddq_n_s32(acc, r->offset), vdupq_n_s32(r->min)), vdupq_n_s32(r->max));
}

/* The sums of four rows of a block (at *w, moved past them) times the n values of `column`.
 * A tail-predicated loop (WLSTP/LETP): its last pass loads and adds only the lanes below n.
 * VMLADAVA accumulates into an even register, hence the registers named. */
static inline int32x4_t eenn_mve_block(const int8_t **w, const int8_t *column, int32_t n)
{
    register int32_t a0 __asm__("r0") = 0, a1 __asm__("r2") = 0, a2 __asm__("r4") = 0, a3 __asm__("r6") = 0;
    __asm__ volatile("wlstp.8 lr, %[n], 2f\n"
                     "1: vldrb.8 q0, [%[x]], #16\n"
                     "vldrb.8 q1, [%[w]], #16\n"
                     "vmladava.s8 %[a0], q1, q0\n"
                     "vldrb.8 q1, [%[w]], #16\n"
                     "vmladava.s8 %[a1], q1, q0\n"
                     "vldrb.8 q1, [%[w]], #16\n"
                     "vmladava.s8 %[a2], q1, q0\n"
                     "vldrb.8 q1, [%[w]], #16\n"
                     "vmladava.s8 %[a3], q1, q0\n"
                     "letp lr, 1b\n"
                     "2:"
                     : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [x] "+r"(column), [w] "+r"(*w)
                     : [n] "r"(n)
                     : "q0", "q1", "lr", "memory");
    int32x4_t acc = vdupq_n_s32(a0);
    acc = vsetq_lane_s32(a1, acc, 1);
    acc = vsetq_lane_s32(a2, acc, 2);
    return vsetq_lane_s32(a3, acc, 3);
}

/* `rows` rows of n values (`weights`, row blocks) times `column`, as outputs by `rule`. */
static inline void eenn_mve_multiply(const int8_t *weights, int32_t rows, int32_t n, const int8_t *column,
                                     const eenn_output_rule *rule, int8_t *out)
{
    const eenn_output_rule r = *rule;
    const int8_t *w = weights;
    const int32_t *bias = r.bias, *q = r.requant;
    int32_t o = 0;
    for (; o + 4 <= rows; o += 4, bias += 4, q += 12) {
        vstrbq_s32(out + o, eenn_mve_requantize(&r, eenn_mve_block(&w, column, n), bias, q));
    }
    if (o < rows) { /* the last block's rows past `rows` are zeros, not stored */
        vstrbq_p_s32(out + o, eenn_mve_requantize(&r, eenn_mve_block(&w, column, n), bias, q),
                     vctp32q((uint32_t)(rows - o)));
    }
}

#endif
