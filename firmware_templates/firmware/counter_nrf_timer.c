/* nRF51/nRF52 TIMER0 as a free-running 32-bit counter at 16 MHz (prescaler 0), for cores
 * without DWT CYCCNT (the nRF51's Cortex-M0 has no SysTick either). At the nRF51's 16 MHz
 * core clock one tick is one cycle. */
#include "hal.h"

#define TIMER0 0x40008000u
#define TASKS_START (TIMER0 + 0x000u)
#define TASKS_CAPTURE0 (TIMER0 + 0x040u)
#define MODE (TIMER0 + 0x504u)
#define BITMODE (TIMER0 + 0x508u)
#define PRESCALER (TIMER0 + 0x510u)
#define CC0 (TIMER0 + 0x540u)

void counter_init(void)
{
    REG32(MODE) = 0u; /* timer */
    REG32(BITMODE) = 3u; /* 32 bits */
    REG32(PRESCALER) = 0u;
    REG32(TASKS_START) = 1u;
}

uint32_t counter_read(void)
{
    REG32(TASKS_CAPTURE0) = 1u;
    return REG32(CC0);
}
