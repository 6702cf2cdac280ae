/* Nordic legacy UART (nRF51; nRF52 keeps it at the same address with the same registers). */
#include "firmware_config.h"
#include "hal.h"

#define STARTRX (EENN_UART_BASE + 0x000u)
#define STARTTX (EENN_UART_BASE + 0x008u)
#define RXDRDY (EENN_UART_BASE + 0x108u)
#define TXDRDY (EENN_UART_BASE + 0x11Cu)
#define ENABLE (EENN_UART_BASE + 0x500u)
#define PSELTXD (EENN_UART_BASE + 0x50Cu)
#define PSELRXD (EENN_UART_BASE + 0x514u)
#define RXD (EENN_UART_BASE + 0x518u)
#define TXD (EENN_UART_BASE + 0x51Cu)
#define BAUDRATE (EENN_UART_BASE + 0x524u)

/* BAUDRATE register values from the nRF51/nRF52 reference (not baud * 2^32 / 16 MHz exactly). */
#if EENN_UART_BAUD == 115200
#define BAUDRATE_VALUE 0x01D7E000u
#elif EENN_UART_BAUD == 230400
#define BAUDRATE_VALUE 0x03AFB000u
#elif EENN_UART_BAUD == 1000000
#define BAUDRATE_VALUE 0x10000000u
#else
#error "nrf-uart: baud rate not in the table"
#endif

#define GPIO_OUTSET 0x50000508u
#define GPIO_PIN_CNF(pin) (0x50000700u + 4u * (pin))

void uart_init(void)
{
    REG32(GPIO_OUTSET) = 1u << EENN_UART_TX_PIN; /* idle high */
    REG32(GPIO_PIN_CNF(EENN_UART_TX_PIN)) = 0x3u; /* output, input buffer disconnected */
    REG32(GPIO_PIN_CNF(EENN_UART_RX_PIN)) = 0x0u; /* input */
    REG32(PSELTXD) = EENN_UART_TX_PIN;
    REG32(PSELRXD) = EENN_UART_RX_PIN;
    REG32(BAUDRATE) = BAUDRATE_VALUE;
    REG32(ENABLE) = 4u;
    REG32(STARTTX) = 1u;
    REG32(STARTRX) = 1u;
}

void uart_write(uint8_t byte)
{
    REG32(TXDRDY) = 0u;
    REG32(TXD) = byte;
    while (!REG32(TXDRDY)) {
    }
}

int uart_try_read(uint8_t *byte)
{
    if (!REG32(RXDRDY)) {
        return 0;
    }
    REG32(RXDRDY) = 0u;
    *byte = (uint8_t)REG32(RXD);
    return 1;
}
