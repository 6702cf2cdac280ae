/* CONV_2D on the DSP extension. Output positions go two at a time: their im2col columns
 * (the padded border holds the input zero point; the input offset is in the folded bias)
 * are widened to 16 bits (SXTB16), interleaved four values at a time. Then each pair
 * of output channels (paired rows: one 8-byte load per four values of both) is widened
 * (SXTB16) in the same lane order and multiplied with both columns pairwise (SMLAD): sixteen
 * MACs per two weight words and four column words. The first column is written to the last
 * quarter of the widened buffer: widening, group by group, never reaches the values it has
 * yet to read. */
#include "eenn_fixedpoint.h"
#include "eenn_kernels.h"
#include "eenn_simd.h"

#if EENN_KERNELS_MVE || EENN_KERNELS_ARMV6M
#error "constants laid out for the Helium or Armv6-M kernels: this build compiles kernels/mve/ or kernels/armv6m/ instead"
#endif

#if !EENN_USE_DSP
#error "a DSP kernel compiled for a core without the DSP extension: the board takes kernels = \"portable\" (boards/README.md)"
#endif

/* Columns a and b (groups of 4 values) widened: per group a(0,2) a(1,3) b(0,2) b(1,3). */
static void widen(const int8_t *a, const int8_t *b, uint32_t *wide, int32_t groups)
{
    for (int32_t g = 0; g < groups; ++g, a += 4, b += 4, wide += 4) {
        const uint32_t x = eenn_load32(a), y = eenn_load32(b);
        wide[0] = eenn_sxtb16(x);
        wide[1] = eenn_sxtb16_ror8(x);
        wide[2] = eenn_sxtb16(y);
        wide[3] = eenn_sxtb16_ror8(y);
    }
}

/* Both widened columns against every output channel; out1 may be out0 (an odd last position). */
static void multiply(const eenn_conv_params *p, const uint32_t *wide, int32_t groups, int8_t *out0, int8_t *out1)
{
    const int8_t *w = p->weights;
    const uint32_t *end = wide + 4 * groups;
    const int32_t out_c = p->out_c;
    const eenn_output_rule rule = {p->bias, p->requant, p->output_offset, p->act_min, p->act_max};
    int32_t oc = 0;
    for (; oc + 2 <= out_c; oc += 2) {
        int32_t acc00 = 0, acc01 = 0, acc10 = 0, acc11 = 0; /* acc<column><channel> */
        for (const uint32_t *x = wide; x < end; x += 4, w += 8) {
            const uint32_t u = eenn_load32_aligned(w), v = eenn_load32_aligned(w + 4);
            const uint32_t u02 = eenn_sxtb16(u), u13 = eenn_sxtb16_ror8(u);
            acc00 = eenn_smlad(x[1], u13, eenn_smlad(x[0], u02, acc00));
            acc10 = eenn_smlad(x[3], u13, eenn_smlad(x[2], u02, acc10));
            const uint32_t v02 = eenn_sxtb16(v), v13 = eenn_sxtb16_ror8(v);
            acc01 = eenn_smlad(x[1], v13, eenn_smlad(x[0], v02, acc01));
            acc11 = eenn_smlad(x[3], v13, eenn_smlad(x[2], v02, acc11));
        }
        out0[oc] = eenn_output(rule, acc00, oc);
        out0[oc + 1] = eenn_output(rule, acc01, oc + 1);
        out1[oc] = eenn_output(rule, acc10, oc);
        out1[oc + 1] = eenn_output(rule, acc11, oc + 1);
    }
    if (oc < out_c) { /* the last channel, alone */
        int32_t acc0 = 0, acc1 = 0;
        for (const uint32_t *x = wide; x < end; x += 4, w += 4) {
            const uint32_t u = eenn_load32_aligned(w);
            const uint32_t u02 = eenn_sxtb16(u), u13 = eenn_sxtb16_ror8(u);
            acc0 = eenn_smlad(x[1], u13, eenn_smlad(x[0], u02, acc0));
            acc1 = eenn_smlad(x[3], u13, eenn_smlad(x[2], u02, acc1));
        }
        out0[oc] = eenn_output(rule, acc0, oc);
        out1[oc] = eenn_output(rule, acc1, oc);
    }
}

void eenn_conv2d(const eenn_conv_params *p, const int8_t *input, int8_t *output, int8_t *scratch, int32_t first_row,
                 int32_t end_row)
{
    const int32_t out_w = p->out_w, out_rows = p->out_rows, out_c = p->out_c;
    const int32_t end = end_row * out_w;
    const int32_t padded = eenn_padded(p->k_h * p->k_w * p->in_c);
    uint32_t *wide = __builtin_assume_aligned(scratch, 4);
    int8_t *first = scratch + 3 * padded, *second = scratch + 4 * padded;
    for (int32_t at = first_row * out_w; at < end; at += 2) {
        const int32_t next = at + 1 < end ? at + 1 : at;
        eenn_im2col(p, input, first, at);
        eenn_im2col(p, input, second, next);
        widen(first, second, wide, padded / 4);
        multiply(p, wide, padded / 4, eenn_position(output, at, out_w, out_rows, out_c),
                 eenn_position(output, next, out_w, out_rows, out_c));
    }
}
