#include "eenn_kernels.h"

void eenn_concatenation(const eenn_concatenation_params *p, const int8_t *const *inputs, int8_t *output)
{
    for (int32_t o = 0; o < p->outer; ++o) {
        for (int32_t k = 0; k < p->inputs; ++k) {
            const int32_t n = p->sizes[k];
            const int8_t *in = inputs[k] + o * n;
            for (int32_t i = 0; i < n; ++i) {
                *output++ = in[i];
            }
        }
    }
}
