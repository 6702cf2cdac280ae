/* FULLY_CONNECTED on the DSP extension. The input is widened once to 16 bits (SXTB16; the
 * input offset is in the folded bias); then output rows go four at a time, two pairs (paired rows: one
 * 8-byte load per four values of both rows of a pair), widened (SXTB16) in the inputs'
 * lane order and multiplied pairwise (SMLAD): sixteen MACs per four weight words and two
 * input words. */
#include <string.h>

#include "eenn_fixedpoint.h"
#include "eenn_kernels.h"
#include "eenn_simd.h"

#if EENN_KERNELS_MVE || EENN_KERNELS_ARMV6M
#error "constants laid out for the Helium or Armv6-M kernels: this build compiles kernels/mve/ or kernels/armv6m/ instead"
#endif

#if !EENN_USE_DSP
#error "a DSP kernel compiled for a core without the DSP extension: the board takes kernels = \"portable\" (boards/README.md)"
#endif

/* n inputs widened to 16 bits: per four, lanes (0, 2) then (1, 3); the last group is
 * completed with anything. */
static void widen(const int8_t *x, int32_t n, uint32_t *wide)
{
    int32_t k = 0;
    for (; k + 4 <= n; k += 4, wide += 2) {
        const uint32_t v = eenn_load32(x + k);
        wide[0] = eenn_sxtb16(v);
        wide[1] = eenn_sxtb16_ror8(v);
    }
    if (k < n) {
        uint32_t v = 0; /* past the last input: any value, its weights are 0 */
        memcpy(&v, x + k, (size_t)(n - k));
        wide[0] = eenn_sxtb16(v);
        wide[1] = eenn_sxtb16_ror8(v);
    }
}

/* `rows` paired rows of 4 * groups values times the widened input, as outputs by `rule`. */
static void multiply(const int8_t *weights, int32_t rows, const uint32_t *wide, int32_t groups,
                     const eenn_output_rule *rule, int8_t *out)
{
    const eenn_output_rule r = *rule;
    const uint32_t *end = wide + 2 * groups;
    const int32_t pair_bytes = 8 * groups;
    const int8_t *w = weights;
    int32_t o = 0;
    for (; o + 4 <= rows; o += 4, w += 2 * pair_bytes) {
        const int8_t *w0 = w, *w1 = w + pair_bytes;
        int32_t acc0 = 0, acc1 = 0, acc2 = 0, acc3 = 0;
        for (const uint32_t *x = wide; x < end; x += 2, w0 += 8, w1 += 8) {
            const uint32_t x02 = x[0], x13 = x[1];
            const uint32_t a = eenn_load32_aligned(w0), b = eenn_load32_aligned(w0 + 4);
            acc0 = eenn_smlad(x13, eenn_sxtb16_ror8(a), eenn_smlad(x02, eenn_sxtb16(a), acc0));
            acc1 = eenn_smlad(x13, eenn_sxtb16_ror8(b), eenn_smlad(x02, eenn_sxtb16(b), acc1));
            const uint32_t c = eenn_load32_aligned(w1), d = eenn_load32_aligned(w1 + 4);
            acc2 = eenn_smlad(x13, eenn_sxtb16_ror8(c), eenn_smlad(x02, eenn_sxtb16(c), acc2));
            acc3 = eenn_smlad(x13, eenn_sxtb16_ror8(d), eenn_smlad(x02, eenn_sxtb16(d), acc3));
        }
        out[o] = eenn_output(r, acc0, o);
        out[o + 1] = eenn_output(r, acc1, o + 1);
        out[o + 2] = eenn_output(r, acc2, o + 2);
        out[o + 3] = eenn_output(r, acc3, o + 3);
    }
    if (o + 2 <= rows) {
        int32_t acc0 = 0, acc1 = 0;
        for (const uint32_t *x = wide; x < end; x += 2, w += 8) {
            const uint32_t a = eenn_load32_aligned(w), b = eenn_load32_aligned(w + 4);
            acc0 = eenn_smlad(x[1], eenn_sxtb16_ror8(a), eenn_smlad(x[0], eenn_sxtb16(a), acc0));
            acc1 = eenn_smlad(x[1], eenn_sxtb16_ror8(b), eenn_smlad(x[0], eenn_sxtb16(b), acc1));
        }
        out[o] = eenn_output(r, acc0, o);
        out[o + 1] = eenn_output(r, acc1, o + 1);
        o += 2;
    }
    if (o < rows) { /* the last row, alone */
        int32_t acc = 0;
        for (const uint32_t *x = wide; x < end; x += 2, w += 4) {
            const uint32_t a = eenn_load32_aligned(w);
            acc = eenn_smlad(x[1], eenn_sxtb16_ror8(a), eenn_smlad(x[0], eenn_sxtb16(a), acc));
        }
        out[o] = eenn_output(r, acc, o);
    }
}

void eenn_fully_connected(const eenn_fully_connected_params *p, const int8_t *input, int8_t *output,
                          int8_t *scratch)
{
    const eenn_output_rule rule = {p->bias, p->requant, p->output_offset, p->act_min, p->act_max};
    uint32_t *wide = __builtin_assume_aligned(scratch, 4);
    widen(input, p->in_n, wide);
    multiply(p->weights, p->out_n, wide, eenn_padded(p->in_n) / 4, &rule, output);
}
