/* DEPTHWISE_CONV_2D for Armv6-M. With a depth multiplier of 1, four channels go together:
 * per window tap four inputs with the offset added, multiplied by the group's four 16-bit
 * weights (contiguous, tap after tap). The window is clipped to the input once per output
 * position (padded taps add nothing, as in TFLM), and its rows' addresses are found once per
 * output row; requantization as eenn_armv6m.h's. Other multipliers and the last channels of a
 * count not divisible by four take the reference loop. */
#include "eenn_armv6m.h"
#include "eenn_kernels.h"

#if EENN_KERNELS_MVE
#error "constants laid out for the Helium kernels (EENN_KERNELS_MVE is 1): this build compiles kernels/mve/ instead"
#endif

/* The accumulators of four channels (0, 1, 2, 3; weights in lane order 0, 2, 1, 3) over the
 * clipped window: `row_count` rows, each `at` bytes past its address in `rows`, `columns` taps
 * a row; `w` the weights of the first tap, `row_skip` those of the clipped taps of a row. */
static inline void four_channels(const int8_t *const *rows, int32_t row_count, int32_t at, int32_t columns,
                                 int32_t tap_step, const int16_t *w, int32_t row_skip, int32_t offset, int32_t acc[4])
{
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    for (int32_t r = 0; r < row_count; ++r, w += row_skip) {
        const int8_t *in = rows[r] + at;
        for (const int16_t *end = w + 4 * columns; w < end; w += 4, in += tap_step) {
            a0 += w[0] * (in[0] + offset);
            a2 += w[1] * (in[2] + offset);
            a1 += w[2] * (in[1] + offset);
            a3 += w[3] * (in[3] + offset);
        }
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

void eenn_depthwise_conv2d(const eenn_conv_params *p, const int8_t *input, int8_t *output, int8_t *scratch,
                           int32_t first_row, int32_t end_row)
{
    const int32_t in_c = p->in_c, out_c = p->out_c, in_w = p->in_w, k_w = p->k_w, taps = p->k_h * p->k_w;
    const int32_t dilation_h = p->dilation_h, dilation_w = p->dilation_w, multiplier = p->depth_multiplier;
    const int32_t input_offset = p->input_offset, out_w = p->out_w, row_bytes = in_w * in_c;
    const int16_t *weights = p->weights;
    const int32_t groups = multiplier == 1 ? out_c / 4 : 0;
    const eenn_output_rule rule = {p->bias, p->requant, p->output_offset, p->act_min, p->act_max};
    const int8_t **rows = (const int8_t **)(void *)scratch; /* the window rows' addresses (k_h) */
    for (int32_t oy = first_row; oy < end_row; ++oy) {
        const int32_t y0 = oy * p->stride_h - p->pad_h;
        int32_t ky0, ky1;
        eenn_clip(y0, p->k_h, dilation_h, p->in_h, &ky0, &ky1);
        for (int32_t ky = ky0; ky < ky1; ++ky) {
            rows[ky - ky0] = input + eenn_row(y0 + ky * dilation_h, p->in_rows) * row_bytes;
        }
        int8_t *out = output + eenn_row(oy, p->out_rows) * out_w * out_c;
        for (int32_t ox = 0; ox < out_w; ++ox, out += out_c) {
            const int32_t x0 = ox * p->stride_w - p->pad_w;
            int32_t kx0, kx1;
            eenn_clip(x0, k_w, dilation_w, in_w, &kx0, &kx1);
            const int32_t first = (x0 + kx0 * dilation_w) * in_c;
            for (int32_t g = 0; g < groups; ++g) {
                int32_t acc[4];
                four_channels(rows, ky1 - ky0, first + 4 * g, kx1 - kx0, dilation_w * in_c,
                              weights + 4 * (taps * g + ky0 * k_w + kx0), 4 * (k_w - (kx1 - kx0)), input_offset, acc);
                for (int32_t j = 0; j < 4; ++j) {
                    out[4 * g + j] = eenn_armv6m_output(rule, acc[j], 4 * g + j);
                }
            }
            for (int32_t oc = 4 * groups; oc < out_c; ++oc) {
                const int32_t ic = oc / multiplier;
                int32_t acc = 0;
                for (int32_t ky = ky0; ky < ky1; ++ky) {
                    for (int32_t kx = kx0; kx < kx1; ++kx) {
                        const int32_t w = eenn_depthwise_weight(weights, taps, out_c, ky * k_w + kx, oc);
                        acc += w * (rows[ky - ky0][(x0 + kx * dilation_w) * in_c + ic] + input_offset);
                    }
                }
                out[oc] = eenn_armv6m_output(rule, acc, oc);
            }
        }
    }
}
