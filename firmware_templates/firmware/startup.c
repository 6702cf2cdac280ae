/* Reset and fault handling for every Cortex-M board: no vendor SDK. The linker script
 * provides the section bounds and the initial stack pointer. */
#include <stdint.h>

#include "firmware_config.h"
#include "hal.h"

extern uint32_t __data_load, __data_start, __data_end, __bss_start, __bss_end, __stack_top;
int main(void);
static void Default_Handler(void);
void SysTick_Handler(void) __attribute__((weak, alias("Default_Handler"))); /* a counter driver may define it */

#define SCB_CPACR 0xE000ED88u

void Reset_Handler(void)
{
    const uint32_t *from = &__data_load;
    for (uint32_t *to = &__data_start; to < &__data_end;) {
        *to++ = *from++;
    }
    for (uint32_t *to = &__bss_start; to < &__bss_end;) {
        *to++ = 0;
    }
#if EENN_FPU
    REG32(SCB_CPACR) |= 0xFu << 20; /* CP10 and CP11: full access */
    __asm__ volatile("dsb\n\tisb" ::: "memory");
#endif
    board_stop(main());
}

static void Fault_Handler(void)
{
    board_stop(EENN_STATUS_FAULT);
}

static void Default_Handler(void)
{
    board_stop(EENN_STATUS_UNEXPECTED_INTERRUPT);
}

typedef void (*handler)(void);

__attribute__((section(".isr_vector"), used)) static const handler vectors[16] = {
    (handler)&__stack_top, Reset_Handler, Default_Handler, Fault_Handler, /* NMI, HardFault */
    Fault_Handler, Fault_Handler, Fault_Handler, 0, 0, 0, 0, /* MemManage, BusFault, UsageFault */
    Default_Handler, Default_Handler, 0, Default_Handler, SysTick_Handler, /* SVC, DebugMon, PendSV */
};

#if EENN_EMULATED
/* Semihosting SYS_EXIT_EXTENDED: QEMU exits with `status`. */
void board_stop(int status)
{
    volatile uint32_t block[2] = {0x20026u /* ADP_Stopped_ApplicationExit */, (uint32_t)status};
    register uint32_t r0 __asm__("r0") = 0x20u;
    register volatile uint32_t *r1 __asm__("r1") = block;
    __asm__ volatile("bkpt 0xab" : : "r"(r0), "r"(r1) : "memory");
    for (;;) {
    }
}
#else
void board_stop(int status)
{
    (void)status;
    for (;;) {
        __asm__ volatile("wfi");
    }
}
#endif
