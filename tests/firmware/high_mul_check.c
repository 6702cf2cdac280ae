/* eenn_armv6m_high_mul, the Armv6-M kernels' requantization multiply in assembly, against the
 * compiler's own 64-bit arithmetic on the same core: pseudo-random operands and the extremes.
 * Stops with status 0 if every case agrees, else 1 (3 and 4 are faults, hal.h). */
#include <stdint.h>

#include "eenn_armv6m.h"

#define CASES 20000u

static uint32_t state = 0x9E3779B9u;

static uint32_t next(void) /* xorshift32 */
{
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    return state;
}

int main(void)
{
    static const int32_t extremes[] = {INT32_MIN, INT32_MIN + 1, -65536, -1, 0, 1, 65535, 65536, INT32_MAX};
    const uint32_t count = sizeof extremes / sizeof extremes[0];
    uint32_t mismatches = 0;
    for (uint32_t i = 0; i < CASES; ++i) {
        int32_t a = (int32_t)next(), m = (int32_t)(next() >> 1);
        if (i % 4 == 1) {
            a = extremes[next() % count];
        } else if (i % 4 == 2) {
            m = extremes[next() % count] & INT32_MAX;
        }
        /* c as the requantization's rounding constants are: |c| < 2^62 */
        const int32_t c[2] = {(int32_t)next(), (int32_t)next() >> 2};
        const int64_t sum = (int64_t)((uint64_t)(uint32_t)c[1] << 32 | (uint32_t)c[0]) + (int64_t)a * m;
        mismatches += eenn_armv6m_high_mul(a, m, c) != (int32_t)(sum >> 32);
    }
    return mismatches ? 1 : 0;
}
