/* The benchmark application: times every stage of the generated model on an arena of
 * pseudo-random bytes and prints one line per stage on the UART, "stage K RUNS TICKS":
 * RUNS back-to-back runs of stage K took TICKS counter ticks. RUNS doubles until TICKS
 * reaches MIN_TICKS, so one tick of counter resolution costs little. Then it stops
 * (under QEMU: exit status 0). */
#include <stdint.h>

#include "eenn_model.h"
#include "hal.h"

#define MIN_TICKS 20000u
#define MAX_RUNS 1024u

static uint8_t arena[EENN_ARENA_BYTES] __attribute__((aligned(EENN_ARENA_ALIGNMENT)));

static void put_text(const char *text)
{
    while (*text) {
        uart_write((uint8_t)*text++);
    }
}

static void put_number(uint32_t value)
{
    char digits[10];
    int n = 0;
    do {
        digits[n++] = (char)('0' + value % 10u);
        value /= 10u;
    } while (value);
    while (n) {
        uart_write((uint8_t)digits[--n]);
    }
}

static void fill_arena(void)
{
    uint32_t state = 0x2545F491u; /* xorshift32 */
    for (uint32_t i = 0; i < EENN_ARENA_BYTES; ++i) {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        arena[i] = (uint8_t)state;
    }
}

int main(void)
{
    uart_init();
    counter_init();
    fill_arena();
    for (int32_t stage = 0; stage < EENN_NUM_STAGES; ++stage) {
        uint32_t runs = 1, ticks;
        for (;;) {
            const uint32_t start = counter_read();
            for (uint32_t r = 0; r < runs; ++r) {
                eenn_run_stage(stage, arena);
            }
            ticks = counter_read() - start;
            if (ticks >= MIN_TICKS || runs >= MAX_RUNS) {
                break;
            }
            runs *= 2u;
        }
        put_text("stage ");
        put_number((uint32_t)stage);
        put_text(" ");
        put_number(runs);
        put_text(" ");
        put_number(ticks);
        put_text("\n");
    }
    return 0;
}
