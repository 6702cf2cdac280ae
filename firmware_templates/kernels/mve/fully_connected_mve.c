/* FULLY_CONNECTED on Helium: output rows four at a time times the input (eenn_mve.h). */
#include "eenn_mve.h"

void eenn_fully_connected(const eenn_fully_connected_params *p, const int8_t *input, int8_t *output,
                          int8_t *scratch)
{
    (void)scratch;
    const eenn_output_rule rule = {p->bias, p->requant, p->output_offset, p->act_min, p->act_max};
    eenn_mve_multiply(p->weights, p->out_n, p->in_n, input, &rule, output);
}
