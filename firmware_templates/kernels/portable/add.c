#include "eenn_fixedpoint.h"
#include "eenn_kernels.h"

/* Both inputs are brought to a common scale (2 * the larger input scale, with left_shift
 * bits of headroom), added (sign 1) or subtracted (sign -1), then rescaled to the output. */
static inline int8_t combine(const eenn_add_quantization *q, int32_t sign, int8_t x1, int8_t x2)
{
    const int32_t a = ((int32_t)x1 + q->input1_offset) * (1 << q->left_shift);
    const int32_t b = ((int32_t)x2 + q->input2_offset) * (1 << q->left_shift);
    const int32_t sum = eenn_requantize(a, q->input1_multiplier, q->input1_shift)
                      + sign * eenn_requantize(b, q->input2_multiplier, q->input2_shift);
    const int32_t out_value = eenn_requantize(sum, q->output_multiplier, q->output_shift) + q->output_offset;
    return (int8_t)eenn_clamp(out_value, q->act_min, q->act_max);
}

static inline void rows(const eenn_add_params *p, int32_t sign, const int8_t *input1, const int8_t *input2,
                        int8_t *output, int32_t first_row, int32_t end_row)
{
    const int32_t n = p->row_size;
    for (int32_t y = first_row; y < end_row; ++y) {
        const int8_t *in1 = input1 + eenn_row(y, p->input1_rows) * n, *in2 = input2 + eenn_row(y, p->input2_rows) * n;
        int8_t *out = output + eenn_row(y, p->output_rows) * n;
        for (int32_t i = 0; i < n; ++i) {
            out[i] = combine(&p->quantization, sign, in1[i], in2[i]);
        }
    }
}

static inline void broadcast(const eenn_add_broadcast_params *p, int32_t sign, const int8_t *input1,
                             const int8_t *input2, int8_t *output)
{
    const eenn_broadcast_params *s = &p->shape;
    for (int32_t h = 0; h < s->out_h; ++h) {
        for (int32_t w = 0; w < s->out_w; ++w) {
            const int8_t *in1 = input1 + h * s->input1_stride_h + w * s->input1_stride_w;
            const int8_t *in2 = input2 + h * s->input2_stride_h + w * s->input2_stride_w;
            for (int32_t c = 0; c < s->out_c; ++c) {
                *output++ = combine(&p->quantization, sign, in1[c * s->input1_stride_c], in2[c * s->input2_stride_c]);
            }
        }
    }
}

void eenn_add(const eenn_add_params *p, const int8_t *input1, const int8_t *input2, int8_t *output, int32_t first_row,
              int32_t end_row)
{
    rows(p, 1, input1, input2, output, first_row, end_row);
}

void eenn_sub(const eenn_add_params *p, const int8_t *input1, const int8_t *input2, int8_t *output, int32_t first_row,
              int32_t end_row)
{
    rows(p, -1, input1, input2, output, first_row, end_row);
}

void eenn_add_broadcast(const eenn_add_broadcast_params *p, const int8_t *input1, const int8_t *input2,
                        int8_t *output)
{
    broadcast(p, 1, input1, input2, output);
}

void eenn_sub_broadcast(const eenn_add_broadcast_params *p, const int8_t *input1, const int8_t *input2,
                        int8_t *output)
{
    broadcast(p, -1, input1, input2, output);
}
