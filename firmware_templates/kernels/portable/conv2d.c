#include "eenn_fixedpoint.h"
#include "eenn_kernels.h"
#include "eenn_simd.h"

#if EENN_KERNELS_MVE || EENN_KERNELS_ARMV6M
#error "constants laid out for the Helium or Armv6-M kernels: this build compiles kernels/mve/ or kernels/armv6m/ instead"
#endif

/* One output position at a time: its im2col column (padded with the zero point, which adds
 * nothing), then one dot product per output channel. */
void eenn_conv2d(const eenn_conv_params *p, const int8_t *input, int8_t *output, int8_t *scratch, int32_t first_row,
                 int32_t end_row)
{
    const int32_t n = p->k_h * p->k_w * p->in_c;
    const int32_t padded = eenn_padded(n);
    const eenn_output_rule rule = {p->bias, p->requant, p->output_offset, p->act_min, p->act_max};
    for (int32_t at = first_row * p->out_w; at < end_row * p->out_w; ++at) {
        eenn_im2col(p, input, scratch, at);
        int8_t *out = eenn_position(output, at, p->out_w, p->out_rows, p->out_c);
        for (int32_t oc = 0; oc < p->out_c; ++oc) {
            int32_t step;
            const int8_t *row = eenn_paired_row(p->weights, oc, p->out_c, padded, &step);
            out[oc] = eenn_output(rule, eenn_paired_dot(row, step, scratch, n), oc);
        }
    }
}
