#include <string.h>

#include "eenn_kernels.h"

void eenn_im2col(const eenn_conv_params *p, const int8_t *input, int8_t *column, int32_t at)
{
    const int32_t oy = at / p->out_w, ox = at % p->out_w;
    const int32_t y0 = oy * p->stride_h - p->pad_h, x0 = ox * p->stride_w - p->pad_w;
    const int8_t zero_point = (int8_t)-p->input_offset;
    const int32_t row_bytes = p->k_w * p->in_c;
    const int whole_rows = p->dilation_w == 1 && x0 >= 0 && x0 + p->k_w <= p->in_w;
    for (int32_t ky = 0; ky < p->k_h; ++ky, column += row_bytes) {
        const int32_t y = y0 + ky * p->dilation_h;
        if (y < 0 || y >= p->in_h) {
            memset(column, zero_point, (size_t)row_bytes);
        } else if (whole_rows) {
            eenn_copy(column, input + (eenn_row(y, p->in_rows) * p->in_w + x0) * p->in_c, row_bytes);
        } else {
            const int8_t *row = input + eenn_row(y, p->in_rows) * p->in_w * p->in_c;
            for (int32_t kx = 0; kx < p->k_w; ++kx) {
                const int32_t x = x0 + kx * p->dilation_w;
                int8_t *to = column + kx * p->in_c;
                if (x < 0 || x >= p->in_w) {
                    memset(to, zero_point, (size_t)p->in_c);
                } else {
                    eenn_copy(to, row + x * p->in_c, p->in_c);
                }
            }
        }
    }
}
