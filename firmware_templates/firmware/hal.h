/* What the application needs from a board: a UART, a cost counter, a way to stop. One
 * driver file per peripheral family implements each part; the board file picks them. */
#ifndef EENN_HAL_H
#define EENN_HAL_H

#include <stdint.h>

void uart_init(void);
void uart_write(uint8_t byte);
int uart_try_read(uint8_t *byte); /* 1 and the byte if one has arrived, else 0 */

static inline uint8_t uart_read(void) /* blocks until a byte arrives */
{
    uint8_t byte;
    while (!uart_try_read(&byte)) {
    }
    return byte;
}

void counter_init(void);
uint32_t counter_read(void); /* free-running; wraps modulo 2^32 */

/* Emulated builds leave QEMU with this status (semihosting); real boards halt. */
void board_stop(int status);

enum { EENN_STATUS_FAULT = 3, EENN_STATUS_UNEXPECTED_INTERRUPT = 4 };

#define REG32(address) (*(volatile uint32_t *)(address))

#endif
