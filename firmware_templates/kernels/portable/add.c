#include "eenn_fixedpoint.h"
#include "eenn_kernels.h"

/* Both inputs are brought to a common scale (2 * the larger input scale, with left_shift
 * bits of headroom), added, then rescaled to the output. */
void eenn_add(const eenn_add_params *p, const int8_t *input1, const int8_t *input2, int8_t *output)
{
    for (int32_t i = 0; i < p->size; ++i) {
        const int32_t a = ((int32_t)input1[i] + p->input1_offset) * (1 << p->left_shift);
        const int32_t b = ((int32_t)input2[i] + p->input2_offset) * (1 << p->left_shift);
        const int32_t sum = eenn_requantize(a, p->input1_multiplier, p->input1_shift)
                          + eenn_requantize(b, p->input2_multiplier, p->input2_shift);
        const int32_t out = eenn_requantize(sum, p->output_multiplier, p->output_shift) + p->output_offset;
        output[i] = eenn_clamp(out, p->act_min, p->act_max);
    }
}
