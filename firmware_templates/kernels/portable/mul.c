#include "eenn_fixedpoint.h"
#include "eenn_kernels.h"

void eenn_mul(const eenn_mul_params *p, const int8_t *input1, const int8_t *input2, int8_t *output)
{
    for (int32_t h = 0; h < p->out_h; ++h) {
        for (int32_t w = 0; w < p->out_w; ++w) {
            const int8_t *in1 = input1 + h * p->input1_stride_h + w * p->input1_stride_w;
            const int8_t *in2 = input2 + h * p->input2_stride_h + w * p->input2_stride_w;
            for (int32_t c = 0; c < p->out_c; ++c) {
                const int32_t a = in1[c * p->input1_stride_c] + p->input1_offset;
                const int32_t b = in2[c * p->input2_stride_c] + p->input2_offset;
                const int32_t product = eenn_requantize(a * b, p->output_multiplier, p->output_shift);
                *output++ = eenn_clamp(product + p->output_offset, p->act_min, p->act_max);
            }
        }
    }
}
