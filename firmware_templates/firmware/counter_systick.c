/* SysTick from the core clock, extended to 32 bits by counting its wraps. Under QEMU with
 * -icount shift=0 it advances with executed instructions; on an M0 it counts cycles. */
#include "hal.h"

#define SYST_CSR 0xE000E010u
#define SYST_RVR 0xE000E014u
#define SYST_CVR 0xE000E018u
#define RELOAD 0xFFFFFFu

static volatile uint32_t wraps;

void SysTick_Handler(void)
{
    ++wraps;
}

void counter_init(void)
{
    REG32(SYST_RVR) = RELOAD;
    REG32(SYST_CVR) = 0u;
    REG32(SYST_CSR) = 0x7u; /* processor clock, interrupt on wrap, enabled */
}

uint32_t counter_read(void)
{
    uint32_t before, now;
    do {
        before = wraps;
        now = REG32(SYST_CVR);
    } while (before != wraps);
    return before * (RELOAD + 1u) + (RELOAD - now);
}
