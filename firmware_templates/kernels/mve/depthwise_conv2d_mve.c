/* DEPTHWISE_CONV_2D on Helium. With a depth multiplier of 1, per output position, the address of
 * each window tap's channels is worked out once (a tap in the padding reads a row of the input
 * zero point, in scratch); then channels go sixteen at a time: per tap, sixteen inputs and
 * weights multiplied as 16-bit products (VMULLB, VMULLT: even and odd lanes) and widened into
 * four accumulators of channels four apart (VMOVLB, VMOVLT). The last channels go four at a
 * time, loaded widened to 32 bits and predicated (Helium multiplies and accumulates lane by
 * lane only by a scalar). The bias holds the input offset times each channel's weight sum
 * (eenn_kernels.h), so the zero point of a padded tap adds nothing. Other multipliers take the
 * reference loop. Weights: eenn.ops._layout.depthwise_layer. */
#include "eenn_mve.h"

/* Channels c to c + 15 of `taps` window taps (their addresses `at`), as outputs at out. */
static void sixteen(const eenn_conv_params *p, const int8_t *const *at, int32_t taps, int32_t c,
                    const eenn_output_rule *rule, int8_t *out)
{
    int32x4_t a0 = vdupq_n_s32(0), a1 = a0, a2 = a0, a3 = a0; /* channels c + 0, 2, 1, 3 and every fourth on */
    const int8_t *w = (const int8_t *)p->weights + c * taps;
    for (int32_t t = 0; t < taps; ++t, w += 16) {
        const int8x16_t xt = vld1q_s8(at[t] + c), wt = vld1q_s8(w);
        const int16x8_t even = vmullbq_int_s8(xt, wt), odd = vmulltq_int_s8(xt, wt);
        a0 = vaddq_s32(a0, vmovlbq_s16(even));
        a1 = vaddq_s32(a1, vmovltq_s16(even));
        a2 = vaddq_s32(a2, vmovlbq_s16(odd));
        a3 = vaddq_s32(a3, vmovltq_s16(odd));
    }
    /* through memory, so that requantizing one leaves the vector registers to it */
    int32_t sums[16];
    vst1q_s32(sums, a0);
    vst1q_s32(sums + 4, a1);
    vst1q_s32(sums + 8, a2);
    vst1q_s32(sums + 12, a3);
    /* per accumulator, its channels from c (eenn.ops._layout.DEPTHWISE_LANES) */
    static const uint32_t lanes[16] = {0, 4, 8, 12, 2, 6, 10, 14, 1, 5, 9, 13, 3, 7, 11, 15};
    const int32_t *bias = rule->bias + c, *q = rule->requant + 3 * c;
    for (int32_t k = 0; k < 4; ++k, bias += 4, q += 12) {
        vstrbq_scatter_offset_s32(out + c, vld1q_u32(lanes + 4 * k),
                                  eenn_mve_requantize(rule, vld1q_s32(sums + 4 * k), bias, q));
    }
}

/* Channels c to c + 3 (those below out_c, after the blocks of sixteen) of the window taps, as
 * outputs at out. */
static void four(const eenn_conv_params *p, const int8_t *const *at, int32_t taps, int32_t c,
                 const eenn_output_rule *rule, int8_t *out)
{
    const mve_pred16_t lanes = vctp32q((uint32_t)(p->out_c - c));
    const int32_t blocked = p->out_c & ~15, last = p->out_c - blocked; /* channels in blocks of sixteen, after them */
    int32x4_t a = vdupq_n_s32(0);
    const int8_t *w = (const int8_t *)p->weights + blocked * taps + c - blocked;
    for (int32_t t = 0; t < taps; ++t, w += last) {
        a = vaddq_s32(a, vmulq_s32(vldrbq_z_s32(at[t] + c, lanes), vldrbq_z_s32(w, lanes)));
    }
    vstrbq_p_s32(out + c, eenn_mve_requantize(rule, a, rule->bias + c, rule->requant + 3 * c), lanes);
}

