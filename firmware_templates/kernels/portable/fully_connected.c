#include "eenn_fixedpoint.h"
#include "eenn_kernels.h"

void eenn_fully_connected(const eenn_fully_connected_params *p, const int8_t *input, int8_t *output)
{
    for (int32_t o = 0; o < p->out_n; ++o) {
        const int8_t *w = p->weights + o * p->in_n;
        int32_t acc = 0;
        for (int32_t i = 0; i < p->in_n; ++i) {
            acc += (int32_t)w[i] * ((int32_t)input[i] + p->input_offset);
        }
        if (p->bias) {
            acc += p->bias[o];
        }
        acc = eenn_requantize(acc, p->multiplier[o], p->shift[o]) + p->output_offset;
        output[o] = eenn_clamp(acc, p->act_min, p->act_max);
    }
}
