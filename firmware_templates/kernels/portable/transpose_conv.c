#include "eenn_fixedpoint.h"
#include "eenn_kernels.h"

/* Output (oy, ox, oc) sums, over the taps (ky, kx) whose input position
 * ((oy + pad_h - ky) / stride_h, (ox + pad_w - kx) / stride_w) exists, that position's values
 * times the weights [oc][ky][kx][ic]. */
void eenn_transpose_conv(const eenn_conv_params *p, const int8_t *input, int8_t *output)
{
    const eenn_output_rule rule = {p->bias, p->requant, p->output_offset, p->act_min, p->act_max};
    const int8_t *weights = p->weights;
    for (int32_t oy = 0; oy < p->out_h; ++oy) {
        for (int32_t ox = 0; ox < p->out_w; ++ox) {
            for (int32_t oc = 0; oc < p->out_c; ++oc) {
                int32_t acc = 0;
                for (int32_t ky = 0; ky < p->k_h; ++ky) {
                    const int32_t y = oy + p->pad_h - ky;
                    if (y < 0 || y % p->stride_h || y / p->stride_h >= p->in_h) {
                        continue;
                    }
                    for (int32_t kx = 0; kx < p->k_w; ++kx) {
                        const int32_t x = ox + p->pad_w - kx;
                        if (x < 0 || x % p->stride_w || x / p->stride_w >= p->in_w) {
                            continue;
                        }
                        const int8_t *in = input + ((y / p->stride_h) * p->in_w + x / p->stride_w) * p->in_c;
                        const int8_t *w = weights + ((oc * p->k_h + ky) * p->k_w + kx) * p->in_c;
                        for (int32_t ic = 0; ic < p->in_c; ++ic) {
                            acc += w[ic] * (in[ic] + p->input_offset);
                        }
                    }
                }
                *output++ = eenn_output(rule, acc, oc);
            }
        }
    }
}
