#include "eenn_fixedpoint.h"
#include "eenn_kernels.h"

void eenn_mean(const eenn_mean_params *p, const int8_t *input, int8_t *output)
{
    for (int32_t c = 0; c < p->channels; ++c) {
        int32_t sum = 0;
        for (int32_t i = 0; i < p->count; ++i) {
            sum += input[i * p->channels + c];
        }
        const int32_t centered = sum - p->input_zero_point * p->count;
        const int32_t mean = eenn_requantize(centered, p->multiplier, p->shift) + p->output_zero_point;
        output[c] = eenn_clamp(mean, INT8_MIN, INT8_MAX);
    }
}
