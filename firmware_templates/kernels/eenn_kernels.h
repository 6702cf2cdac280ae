/* eenn kernel interface: one function per int8 op, parameters in a const struct.
 *
 * Every kernel computes exactly what TFLite Micro's reference kernel computes for the
 * same op: same accumulation, same double-rounding requantization, same clamping. The
 * generator computes all parameters (padding, multipliers, shifts, activation range) on
 * the host; a kernel only loops. Tensors are NHWC, batch 1.
 *
 * Rows: the windowed kernels, ADD, MEAN, REDUCE_MAX and the table lookup compute the output
 * rows [first_row, end_row) only, so that the generator can interleave the ops of a fused
 * segment row by row. A
 * tensor buffer holds `rows` rows: all of them, or fewer for a ring buffer between two
 * fused ops, where row y is at y % rows.
 *
 * Order: a kernel reads and writes in increasing positions (host/eenn/overlap.py models
 * the order), so its output may start before its input and overlap it as far as the
 * generator's overlap limit allows.
 *
 * Each kernel has a portable C file (kernels/portable/) and may have one for Armv6-M cores
 * (kernels/armv6m/), one for cores with the DSP extension (kernels/dsp/) and one for cores
 * with Helium (kernels/mve/), compiled instead as the board's kernel path says
 * (eenn.codegen.kernels). The portable and DSP files read the constants of convolutions,
 * depthwise convolutions and fully connected layers laid out as below; the Helium files read
 * them in another layout (see "Helium layout"), which the generated model holds instead where
 * EENN_KERNELS_MVE is 1, and the Armv6-M convolution and fully connected files in unsigned
 * blocks (eenn_armv6m.h), held instead where EENN_KERNELS_ARMV6M is 1.
 *
 * Paired rows: the weights of a convolution ([out_c][k_h * k_w * in_c]) and of a fully
 * connected layer ([out_n][in_n]) are rows of n values. Each row is padded with zeros to
 * n4 = n rounded up to a multiple of 4; rows go in pairs, a pair's two rows interleaved
 * four values at a time (row 0 values 0-3, row 1 values 0-3, row 0 values 4-7, ...); a
 * last row without a pair follows alone. A pair is then read with one 8-byte load per four
 * values of each row.
 *
 * Folded bias: a convolution's and a fully connected layer's bias already holds the input
 * offset times each row's weight sum (eenn.ops._layout), so their kernels add up weight
 * times input as it is; an im2col column's padding holds the zero point, which still adds
 * nothing.
 *
 * Helium layout: a convolution's and a fully connected layer's weights in row blocks
 * (eenn_mve.h); a depthwise convolution's int8, per block of sixteen channels tap after
 * tap, then the last out_c % 16 channels tap after tap (with a depth multiplier other than 1,
 * all channels tap after tap), and its bias folded too (a tap in the padding then counts as
 * the input zero point). Bias and requantization go in groups of four lanes, in the order
 * the kernel holds its channels (a depthwise block of sixteen: channels 0, 4, 8, 12, then 2,
 * 6, 10, 14, then 1, 5, 9, 13, then 3, 7, 11, 15; eenn.ops._layout.DEPTHWISE_LANES),
 * completed with zeros to a multiple of four: per group the four biases, and in `requant`
 * the four multipliers, the four left shifts, then minus the four right shifts.
 *
 * Scratch: a kernel that takes `scratch` may use that many bytes of the arena (planned by
 * the generator, live during the call only) as the comment on it says.
 */
#ifndef EENN_KERNELS_H
#define EENN_KERNELS_H

#include <stdint.h>
#include <string.h>

/* 1 where the build compiles the Helium kernels (kernels/mve/): the build defines it for its
 * kernel path; by default it is 1 where the compiler targets Helium. */
#ifndef EENN_KERNELS_MVE
#ifdef __ARM_FEATURE_MVE
#define EENN_KERNELS_MVE 1
#else
#define EENN_KERNELS_MVE 0
#endif
#endif
/* Likewise 1 where the build compiles the Armv6-M kernels (kernels/armv6m/); by default where
 * the compiler targets Armv6-M (Cortex-M0, M0+, M1). */
#ifndef EENN_KERNELS_ARMV6M
#ifdef __ARM_ARCH_6M__
#define EENN_KERNELS_ARMV6M 1
#else
#define EENN_KERNELS_ARMV6M 0
#endif
#endif

/* CONV_2D and DEPTHWISE_CONV_2D. Weights are int8 paired rows of [k_h][k_w][in_c] for a
 * convolution. A depthwise one's (out_c = in_c * depth_multiplier) are int16, in channel
 * groups: for each group of four output channels, for each tap (ky, kx), its four weights
 * in lane order (channels 0, 2, 1, 3: two words a 16-bit multiply takes as they are); then
 * for each tap the weights of the last out_c % 4 channels (Helium: see above). */
