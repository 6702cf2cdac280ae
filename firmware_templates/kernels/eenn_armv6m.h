/* What the Armv6-M convolution and fully connected kernels share (kernels/armv6m/).
 *
 * Thumb-1 loads a byte with an immediate offset only unsigned, and a Cortex-M0 has eight low
 * registers and a 32 x 32 -> 32 multiply. So these kernels multiply unsigned bytes: the
 * weights are stored as w + 128 (eenn.ops._layout) and the input is turned into x + 128 once
 * per column. Since (w + 128)(x + 128) = w x + 128 w + 128 (x + 128), a row's sum less 128
 * times the column's sum is the sum of w x plus 128 times the row's weights, which the bias
 * takes away.
 *
 * Unsigned blocks: the weights of a layer ([rows][n]) padded with zeros to n4 = n rounded up to
 * a multiple of 4 values (eenn_padded) and to a multiple of 4 rows; in blocks of four rows
 * interleaved four values at a time (row 0 values 0-3, row 1 values 0-3, row 2, row 3, row 0
 * values 4-7, ...).
 * The bias is folded: bias + (input_offset - 128) times the row's sum of weights. */
#ifndef EENN_ARMV6M_H
#define EENN_ARMV6M_H

#include <stdint.h>

#include "eenn_fixedpoint.h"
#include "eenn_simd.h"

/* `from`'s n values as x + 128 in `to` (n4 bytes, 4-byte aligned; `to` may be `from`), the
 * padding as 0; returns -128 times their sum, which starts each accumulator of the column. */
static inline int32_t eenn_armv6m_column(uint8_t *to, const int8_t *from, int32_t n, int32_t n4)
{
    int32_t k = 0;
    if (((uintptr_t)from & 3) == 0) {
        for (; k + 4 <= n; k += 4) {
            eenn_store32_aligned(to + k, eenn_load32_aligned(from + k) ^ 0x80808080u);
        }
    }
    for (; k < n; ++k) {
        to[k] = (uint8_t)(from[k] ^ 0x80);
    }
    for (; k < n4; ++k) {
        to[k] = 0;
    }
    /* byte sums two lanes of 16 bits at a time: 128 words add up to at most 2 * 128 * 255 */
    int32_t sum = 0;
    for (k = 0; k < n4;) {
        uint32_t lanes = 0;
        for (const int32_t end = k + 512 < n4 ? k + 512 : n4; k < end; k += 4) {
            const uint32_t word = eenn_load32_aligned(to + k);
            lanes += (word & 0x00FF00FFu) + ((word >> 8) & 0x00FF00FFu);
        }
        sum += (int32_t)((lanes & 0xFFFFu) + (lanes >> 16));
    }
    return -128 * sum;
}

/* The four sums over a column of n4 unsigned values (x, to x_end) of one unsigned block's
 * rows (w) times the column. On Thumb, eight values a loop (an odd group of four first: the
 * loop is entered half way): one byte load of the column, then per row a byte load of the
 * weight, MULS and ADDS; 108 instructions per 32 multiplies. */
#if defined(__thumb__)
#define EENN_ARMV6M_IN_REGISTER __attribute__((unused)) /* a naked function reads its arguments in r0-r3 */
__attribute__((naked, noinline)) static void eenn_armv6m_block(EENN_ARMV6M_IN_REGISTER const uint8_t *x,
                                                               EENN_ARMV6M_IN_REGISTER const uint8_t *w,
                                                               EENN_ARMV6M_IN_REGISTER const uint8_t *x_end,
                                                               EENN_ARMV6M_IN_REGISTER int32_t sums[4])
{
#define EENN_ARMV6M_VALUE(at, group, lane)                                                                          \
    "ldrb r7, [r0, #" #at "]\n"                                                                                    \
    "ldrb r2, [r1, #" #group "*16+" #lane "]\n muls r2, r7, r2\n adds r3, r3, r2\n"                                \
    "ldrb r2, [r1, #" #group "*16+4+" #lane "]\n muls r2, r7, r2\n adds r4, r4, r2\n"                              \
    "ldrb r2, [r1, #" #group "*16+8+" #lane "]\n muls r2, r7, r2\n adds r5, r5, r2\n"                              \
    "ldrb r2, [r1, #" #group "*16+12+" #lane "]\n muls r2, r7, r2\n adds r6, r6, r2\n"
    __asm__ volatile(".syntax unified\n"
                     "push {r3, r4, r5, r6, r7, lr}\n"
                     "mov r12, r2\n" /* x_end */
                     "movs r3, #0\n movs r4, #0\n movs r5, #0\n movs r6, #0\n"
                     "subs r2, r2, r0\n lsls r2, r2, #29\n bpl 1f\n" /* n4 / 4 is odd */
                     "subs r0, r0, #4\n subs r1, r1, #16\n b 2f\n"
                     "1:\n" EENN_ARMV6M_VALUE(0, 0, 0) EENN_ARMV6M_VALUE(1, 0, 1) EENN_ARMV6M_VALUE(2, 0, 2)
                         EENN_ARMV6M_VALUE(3, 0, 3)
                     "2:\n" EENN_ARMV6M_VALUE(4, 1, 0) EENN_ARMV6M_VALUE(5, 1, 1) EENN_ARMV6M_VALUE(6, 1, 2)
                         EENN_ARMV6M_VALUE(7, 1, 3)
                     "adds r0, r0, #8\n"
                     "adds r1, r1, #32\n"
                     "cmp r0, r12\n"
                     "bcc 1b\n"
                     "pop {r0}\n" /* sums */
                     "stm r0!, {r3, r4, r5, r6}\n"
                     "pop {r4, r5, r6, r7, pc}\n");
#undef EENN_ARMV6M_VALUE
}
#undef EENN_ARMV6M_IN_REGISTER
#else
static void eenn_armv6m_block(const uint8_t *x, const uint8_t *w, const uint8_t *x_end, int32_t sums[4])
{
    sums[0] = sums[1] = sums[2] = sums[3] = 0;
    for (; x < x_end; x += 4, w += 16) {
        for (int32_t row = 0; row < 4; ++row) {
            for (int32_t k = 0; k < 4; ++k) {
                sums[row] += (int32_t)w[4 * row + k] * x[k];
            }
        }
    }
}
#endif

