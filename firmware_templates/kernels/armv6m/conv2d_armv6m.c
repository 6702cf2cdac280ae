#include "eenn_armv6m.h"
#include "eenn_kernels.h"

#if !EENN_KERNELS_ARMV6M
#error "the Armv6-M kernels read constants laid out for them: build with EENN_KERNELS_ARMV6M=1"
#endif

/* One output position at a time: its im2col column, made unsigned (eenn_armv6m.h), then the
 * output channels four at a time. */
void eenn_conv2d(const eenn_conv_params *p, const int8_t *input, int8_t *output, int8_t *scratch, int32_t first_row,
                 int32_t end_row)
{
    const int32_t n = p->k_h * p->k_w * p->in_c;
    const int32_t n4 = eenn_padded(n);
    const eenn_output_rule rule = {p->bias, p->requant, p->output_offset, p->act_min, p->act_max};
    uint8_t *column = (uint8_t *)scratch;
    for (int32_t at = first_row * p->out_w; at < end_row * p->out_w; ++at) {
        eenn_im2col(p, input, scratch, at);
        const int32_t start = eenn_armv6m_column(column, scratch, n, n4);
        eenn_armv6m_rows(rule, column, n4, start, p->weights, p->out_c,
                         eenn_position(output, at, p->out_w, p->out_rows, p->out_c));
    }
}
