/* DWT cycle counter (Cortex-M3/M4/M7/M33/M55): counts core cycles. */
#include "hal.h"

#define DEMCR 0xE000EDFCu
#define DWT_CTRL 0xE0001000u
#define DWT_CYCCNT 0xE0001004u
#define DWT_LAR 0xE0001FB0u

void counter_init(void)
{
    REG32(DEMCR) |= 1u << 24; /* TRCENA */
    REG32(DWT_LAR) = 0xC5ACCE55u; /* unlock where a lock exists (M7); ignored elsewhere */
    REG32(DWT_CYCCNT) = 0u;
    REG32(DWT_CTRL) |= 1u;
}

uint32_t counter_read(void)
{
    return REG32(DWT_CYCCNT);
}