/* The high word of a * m + c (m >= 0; c[0] the low word of c, c[1] the high one), from four
 * 16 x 16-bit products: Armv6-M has no 32 x 32 -> 64-bit multiply, and the library's 64-bit
 * one takes some 80 instructions. On Thumb, 19 instructions. */
static inline int32_t eenn_armv6m_high_mul(int32_t a, int32_t m, const int32_t *c)
{
#if defined(__thumb__)
    uint32_t lo, m_lo, part;
    __asm__(".syntax unified\n"
            "uxth %[lo], %[a]\n asrs %[a], %[a], #16\n"     /* a = a_hi, lo = a_lo */
            "uxth %[m_lo], %[m]\n lsrs %[m], %[m], #16\n" /* m = m_hi */
            "movs %[part], %[lo]\n muls %[part], %[m], %[part]\n" /* a_lo m_hi */
            "muls %[lo], %[m_lo], %[lo]\n"                    /* a_lo m_lo */
            "muls %[m_lo], %[a], %[m_lo]\n"                   /* a_hi m_lo */
            "muls %[a], %[m], %[a]\n"                         /* a_hi m_hi: the high word */
            "lsls %[m], %[part], #16\n lsrs %[part], %[part], #16\n adds %[lo], %[lo], %[m]\n adcs %[a], %[part]\n"
            "lsls %[m], %[m_lo], #16\n asrs %[m_lo], %[m_lo], #16\n adds %[lo], %[lo], %[m]\n adcs %[a], %[m_lo]\n"
            "ldr %[part], [%[c]]\n ldr %[m], [%[c], #4]\n adds %[lo], %[lo], %[part]\n adcs %[a], %[m]\n"
            : [a] "+l"(a), [m] "+l"(m), [lo] "=&l"(lo), [m_lo] "=&l"(m_lo), [part] "=&l"(part)
            : [c] "l"(c), "m"(*(const int32_t(*)[2])c)
            : "cc");
    return a;
#else
    const int64_t sum = (int64_t)((uint64_t)(uint32_t)c[1] << 32 | (uint32_t)c[0]) + (int64_t)a * m;
    return (int32_t)(sum >> 32);
#endif
}

/* eenn_output (eenn_fixedpoint.h) with the high multiply of eenn_armv6m_high_mul. */
static inline int8_t eenn_armv6m_output(const eenn_output_rule r, int32_t acc, int32_t channel)
{
    acc += r.bias[channel];
    const int32_t *q = r.requant + 6 * channel;
    int32_t value;
    if (__builtin_expect(q[1] < 0, 1)) {
        const int32_t *c = q + 2 + 2 * (int32_t)((uint32_t)acc >> 31);
        value = eenn_armv6m_high_mul(acc, q[0], c) >> ~q[1];
    } else {
        value = eenn_requantize(acc, q[0], q[1]);
    }
    return eenn_clamp(value + r.offset, r.min, r.max);
}

/* A layer's `rows` outputs for one column (n4 unsigned values, `start` from
 * eenn_armv6m_column), weights in unsigned blocks. */
static inline void eenn_armv6m_rows(const eenn_output_rule rule, const uint8_t *column, int32_t n4, int32_t start,
                                    const uint8_t *weights, int32_t rows, int8_t *out)
{
    for (int32_t row = 0; row < rows; row += 4, weights += 4 * n4) {
        int32_t sums[4];
        eenn_armv6m_block(column, weights, column + n4, sums);
        for (int32_t j = 0; j < 4 && row + j < rows; ++j) {
            out[row + j] = eenn_armv6m_output(rule, start + sums[j], row + j);
        }
    }
}

#endif
