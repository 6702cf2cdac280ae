#include "eenn_fixedpoint.h"
#include "eenn_kernels.h"
#include "eenn_simd.h"

#if EENN_KERNELS_MVE
#error "constants laid out for the Helium kernels (EENN_KERNELS_MVE is 1): this build compiles kernels/mve/ instead"
#endif

void eenn_depthwise_conv2d(const eenn_conv_params *p, const int8_t *input, int8_t *output, int8_t *scratch,
                           int32_t first_row, int32_t end_row)
{
    (void)scratch;
    const eenn_output_rule rule = {p->bias, p->requant, p->output_offset, p->act_min, p->act_max};
    for (int32_t oy = first_row; oy < end_row; ++oy) {
        const int32_t y0 = oy * p->stride_h - p->pad_h;
        for (int32_t ox = 0; ox < p->out_w; ++ox) {
            const int32_t x0 = ox * p->stride_w - p->pad_w;
            for (int32_t oc = 0; oc < p->out_c; ++oc) {
                const int32_t ic = oc / p->depth_multiplier;
                int32_t acc = 0;
                for (int32_t ky = 0; ky < p->k_h; ++ky) {
                    const int32_t y = y0 + ky * p->dilation_h;
                    if (y < 0 || y >= p->in_h) {
                        continue;
                    }
                    for (int32_t kx = 0; kx < p->k_w; ++kx) {
                        const int32_t x = x0 + kx * p->dilation_w;
                        if (x < 0 || x >= p->in_w) {
                            continue;
                        }
                        const int32_t in = input[(eenn_row(y, p->in_rows) * p->in_w + x) * p->in_c + ic];
                        const int32_t w = eenn_depthwise_weight(p->weights, p->k_h * p->k_w, p->out_c, ky * p->k_w + kx, oc);
                        acc += w * (in + p->input_offset);
                    }
                }
                output[(eenn_row(oy, p->out_rows) * p->out_w + ox) * p->out_c + oc] = eenn_output(rule, acc, oc);
            }
        }
    }
}
