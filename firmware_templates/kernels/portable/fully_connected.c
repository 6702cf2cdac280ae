#include "eenn_fixedpoint.h"
#include "eenn_kernels.h"
#include "eenn_simd.h"

#if EENN_KERNELS_MVE || EENN_KERNELS_ARMV6M
#error "constants laid out for the Helium or Armv6-M kernels: this build compiles kernels/mve/ or kernels/armv6m/ instead"
#endif

void eenn_fully_connected(const eenn_fully_connected_params *p, const int8_t *input, int8_t *output,
                          int8_t *scratch)
{
    (void)scratch; /* the input is read in place */
    const int32_t padded = eenn_padded(p->in_n);
    const eenn_output_rule rule = {p->bias, p->requant, p->output_offset, p->act_min, p->act_max};
    for (int32_t o = 0; o < p->out_n; ++o) {
        int32_t step;
        const int8_t *row = eenn_paired_row(p->weights, o, p->out_n, padded, &step);
        output[o] = eenn_output(rule, eenn_paired_dot(row, step, input, p->in_n), o);
    }
}
