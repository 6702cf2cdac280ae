#include "eenn_fixedpoint.h"
#include "eenn_kernels.h"

void eenn_mean(const eenn_mean_params *p, const int8_t *input, int8_t *output, int8_t *scratch, int32_t first_row,
               int32_t end_row)
{
    int32_t *sums = (int32_t *)(void *)scratch;
    const int32_t channels = p->channels, row_size = p->count / p->rows * channels;
    if (first_row == 0) {
        for (int32_t c = 0; c < channels; ++c) {
            sums[c] = 0;
        }
    }
    for (int32_t y = first_row; y < end_row; ++y) {
        const int8_t *row = input + eenn_row(y, p->in_rows) * row_size;
        for (int32_t i = 0; i < row_size; i += channels) {
            for (int32_t c = 0; c < channels; ++c) {
                sums[c] += row[i + c];
            }
        }
    }
    if (end_row < p->rows) {
        return;
    }
    for (int32_t c = 0; c < channels; ++c) {
        const int32_t centered = sums[c] - p->input_zero_point * p->count;
        const int32_t mean = eenn_requantize(centered, p->multiplier, p->shift) + p->output_zero_point;
        output[c] = eenn_clamp(mean, INT8_MIN, INT8_MAX);
    }
}

void eenn_reduce_max(const eenn_reduce_max_params *p, const int8_t *input, int8_t *output, int8_t *scratch,
                     int32_t first_row, int32_t end_row)
{
    const int32_t channels = p->channels, row_size = p->count / p->rows * channels;
    if (first_row == 0) {
        for (int32_t c = 0; c < channels; ++c) {
            scratch[c] = INT8_MIN;
        }
    }
    for (int32_t y = first_row; y < end_row; ++y) {
        const int8_t *row = input + eenn_row(y, p->in_rows) * row_size;
        for (int32_t i = 0; i < row_size; i += channels) {
            for (int32_t c = 0; c < channels; ++c) {
                scratch[c] = row[i + c] > scratch[c] ? row[i + c] : scratch[c];
            }
        }
    }
    if (end_row < p->rows) {
        return;
    }
    for (int32_t c = 0; c < channels; ++c) {
        output[c] = scratch[c];
    }
}
