#include "eenn_armv6m.h"
#include "eenn_kernels.h"

#if !EENN_KERNELS_ARMV6M
#error "the Armv6-M kernels read constants laid out for them: build with EENN_KERNELS_ARMV6M=1"
#endif

void eenn_fully_connected(const eenn_fully_connected_params *p, const int8_t *input, int8_t *output,
                          int8_t *scratch)
{
    const eenn_output_rule rule = {p->bias, p->requant, p->output_offset, p->act_min, p->act_max};
    const int32_t n4 = eenn_padded(p->in_n);
    uint8_t *column = (uint8_t *)scratch;
    const int32_t start = eenn_armv6m_column(column, input, p->in_n, n4);
    eenn_armv6m_rows(rule, column, n4, start, (const uint8_t *)p->weights, p->out_n, output);
}
