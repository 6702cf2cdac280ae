/* The DSP instructions the kernels of the DSP path (kernels/dsp/) use.
 *
 * Which kernel files a build compiles is the board's choice (its `kernels`, eenn.codegen.kernels),
 * not this header's. On a core with the DSP extension (Cortex-M4, M7, M33, M55: the compiler
 * defines __ARM_FEATURE_DSP for its -mcpu) EENN_USE_DSP is 1 and each function below is the
 * one instruction of its name, from <arm_acle.h> or inline assembly. With EENN_EMULATE_DSP
 * (the host tests) they are C functions with each instruction's exact semantics, so the DSP
 * kernels' logic runs, and is checked against TFLM, on any machine. Otherwise (Cortex-M0/M3)
 * EENN_USE_DSP is 0, and a DSP kernel compiled there stops with #error.
 *
 * A 32-bit word holds two 16-bit lanes: lane 0 in bits 0-15, lane 1 in bits 16-31. */
#ifndef EENN_SIMD_H
#define EENN_SIMD_H

#include <stdint.h>
#include <string.h>

/* A 32-bit load from any address: one LDR on cores that allow unaligned access. */
static inline uint32_t eenn_load32(const void *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* A 32-bit load from a 4-byte aligned address (consecutive ones may merge into LDRD/LDM). */
static inline uint32_t eenn_load32_aligned(const void *p)
{
    uint32_t v;
    memcpy(&v, __builtin_assume_aligned(p, 4), sizeof v);
    return v;
}

static inline void eenn_store32_aligned(void *p, uint32_t v)
{
    memcpy(__builtin_assume_aligned(p, 4), &v, sizeof v);
}

#if defined(__ARM_FEATURE_DSP)
#define EENN_USE_DSP 1
#include <arm_acle.h>

/* Bytes 0 and 2 of x, sign-extended to the two lanes. */
static inline uint32_t eenn_sxtb16(uint32_t x)
{
    return (uint32_t)__sxtb16(x);
}

/* Bytes 1 and 3 of x, sign-extended to the two lanes. */
static inline uint32_t eenn_sxtb16_ror8(uint32_t x)
{
    uint32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
    return r;
}

/* Lanes of a plus bytes 0 and 2 of x, sign-extended (each lane wraps at 16 bits). */
static inline uint32_t eenn_sxtab16(uint32_t a, uint32_t x)
{
    return (uint32_t)__sxtab16(a, x);
}

/* Lanes of a plus bytes 1 and 3 of x, sign-extended. */
static inline uint32_t eenn_sxtab16_ror8(uint32_t a, uint32_t x)
{
    uint32_t r;
    __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(r) : "r"(a), "r"(x));
    return r;
}

/* acc + a.lane0 * b.lane0 + a.lane1 * b.lane1 (wrapping at 32 bits). */
static inline int32_t eenn_smlad(uint32_t a, uint32_t b, int32_t acc)
{
    return __smlad(a, b, acc);
}

/* acc + a.lane0 * b.lane0 */
static inline int32_t eenn_smlabb(uint32_t a, uint32_t b, int32_t acc)
{
    return __smlabb(a, b, acc);
}

/* acc + a.lane1 * b.lane1 */
static inline int32_t eenn_smlatt(uint32_t a, uint32_t b, int32_t acc)
{
    return __smlatt(a, b, acc);
}

#elif defined(EENN_EMULATE_DSP)
#define EENN_USE_DSP 1

static inline int32_t eenn_lane(uint32_t x, int lane)
{
    return (int16_t)(uint16_t)(x >> (16 * lane));
}

static inline uint32_t eenn_lanes(int32_t lane0, int32_t lane1)
{
    return (uint32_t)(uint16_t)lane0 | (uint32_t)(uint16_t)lane1 << 16;
}

static inline int32_t eenn_byte(uint32_t x, int byte)
{
    return (int8_t)(uint8_t)(x >> (8 * byte));
}

static inline uint32_t eenn_sxtb16(uint32_t x)
{
    return eenn_lanes(eenn_byte(x, 0), eenn_byte(x, 2));
}

static inline uint32_t eenn_sxtb16_ror8(uint32_t x)
{
    return eenn_lanes(eenn_byte(x, 1), eenn_byte(x, 3));
}

static inline uint32_t eenn_sxtab16(uint32_t a, uint32_t x)
{
    return eenn_lanes(eenn_lane(a, 0) + eenn_byte(x, 0), eenn_lane(a, 1) + eenn_byte(x, 2));
}

static inline uint32_t eenn_sxtab16_ror8(uint32_t a, uint32_t x)
{
    return eenn_lanes(eenn_lane(a, 0) + eenn_byte(x, 1), eenn_lane(a, 1) + eenn_byte(x, 3));
}

static inline int32_t eenn_smlad(uint32_t a, uint32_t b, int32_t acc)
{
    const uint32_t p0 = (uint32_t)(eenn_lane(a, 0) * eenn_lane(b, 0));
    const uint32_t p1 = (uint32_t)(eenn_lane(a, 1) * eenn_lane(b, 1));
    return (int32_t)((uint32_t)acc + p0 + p1);
}

static inline int32_t eenn_smlabb(uint32_t a, uint32_t b, int32_t acc)
{
    return (int32_t)((uint32_t)acc + (uint32_t)(eenn_lane(a, 0) * eenn_lane(b, 0)));
}

static inline int32_t eenn_smlatt(uint32_t a, uint32_t b, int32_t acc)
{
    return (int32_t)((uint32_t)acc + (uint32_t)(eenn_lane(a, 1) * eenn_lane(b, 1)));
}

#else
#define EENN_USE_DSP 0
#endif

#endif
