/* DEPTHWISE_CONV_2D on the DSP extension. With a depth multiplier of 1, four channels go
 * together: per window tap one word of inputs, widened with the input offset added
 * (SXTAB16), and two words of 16-bit weights (a channel group's weights are contiguous, tap
 * after tap, widened offline), each channel multiplied in its own lane (SMLABB, SMLATT). The window is clipped to the input
 * once per output position, so padded taps cost nothing (TFLM skips them too). Other
 * multipliers and the last channels of a count not divisible by four take the reference
 * loop. */
#include "eenn_fixedpoint.h"
#include "eenn_kernels.h"
#include "eenn_simd.h"

#if EENN_KERNELS_MVE
#error "constants laid out for the Helium kernels (EENN_KERNELS_MVE is 1): this build compiles kernels/mve/ instead"
#endif

#if !EENN_USE_DSP
#error "a DSP kernel compiled for a core without the DSP extension: the board takes kernels = \"portable\" (boards/README.md)"
#endif

typedef struct {
    const int8_t *input; /* the first tap inside the input, channel 0 */
    int32_t rows, columns; /* taps inside the input */
    int32_t row_step, tap_step; /* input bytes from one tap to the next */
    int32_t weight_skip; /* weights skipped at the end of a row (clipped taps) */
    const int8_t *wrapped; /* in a ring buffer, the window's rows from the buffer's start on */
    int32_t wrapped_rows;
} window;

typedef struct {
    int32_t c0, c1, c2, c3;
} four;

/* One window tap of four channels: inputs x, weights w (channels 0 and 2, then 1 and 3). */
static inline four tap(four a, uint32_t x, const int16_t *w, uint32_t offset)
{
    const uint32_t x02 = eenn_sxtab16(offset, x), x13 = eenn_sxtab16_ror8(offset, x);
    const uint32_t v02 = eenn_load32_aligned(w), v13 = eenn_load32_aligned(w + 2);
    a.c0 = eenn_smlabb(x02, v02, a.c0);
    a.c2 = eenn_smlatt(x02, v02, a.c2);
    a.c1 = eenn_smlabb(x13, v13, a.c1);
    a.c3 = eenn_smlatt(x13, v13, a.c3);
    return a;
}

/* The accumulators of four channels over `rows` window rows from `input` (rows of three taps
 * unrolled); `w` the weights of the first, *w_end set past those of the last. */
static inline four window_rows(four a, const window *win, const int8_t *input, int32_t rows, const int16_t *w,
                               const int16_t **w_end, uint32_t offset)
{
    const int32_t tap_step = win->tap_step;
    if (win->columns == 3) {
        for (int32_t r = 0; r < rows; ++r, input += win->row_step, w += 12 + win->weight_skip) {
            a = tap(a, eenn_load32(input), w, offset);
            a = tap(a, eenn_load32(input + tap_step), w + 4, offset);
            a = tap(a, eenn_load32(input + 2 * tap_step), w + 8, offset);
        }
    } else {
        for (int32_t r = 0; r < rows; ++r, input += win->row_step, w += win->weight_skip) {
            const int8_t *in = input;
            for (const int16_t *end = w + 4 * win->columns; w < end; w += 4, in += tap_step) {
                a = tap(a, eenn_load32(in), w, offset);
            }
        }
    }
    *w_end = w;
    return a;
}

/* The accumulators of channels 4g .. 4g + 3 over the window. */
static inline four four_channels(const window *win, int32_t g, const int16_t *w, uint32_t offset)
{
    const four zero = {0, 0, 0, 0};
    four a = window_rows(zero, win, win->input + 4 * g, win->rows, w, &w, offset);
    if (win->wrapped_rows) {
        a = window_rows(a, win, win->wrapped + 4 * g, win->wrapped_rows, w, &w, offset);
    }
    return a;
}

void eenn_depthwise_conv2d(const eenn_conv_params *p, const int8_t *input, int8_t *output, int8_t *scratch,
                           int32_t first_row, int32_t end_row)
{
    (void)scratch;
    const int32_t in_c = p->in_c, out_c = p->out_c, in_w = p->in_w, k_w = p->k_w, taps = p->k_h * p->k_w;
    const int32_t dilation_h = p->dilation_h, dilation_w = p->dilation_w, multiplier = p->depth_multiplier;
    const int32_t input_offset = p->input_offset, in_rows = p->in_rows;
    const int16_t *weights = p->weights;
    const int32_t groups = multiplier == 1 ? out_c / 4 : 0;
    const uint32_t offset = (uint32_t)(uint16_t)input_offset * 0x10001u;
    const eenn_output_rule rule = {p->bias, p->requant, p->output_offset, p->act_min, p->act_max};
    const int32_t out_w = p->out_w, row_bytes = in_w * in_c;
    for (int32_t oy = first_row; oy < end_row; ++oy) {
        const int32_t y0 = oy * p->stride_h - p->pad_h;
        int32_t ky0, ky1;
        eenn_clip(y0, p->k_h, dilation_h, p->in_h, &ky0, &ky1);
        /* window rows before the ring buffer's end, and after it */
        const int32_t top = eenn_row(y0 + ky0 * dilation_h, in_rows);
        const int32_t unwrapped = (in_rows - top + dilation_h - 1) / dilation_h;
        const int32_t rows = ky1 - ky0 < unwrapped ? ky1 - ky0 : unwrapped;
        const int8_t *first = input + top * row_bytes;
        const int8_t *wrapped = rows < ky1 - ky0 ? input + (top + rows * dilation_h - in_rows) * row_bytes : first;
        int8_t *out_row = output + eenn_row(oy, p->out_rows) * out_w * out_c;
        for (int32_t ox = 0; ox < out_w; ++ox) {
            const int32_t x0 = ox * p->stride_w - p->pad_w;
            int32_t kx0, kx1;
            eenn_clip(x0, k_w, dilation_w, in_w, &kx0, &kx1);
            int8_t *out = out_row + ox * out_c;
            const int32_t column = (x0 + kx0 * dilation_w) * in_c;
            const window win = {
                first + column, rows, kx1 - kx0, dilation_h * row_bytes, dilation_w * in_c, 4 * (k_w - (kx1 - kx0)),
                wrapped + column, ky1 - ky0 - rows,
            };
            const int16_t *first_tap = weights + 4 * (ky0 * k_w + kx0);
            for (int32_t g = 0; g < groups; ++g) {
                const four acc = four_channels(&win, g, first_tap + 4 * taps * g, offset);
                out[4 * g] = eenn_output(rule, acc.c0, 4 * g);
                out[4 * g + 1] = eenn_output(rule, acc.c1, 4 * g + 1);
                out[4 * g + 2] = eenn_output(rule, acc.c2, 4 * g + 2);
                out[4 * g + 3] = eenn_output(rule, acc.c3, 4 * g + 3);
            }
            for (int32_t oc = 4 * groups; oc < out_c; ++oc) {
                const int32_t ic = oc / multiplier;
                int32_t acc = 0;
                for (int32_t ky = ky0; ky < ky1; ++ky) {
                    const int8_t *row = input + eenn_row(y0 + ky * dilation_h, in_rows) * row_bytes;
                    for (int32_t kx = kx0; kx < kx1; ++kx) {
                        const int32_t x = x0 + kx * dilation_w;
                        const int32_t w = eenn_depthwise_weight(weights, taps, out_c, ky * k_w + kx, oc);
                        acc += w * (row[x * in_c + ic] + input_offset);
                    }
                }
                out[oc] = eenn_output(rule, acc, oc);
            }
        }
    }
}
