/* STM32F4 USART1 on PA9 (TX) / PA10 (RX), alternate function 7. */
#include "firmware_config.h"
#include "hal.h"

#define RCC_AHB1ENR 0x40023830u /* bit 0: GPIOA */
#define RCC_APB2ENR 0x40023844u /* bit 4: USART1 */
#define GPIOA_MODER 0x40020000u
#define GPIOA_AFRH 0x40020024u

#define SR (EENN_UART_BASE + 0x00u) /* bit 7: TXE, bit 6: TC, bit 5: RXNE */
#define DR (EENN_UART_BASE + 0x04u)
#define BRR (EENN_UART_BASE + 0x08u)
#define CR1 (EENN_UART_BASE + 0x0Cu) /* bit 13: UE, bit 3: TE, bit 2: RE */

void uart_init(void)
{
    REG32(RCC_AHB1ENR) |= 1u << 0;
    REG32(RCC_APB2ENR) |= 1u << 4;
    REG32(GPIOA_MODER) = (REG32(GPIOA_MODER) & ~(0xFu << 18)) | (0xAu << 18); /* PA9, PA10: alternate */
    REG32(GPIOA_AFRH) = (REG32(GPIOA_AFRH) & ~(0xFFu << 4)) | (0x77u << 4);
    REG32(BRR) = (EENN_CLOCK_HZ + EENN_UART_BAUD / 2) / EENN_UART_BAUD;
    REG32(CR1) = (1u << 13) | (1u << 3) | (1u << 2);
}

/* TXE or TC: QEMU's model clears TXE on a write and sets only TC again. */
void uart_write(uint8_t byte)
{
    while (!(REG32(SR) & (3u << 6))) {
    }
    REG32(DR) = byte;
}

int uart_try_read(uint8_t *byte)
{
    if (!(REG32(SR) & (1u << 5))) {
        return 0;
    }
    *byte = (uint8_t)REG32(DR);
    return 1;
}