typedef struct {
    int32_t in_h, in_w, in_c;
    int32_t out_h, out_w, out_c;
    int32_t in_rows, out_rows; /* rows the input and output buffers hold */
    int32_t k_h, k_w;
    int32_t stride_h, stride_w;
    int32_t dilation_h, dilation_w;
    int32_t pad_h, pad_w; /* rows/columns of implicit zero-point padding before the input */
    int32_t depth_multiplier; /* depthwise only */
    int32_t input_offset; /* -input zero point */
    int32_t output_offset; /* output zero point */
    int32_t act_min, act_max;
    const void *weights; /* int8_t for a convolution, int16_t for a depthwise one */
    const int32_t *bias; /* [out_c] (zeros when the model has none); a convolution's is folded */
    const int32_t *requant; /* [out_c][6]: see eenn_output_rule (Helium: see above) */
} eenn_conv_params;

/* `scratch`: 5 * n4 bytes (n = k_h * k_w * in_c), 4-byte aligned: two im2col columns widened
 * to 16 bits (4 * n4 bytes; the first column is read from their last quarter), and the
 * second column (DSP path); one column (MVE and Armv6-M paths). */
void eenn_conv2d(const eenn_conv_params *p, const int8_t *input, int8_t *output, int8_t *scratch, int32_t first_row,
                 int32_t end_row);
/* Depthwise `scratch`: 4 * (k_h * k_w + k_h) + in_c4 bytes (in_c4 = in_c rounded up to a multiple
 * of 4), 4-byte aligned: a window's tap addresses, its rows' addresses and a row of the input
 * zero point (MVE path); the window rows' addresses (Armv6-M path); the others need none. */
void eenn_depthwise_conv2d(const eenn_conv_params *p, const int8_t *input, int8_t *output, int8_t *scratch,
                           int32_t first_row, int32_t end_row);

/* FULLY_CONNECTED: weights are paired rows of in_n values; per-tensor quantization is given
 * per channel. */
typedef struct {
    int32_t in_n, out_n;
    int32_t output_offset;
    int32_t act_min, act_max;
    const int8_t *weights;
    const int32_t *bias; /* [out_n], folded */
    const int32_t *requant; /* [out_n][6]: see eenn_output_rule (Helium: see above) */
} eenn_fully_connected_params;

/* `scratch`: 2 * n4 bytes (n = in_n), 4-byte aligned: the input widened to 16 bits (DSP path),
 * the input made unsigned (n4 bytes, Armv6-M path); the MVE path needs none. */
void eenn_fully_connected(const eenn_fully_connected_params *p, const int8_t *input, int8_t *output,
                          int8_t *scratch);

/* Helpers the convolution and fully connected kernels share (kernels/shared/). */

/* The depthwise weight of output channel oc at tap t = ky * k_w + kx (of `taps`). */
static inline int32_t eenn_depthwise_weight(const int16_t *weights, int32_t taps, int32_t out_c, int32_t t, int32_t oc)
{
    const int32_t grouped = out_c & ~3;
    if (oc < grouped) {
        return weights[(oc >> 2) * taps * 4 + t * 4 + ((oc & 1) << 1 | (oc >> 1 & 1))];
    }
    return weights[grouped * taps + t * (out_c - grouped) + oc - grouped];
}

/* The first and one-past-last of k taps from `origin` on, `dilation` apart, that fall inside [0, n). */
static inline void eenn_clip(int32_t origin, int32_t k, int32_t dilation, int32_t n, int32_t *begin, int32_t *end)
{
    int32_t b = 0, e = k;
    while (b < k && origin + b * dilation < 0) {
        ++b;
    }
    while (e > b && origin + (e - 1) * dilation >= n) {
        --e;
    }
    *begin = b;
    *end = e;
}

/* n bytes copied: on Helium sixteen at a time in a tail-predicated loop (WLSTP/LETP, the last
 * ones predicated), three instructions per sixteen bytes; elsewhere a few bytes (an im2col
 * tap of few channels) one by one, more by memcpy. */
static inline void eenn_copy(int8_t *to, const int8_t *from, int32_t n)
{
#ifdef __ARM_FEATURE_MVE
    __asm__ volatile("wlstp.8 lr, %[n], 2f\n"
                     "1: vldrb.8 q0, [%[from]], #16\n"
                     "vstrb.8 q0, [%[to]], #16\n"
                     "letp lr, 1b\n"
                     "2:"
                     : [to] "+r"(to), [from] "+r"(from)
                     : [n] "r"(n)
                     : "q0", "lr", "memory");
#else
    if (n < 8) {
        for (int32_t k = 0; k < n; ++k) {
            to[k] = from[k];
        }
    } else {
        memcpy(to, from, (size_t)n);
    }
#endif
}

