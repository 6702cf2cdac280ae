/* CONV_2D on Helium: one output position at a time, its im2col column (the padded border
 * holds the input zero point) spread, then output channels four at a time (eenn_mve.h).
 * Scratch: the spread column (4 * n4 bytes), then the column itself. */
#include "eenn_mve.h"

void eenn_conv2d(const eenn_conv_params *p, const int8_t *input, int8_t *output, int8_t *scratch, int32_t first_row,
                 int32_t end_row)
{
    const eenn_output_rule rule = {p->bias, p->requant, p->output_offset, p->act_min, p->act_max};
    const int32_t n = p->k_h * p->k_w * p->in_c;
    const int32_t n4 = eenn_padded(n);
    int8_t *low = scratch, *high = scratch + 2 * n4, *column = scratch + 4 * n4;
    for (int32_t at = first_row * p->out_w; at < end_row * p->out_w; ++at) {
        eenn_im2col(p, input, column, at);
        eenn_mve_spread(column, n, low, high);
        eenn_mve_multiply(p->weights, p->out_c, n, low, high, column, &rule,
                          eenn_position(output, at, p->out_w, p->out_rows, p->out_c));
    }
}
