#include "eenn_kernels.h"

void eenn_gather(const eenn_gather_params *p, const int8_t *input, int8_t *output)
{
    for (int32_t h = 0; h < p->out_h; ++h) {
        const int8_t *row = input + p->rows[h];
        for (int32_t w = 0; w < p->out_w; ++w) {
            const int8_t *in = row + p->columns[w];
            for (int32_t c = 0; c < p->out_c; ++c) {
                *output++ = in[c * p->channel_stride];
            }
        }
    }
}