/* Where row y of a buffer of `rows` rows is (a ring buffer holds fewer rows than its tensor). */
static inline int32_t eenn_row(int32_t y, int32_t rows)
{
    return y < rows ? y : y % rows;
}

/* Padded row length: n rounded up to a multiple of 4. */
static inline int32_t eenn_padded(int32_t n)
{
    return (n + 3) & ~3;
}

/* Row `row` of `rows` paired rows of `padded` values: its first value; *step is the distance
 * from one group of four of its values to the next. */
static inline const int8_t *eenn_paired_row(const int8_t *weights, int32_t row, int32_t rows, int32_t padded,
                                           int32_t *step)
{
    const int32_t pair = row / 2;
    const int alone = 2 * pair + 1 == rows;
    *step = alone ? 4 : 8;
    return weights + pair * 2 * padded + (alone ? 0 : (row % 2) * 4);
}

/* The sum over k < n of a paired row's value k times x[k]. */
static inline int32_t eenn_paired_dot(const int8_t *row, int32_t step, const int8_t *x, int32_t n)
{
    int32_t acc = 0, k = 0;
    for (; k + 4 <= n; k += 4, row += step) {
        acc += row[0] * x[k] + row[1] * x[k + 1] + row[2] * x[k + 2] + row[3] * x[k + 3];
    }
    for (int32_t j = 0; k < n; ++j, ++k) {
        acc += row[j] * x[k];
    }
    return acc;
}

/* The input values output position `at` of a convolution sees, in weight order, written to
 * `column` (n bytes; the padded border holds the input zero point). */
void eenn_im2col(const eenn_conv_params *p, const int8_t *input, int8_t *column, int32_t at);

/* Where output position `at` (row-major over out_h x out_w) of `channels` values is in a
 * buffer of `rows` rows. */
static inline int8_t *eenn_position(int8_t *output, int32_t at, int32_t out_w, int32_t rows, int32_t channels)
{
    return output + (eenn_row(at / out_w, rows) * out_w + at % out_w) * channels;
}


/* MAX_POOL_2D and AVERAGE_POOL_2D (input and output share one quantization). */
typedef struct {
    int32_t in_h, in_w, channels;
    int32_t out_h, out_w;
    int32_t in_rows, out_rows; /* rows the input and output buffers hold */
    int32_t k_h, k_w;
    int32_t stride_h, stride_w;
    int32_t pad_h, pad_w;
    int32_t act_min, act_max;
} eenn_pool_params;

void eenn_max_pool2d(const eenn_pool_params *p, const int8_t *input, int8_t *output, int32_t first_row,
                     int32_t end_row);
void eenn_average_pool2d(const eenn_pool_params *p, const int8_t *input, int8_t *output, int32_t first_row,
                         int32_t end_row);

/* MEAN over all axes but the channels: `count` positions of `channels` values each, in
 * `rows` rows. As in TFLM (keep_dims or not), the zero-point-corrected sum is requantized
 * with 1/count folded into the multiplier. Rows add up in `scratch` (channels int32 sums,
 * cleared at row 0); the output is written with the last row. */
typedef struct {
    int32_t count, channels;
    int32_t rows, in_rows; /* rows of the input, rows its buffer holds */
    int32_t input_zero_point, output_zero_point;
    int32_t multiplier, shift;
} eenn_mean_params;

void eenn_mean(const eenn_mean_params *p, const int8_t *input, int8_t *output, int8_t *scratch, int32_t first_row,
               int32_t end_row);

/* REDUCE_MAX over all axes but the channels, input and output of one quantization: the
 * channel maxima gather in `scratch` (channels bytes, set at row 0), the output is written
 * with the last row. */
typedef struct {
    int32_t count, channels;
    int32_t rows, in_rows; /* rows of the input, rows its buffer holds */
} eenn_reduce_max_params;

void eenn_reduce_max(const eenn_reduce_max_params *p, const int8_t *input, int8_t *output, int8_t *scratch,
                     int32_t first_row, int32_t end_row);

/* ADD and SUB, each input with its own quantization: both rescaled to a common scale, then
 * to the output's. */
typedef struct {
    int32_t input1_offset, input2_offset, output_offset;
    int32_t left_shift;
    int32_t input1_multiplier, input1_shift;
    int32_t input2_multiplier, input2_shift;
    int32_t output_multiplier, output_shift;
    int32_t act_min, act_max;
} eenn_add_quantization;

/* Two tensors of one shape, in rows of row_size values. */
typedef struct {
    int32_t row_size;
    int32_t input1_rows, input2_rows, output_rows; /* rows each buffer holds */
    eenn_add_quantization quantization;
} eenn_add_params;

void eenn_add(const eenn_add_params *p, const int8_t *input1, const int8_t *input2, int8_t *output, int32_t first_row,
              int32_t end_row);
