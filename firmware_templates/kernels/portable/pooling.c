#include "eenn_fixedpoint.h"
#include "eenn_kernels.h"

/* The part of the pooling window at output (oy, ox) that lies inside the input. */
typedef struct {
    int32_t y_begin, y_end, x_begin, x_end;
} window;

static window window_at(const eenn_pool_params *p, int32_t oy, int32_t ox)
{
    const int32_t y0 = oy * p->stride_h - p->pad_h;
    const int32_t x0 = ox * p->stride_w - p->pad_w;
    window w;
    w.y_begin = y0 < 0 ? 0 : y0;
    w.y_end = y0 + p->k_h < p->in_h ? y0 + p->k_h : p->in_h;
    w.x_begin = x0 < 0 ? 0 : x0;
    w.x_end = x0 + p->k_w < p->in_w ? x0 + p->k_w : p->in_w;
    return w;
}

void eenn_max_pool2d(const eenn_pool_params *p, const int8_t *input, int8_t *output, int32_t first_row,
                     int32_t end_row)
{
    for (int32_t oy = first_row; oy < end_row; ++oy) {
        for (int32_t ox = 0; ox < p->out_w; ++ox) {
            const window w = window_at(p, oy, ox);
            for (int32_t c = 0; c < p->channels; ++c) {
                int32_t best = INT8_MIN;
                for (int32_t y = w.y_begin; y < w.y_end; ++y) {
                    for (int32_t x = w.x_begin; x < w.x_end; ++x) {
                        const int32_t v = input[(eenn_row(y, p->in_rows) * p->in_w + x) * p->channels + c];
                        best = v > best ? v : best;
                    }
                }
                output[(eenn_row(oy, p->out_rows) * p->out_w + ox) * p->channels + c] = eenn_clamp(best, p->act_min, p->act_max);
            }
        }
    }
}

void eenn_average_pool2d(const eenn_pool_params *p, const int8_t *input, int8_t *output, int32_t first_row,
                         int32_t end_row)
{
    for (int32_t oy = first_row; oy < end_row; ++oy) {
        for (int32_t ox = 0; ox < p->out_w; ++ox) {
            const window w = window_at(p, oy, ox);
            const int32_t count = (w.y_end - w.y_begin) * (w.x_end - w.x_begin);
            for (int32_t c = 0; c < p->channels; ++c) {
                int32_t sum = 0;
                for (int32_t y = w.y_begin; y < w.y_end; ++y) {
                    for (int32_t x = w.x_begin; x < w.x_end; ++x) {
                        sum += input[(eenn_row(y, p->in_rows) * p->in_w + x) * p->channels + c];
                    }
                }
                sum = sum > 0 ? (sum + count / 2) / count : (sum - count / 2) / count;
                output[(eenn_row(oy, p->out_rows) * p->out_w + ox) * p->channels + c] = eenn_clamp(sum, p->act_min, p->act_max);
            }
        }
    }
}
