/* Arm CMSDK APB UART (MPS2, MPS3). */
#include "firmware_config.h"
#include "hal.h"

#define DATA (EENN_UART_BASE + 0x00u)
#define STATE (EENN_UART_BASE + 0x04u) /* bit 0: TX full, bit 1: RX full */
#define CTRL (EENN_UART_BASE + 0x08u) /* bit 0: TX enable, bit 1: RX enable */
#define BAUDDIV (EENN_UART_BASE + 0x10u)

void uart_init(void)
{
    REG32(BAUDDIV) = EENN_CLOCK_HZ / EENN_UART_BAUD;
    REG32(CTRL) = 0x3u;
}

void uart_write(uint8_t byte)
{
    while (REG32(STATE) & 0x1u) {
    }
    REG32(DATA) = byte;
}

int uart_try_read(uint8_t *byte)
{
    if (!(REG32(STATE) & 0x2u)) {
        return 0;
    }
    *byte = (uint8_t)REG32(DATA);
    return 1;
}