void eenn_sub(const eenn_add_params *p, const int8_t *input1, const int8_t *input2, int8_t *output, int32_t first_row,
              int32_t end_row);

/* An element-wise op of one int8 input (LOGISTIC, TANH, HARD_SWISH, LEAKY_RELU, RELU, RELU6,
 * QUANTIZE, MUL by a constant): the output of input value v is table[v + 128], computed on
 * the host with TFLM's arithmetic; rows of row_size values. */
typedef struct {
    int32_t row_size;
    int32_t in_rows, out_rows; /* rows each buffer holds */
    const int8_t *table; /* [256] */
} eenn_lookup_params;

void eenn_lookup(const eenn_lookup_params *p, const int8_t *input, int8_t *output, int32_t first_row,
                 int32_t end_row);

/* CONCATENATION along one axis: for each of `outer` steps (the dimensions before the
 * axis), sizes[k] values of input k, in input order. Bytes are copied as they are, as in
 * TFLM. */
typedef struct {
    int32_t inputs;
    int32_t outer;
    const int32_t *sizes; /* [inputs] */
} eenn_concatenation_params;

void eenn_concatenation(const eenn_concatenation_params *p, const int8_t *const *inputs, int8_t *output);

/* Element-wise ops of two tensors that broadcast (TFLM's 4-D broadcasting, batch 1): output
 * position (h, w, c) reads input k at h * stride_h + w * stride_w + c * stride_c, a stride 0
 * where that input has size 1. MAXIMUM and MINIMUM compare the int8 values as stored. */
typedef struct {
    int32_t out_h, out_w, out_c;
    int32_t input1_stride_h, input1_stride_w, input1_stride_c;
    int32_t input2_stride_h, input2_stride_w, input2_stride_c;
} eenn_broadcast_params;

void eenn_maximum(const eenn_broadcast_params *p, const int8_t *input1, const int8_t *input2, int8_t *output);
void eenn_minimum(const eenn_broadcast_params *p, const int8_t *input1, const int8_t *input2, int8_t *output);

/* ADD and SUB of two tensors that broadcast (one may be a constant). */
typedef struct {
    eenn_broadcast_params shape;
    eenn_add_quantization quantization;
} eenn_add_broadcast_params;

void eenn_add_broadcast(const eenn_add_broadcast_params *p, const int8_t *input1, const int8_t *input2,
                        int8_t *output);
void eenn_sub_broadcast(const eenn_add_broadcast_params *p, const int8_t *input1, const int8_t *input2,
                        int8_t *output);

/* MUL, broadcast as above (its first fields are eenn_broadcast_params'), requantized once. */
typedef struct {
    int32_t out_h, out_w, out_c;
    int32_t input1_stride_h, input1_stride_w, input1_stride_c;
    int32_t input2_stride_h, input2_stride_w, input2_stride_c;
    int32_t input1_offset, input2_offset, output_offset;
    int32_t output_multiplier, output_shift;
    int32_t act_min, act_max;
} eenn_mul_params;

void eenn_mul(const eenn_mul_params *p, const int8_t *input1, const int8_t *input2, int8_t *output);

/* PAD and PADV2 of up to four dimensions (batch 1, not padded): the input's values where
 * they fall, pad_value (int8) elsewhere. */
typedef struct {
    int32_t in_h, in_w, in_c;
    int32_t out_h, out_w, out_c;
    int32_t pad_h, pad_w, pad_c; /* rows, columns and channels before the input */
    int32_t pad_value;
} eenn_pad_params;

void eenn_pad(const eenn_pad_params *p, const int8_t *input, int8_t *output);

/* STRIDED_SLICE, SLICE and RESIZE_NEAREST_NEIGHBOR: output position (h, w, c) is the input
 * value at rows[h] + columns[w] + c * channel_stride, copied as stored. */
typedef struct {
    int32_t out_h, out_w, out_c;
    int32_t channel_stride;
    const int32_t *rows;    /* [out_h] */
    const int32_t *columns; /* [out_w] */
} eenn_gather_params;

void eenn_gather(const eenn_gather_params *p, const int8_t *input, int8_t *output);

/* TRANSPOSE_CONV: eenn_conv_params with int8 weights [out_c][k_h][k_w][in_c] (no dilation,
 * depth multiplier 1; the buffers hold whole tensors). */
void eenn_transpose_conv(const eenn_conv_params *p, const int8_t *input, int8_t *output);

/* SOFTMAX over the last dimension, int8 in, int8 out (scale 1/256, zero point -128). */
typedef struct {
    int32_t rows, depth;
    int32_t input_multiplier, input_left_shift;
    int32_t diff_min;
} eenn_softmax_params;

void eenn_softmax(const eenn_softmax_params *p, const int8_t *input, int8_t *output);

#endif
