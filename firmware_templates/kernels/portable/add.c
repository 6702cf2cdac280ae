#include "eenn_fixedpoint.h"
#include "eenn_kernels.h"

/* Both inputs are brought to a common scale (2 * the larger input scale, with left_shift
 * bits of headroom), added (sign 1) or subtracted (sign -1), then rescaled to the output. */
static inline void combine(const eenn_add_params *p, int32_t sign, const int8_t *input1, const int8_t *input2,
                           int8_t *output, int32_t first_row, int32_t end_row)
{
    const int32_t n = p->row_size;
    for (int32_t y = first_row; y < end_row; ++y) {
        const int8_t *in1 = input1 + eenn_row(y, p->input1_rows) * n, *in2 = input2 + eenn_row(y, p->input2_rows) * n;
        int8_t *out = output + eenn_row(y, p->output_rows) * n;
        for (int32_t i = 0; i < n; ++i) {
            const int32_t a = ((int32_t)in1[i] + p->input1_offset) * (1 << p->left_shift);
            const int32_t b = ((int32_t)in2[i] + p->input2_offset) * (1 << p->left_shift);
            const int32_t sum = eenn_requantize(a, p->input1_multiplier, p->input1_shift)
                              + sign * eenn_requantize(b, p->input2_multiplier, p->input2_shift);
            const int32_t out_value = eenn_requantize(sum, p->output_multiplier, p->output_shift) + p->output_offset;
            out[i] = eenn_clamp(out_value, p->act_min, p->act_max);
        }
    }
}

void eenn_add(const eenn_add_params *p, const int8_t *input1, const int8_t *input2, int8_t *output, int32_t first_row,
              int32_t end_row)
{
    combine(p, 1, input1, input2, output, first_row, end_row);
}

void eenn_sub(const eenn_add_params *p, const int8_t *input1, const int8_t *input2, int8_t *output, int32_t first_row,
              int32_t end_row)
{
    combine(p, -1, input1, input2, output, first_row, end_row);
}
