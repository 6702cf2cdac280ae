/* FULLY_CONNECTED on Helium: the input spread once, then output rows four at a time
 * (eenn_mve.h). */
#include "eenn_mve.h"

void eenn_fully_connected(const eenn_fully_connected_params *p, const int8_t *input, int8_t *output,
                          int8_t *scratch)
{
    const eenn_output_rule rule = {p->bias, p->requant, p->output_offset, p->act_min, p->act_max};
    const int32_t n4 = eenn_padded(p->in_n);
    int8_t *low = scratch, *high = scratch + 2 * n4;
    eenn_mve_spread(input, p->in_n, low, high);
    eenn_mve_multiply(p->weights, p->out_n, p->in_n, low, high, input, &rule, output);
}
