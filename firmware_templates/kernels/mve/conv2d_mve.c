/* CONV_2D on Helium: one output position at a time, output channels four at a time
 * (eenn_mve.h) times its im2col column (the padded border holds the input zero point), or,
 * for a 1x1 window inside the input that its outputs do not overwrite, times the input's own
 * channels. Scratch: the column. */
#include "eenn_mve.h"

/* The n values output position `at` sees, in weight order; `out` where its outputs go. */
static const int8_t *window(const eenn_conv_params *p, const int8_t *input, int8_t *column, int32_t at,
                            const int8_t *out)
{
    if (p->k_h == 1 && p->k_w == 1) {
        const int32_t y = at / p->out_w * p->stride_h - p->pad_h, x = at % p->out_w * p->stride_w - p->pad_w;
        const int8_t *in = input + (eenn_row(y, p->in_rows) * p->in_w + x) * p->in_c;
        if (y >= 0 && y < p->in_h && x >= 0 && x < p->in_w) {
            if (out >= in + p->in_c || out + p->out_c <= in) {
                return in;
            }
            eenn_copy(column, in, p->in_c); /* its own outputs overwrite it (the arena may overlap them) */
            return column;
        }
    }
    eenn_im2col(p, input, column, at);
    return column;
}

void eenn_conv2d(const eenn_conv_params *p, const int8_t *input, int8_t *output, int8_t *scratch, int32_t first_row,
                 int32_t end_row)
{
    const eenn_output_rule rule = {p->bias, p->requant, p->output_offset, p->act_min, p->act_max};
    const int32_t n = p->k_h * p->k_w * p->in_c;
    for (int32_t at = first_row * p->out_w; at < end_row * p->out_w; ++at) {
        int8_t *out = eenn_position(output, at, p->out_w, p->out_rows, p->out_c);
        eenn_mve_multiply(p->weights, p->out_c, n, window(p, input, scratch, at, out), &rule, out);
    }
}