/* Any depth multiplier: each output channel reads input channel oc / multiplier. */
static void reference(const eenn_conv_params *p, const int8_t *input, int32_t y0, int32_t x0,
                      const eenn_output_rule *rule, int8_t *out)
{
    const int8_t *weights = p->weights;
    const int8_t zero_point = (int8_t)-p->input_offset;
    for (int32_t c = 0; c < p->out_c; c += 4) {
        int32_t acc[4] = {0, 0, 0, 0};
        for (int32_t oc = c; oc < c + 4 && oc < p->out_c; ++oc) {
            const int32_t ic = oc / p->depth_multiplier;
            for (int32_t ky = 0; ky < p->k_h; ++ky) {
                const int32_t y = y0 + ky * p->dilation_h;
                for (int32_t kx = 0; kx < p->k_w; ++kx) {
                    const int32_t x = x0 + kx * p->dilation_w;
                    const int inside = y >= 0 && y < p->in_h && x >= 0 && x < p->in_w;
                    const int32_t value =
                        inside ? input[(eenn_row(y, p->in_rows) * p->in_w + x) * p->in_c + ic] : zero_point;
                    acc[oc - c] += weights[(ky * p->k_w + kx) * p->out_c + oc] * value;
                }
            }
        }
        vstrbq_p_s32(out + c, eenn_mve_requantize(rule, vld1q_s32(acc), rule->bias + c, rule->requant + 3 * c),
                     vctp32q((uint32_t)(p->out_c - c)));
    }
}

void eenn_depthwise_conv2d(const eenn_conv_params *p, const int8_t *input, int8_t *output, int8_t *scratch,
                           int32_t first_row, int32_t end_row)
{
    const eenn_output_rule rule = {p->bias, p->requant, p->output_offset, p->act_min, p->act_max};
    const int32_t taps = p->k_h * p->k_w, out_c = p->out_c, in_h = p->in_h, in_w = p->in_w, in_c = p->in_c;
    const int32_t k_h = p->k_h, k_w = p->k_w, dilation_h = p->dilation_h, dilation_w = p->dilation_w;
    const int32_t row_bytes = in_w * in_c;
    const int8_t **at = __builtin_assume_aligned(scratch, 4), **rows = at + taps;
    int8_t *padding = scratch + 4 * (taps + k_h);
    memset(padding, -p->input_offset, (size_t)p->in_c);
    for (int32_t oy = first_row; oy < end_row; ++oy) {
        const int32_t y0 = oy * p->stride_h - p->pad_h;
        for (int32_t ky = 0, y = y0; ky < k_h; ++ky, y += dilation_h) {
            rows[ky] = y >= 0 && y < in_h ? input + eenn_row(y, p->in_rows) * row_bytes : 0;
        }
        int8_t *out_row = output + eenn_row(oy, p->out_rows) * p->out_w * out_c;
        for (int32_t ox = 0; ox < p->out_w; ++ox) {
            const int32_t x0 = ox * p->stride_w - p->pad_w;
            int8_t *out = out_row + ox * out_c;
            if (p->depth_multiplier != 1) {
                reference(p, input, y0, x0, &rule, out);
                continue;
            }
            for (int32_t ky = 0, t = 0; ky < k_h; ++ky) {
                const int8_t *row = rows[ky];
                for (int32_t kx = 0, x = x0; kx < k_w; ++kx, ++t, x += dilation_w) {
                    at[t] = row && x >= 0 && x < in_w ? row + x * in_c : padding;
                }
            }
            int32_t c = 0;
            for (; c + 16 <= out_c; c += 16) {
                sixteen(p, at, taps, c, &rule, out);
            }
            for (; c < out_c; c += 4) {
                four(p, at, taps, c, &rule, out);
            }
        }
    }
}
