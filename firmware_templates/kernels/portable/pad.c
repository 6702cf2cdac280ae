#include "eenn_kernels.h"

static inline int8_t *fill(int8_t *output, int32_t n, int8_t value)
{
    for (int32_t i = 0; i < n; ++i) {
        output[i] = value;
    }
    return output + n;
}

void eenn_pad(const eenn_pad_params *p, const int8_t *input, int8_t *output)
{
    const int8_t value = (int8_t)p->pad_value;
    const int32_t after_c = p->out_c - p->pad_c - p->in_c;
    for (int32_t h = 0; h < p->out_h; ++h) {
        const int32_t ih = h - p->pad_h;
        if (ih < 0 || ih >= p->in_h) {
            output = fill(output, p->out_w * p->out_c, value);
            continue;
        }
        for (int32_t w = 0; w < p->out_w; ++w) {
            const int32_t iw = w - p->pad_w;
            if (iw < 0 || iw >= p->in_w) {
                output = fill(output, p->out_c, value);
                continue;
            }
            const int8_t *in = input + (ih * p->in_w + iw) * p->in_c;
            output = fill(output, p->pad_c, value);
            for (int32_t c = 0; c < p->in_c; ++c) {
                *output++ = in[c];
            }
            output = fill(output, after_c, value);
        }
    }
}
