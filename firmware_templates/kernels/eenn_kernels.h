/* eenn kernel interface: one function per int8 op, parameters in a const struct.
 *
 * Every kernel computes exactly what TFLite Micro's reference kernel computes for the
 * same op: same accumulation, same double-rounding requantization, same clamping. The
 * generator computes all parameters (padding, multipliers, shifts, activation range) on
 * the host; a kernel only loops. Tensors are NHWC, batch 1, and never overlap: the
 * memory plan gives every op's output its own bytes.
 *
 * A faster kernel for a CPU with DSP instructions is a drop-in C file defining the same
 * function; the generator never depends on which file provides it.
 */
#ifndef EENN_KERNELS_H
#define EENN_KERNELS_H

#include <stdint.h>

/* CONV_2D and DEPTHWISE_CONV_2D. Weights are [out_c][k_h][k_w][in_c] for a convolution
 * and [k_h][k_w][out_c] for a depthwise one (out_c = in_c * depth_multiplier). */
typedef struct {
    int32_t in_h, in_w, in_c;
    int32_t out_h, out_w, out_c;
    int32_t k_h, k_w;
    int32_t stride_h, stride_w;
    int32_t dilation_h, dilation_w;
    int32_t pad_h, pad_w; /* rows/columns of implicit zero-point padding before the input */
    int32_t depth_multiplier; /* depthwise only */
    int32_t input_offset; /* -input zero point */
    int32_t output_offset; /* output zero point */
    int32_t act_min, act_max;
    const int8_t *weights;
    const int32_t *bias; /* [out_c], or 0 */
    const int32_t *multiplier; /* [out_c] */
    const int32_t *shift; /* [out_c]; > 0 shifts left */
} eenn_conv_params;

void eenn_conv2d(const eenn_conv_params *p, const int8_t *input, int8_t *output);
void eenn_depthwise_conv2d(const eenn_conv_params *p, const int8_t *input, int8_t *output);

/* FULLY_CONNECTED: weights [out_n][in_n]; per-tensor quantization is given per channel. */
typedef struct {
    int32_t in_n, out_n;
    int32_t input_offset, output_offset;
    int32_t act_min, act_max;
    const int8_t *weights;
    const int32_t *bias; /* [out_n], or 0 */
    const int32_t *multiplier;
    const int32_t *shift;
} eenn_fully_connected_params;

void eenn_fully_connected(const eenn_fully_connected_params *p, const int8_t *input, int8_t *output);

/* MAX_POOL_2D and AVERAGE_POOL_2D (input and output share one quantization). */
typedef struct {
    int32_t in_h, in_w, channels;
    int32_t out_h, out_w;
    int32_t k_h, k_w;
    int32_t stride_h, stride_w;
    int32_t pad_h, pad_w;
    int32_t act_min, act_max;
} eenn_pool_params;

void eenn_max_pool2d(const eenn_pool_params *p, const int8_t *input, int8_t *output);
void eenn_average_pool2d(const eenn_pool_params *p, const int8_t *input, int8_t *output);

/* MEAN over all axes but the channels: `count` positions of `channels` values each. As in
 * TFLM (keep_dims or not), the zero-point-corrected sum is requantized with 1/count folded
 * into the multiplier. */
typedef struct {
    int32_t count, channels;
    int32_t input_zero_point, output_zero_point;
    int32_t multiplier, shift;
} eenn_mean_params;

void eenn_mean(const eenn_mean_params *p, const int8_t *input, int8_t *output);

/* ADD of two tensors of one shape, each with its own quantization. */
typedef struct {
    int32_t size;
    int32_t input1_offset, input2_offset, output_offset;
    int32_t left_shift;
    int32_t input1_multiplier, input1_shift;
    int32_t input2_multiplier, input2_shift;
    int32_t output_multiplier, output_shift;
    int32_t act_min, act_max;
} eenn_add_params;

void eenn_add(const eenn_add_params *p, const int8_t *input1, const int8_t *input2, int8_t *output);

/* SOFTMAX over the last dimension, int8 in, int8 out (scale 1/256, zero point -128). */
typedef struct {
    int32_t rows, depth;
    int32_t input_multiplier, input_left_shift;
    int32_t diff_min;
} eenn_softmax_params;

void eenn_softmax(const eenn_softmax_params *p, const int8_t *input, int8_t *output);

#endif
