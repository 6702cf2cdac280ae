#include "eenn_kernels.h"

/* Element by element, `larger` picks the maximum (1) or the minimum (0). */
static inline void pick(const eenn_broadcast_params *p, int larger, const int8_t *input1, const int8_t *input2,
                        int8_t *output)
{
    for (int32_t h = 0; h < p->out_h; ++h) {
        for (int32_t w = 0; w < p->out_w; ++w) {
            const int8_t *in1 = input1 + h * p->input1_stride_h + w * p->input1_stride_w;
            const int8_t *in2 = input2 + h * p->input2_stride_h + w * p->input2_stride_w;
            for (int32_t c = 0; c < p->out_c; ++c) {
                const int8_t a = in1[c * p->input1_stride_c], b = in2[c * p->input2_stride_c];
                *output++ = (a > b) == larger ? a : b;
            }
        }
    }
}

void eenn_maximum(const eenn_broadcast_params *p, const int8_t *input1, const int8_t *input2, int8_t *output)
{
    pick(p, 1, input1, input2, output);
}

void eenn_minimum(const eenn_broadcast_params *p, const int8_t *input1, const int8_t *input2, int8_t *output)
{
    pick(p, 0, input1, input2, output);
}
