/* The benchmark application. On an arena of pseudo-random bytes it first runs the stages
 * once, in order, and prints "check K HASH" per stage: the FNV-1a hash of exit K's
 * probabilities and boundary tensor, which the host compares with its own run of the same
 * C (eenn.bench). Then, from the same arena, it times every stage and prints "stage K RUNS
 * TICKS": RUNS back-to-back runs of stage K took TICKS counter ticks. RUNS doubles until
 * TICKS reaches MIN_TICKS, so one tick of counter resolution costs little. Then it stops
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

static uint32_t fnv1a(uint32_t hash, const int8_t *bytes, uint32_t n)
{
    for (uint32_t i = 0; i < n; ++i) {
        hash = (hash ^ (uint8_t)bytes[i]) * 16777619u;
    }
    return hash;
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
        eenn_run_stage(stage, arena);
        uint32_t hash = fnv1a(2166136261u, eenn_exit_probabilities(stage, arena), eenn_exit_bytes[stage]);
        hash = fnv1a(hash, eenn_boundary(stage, arena), eenn_boundary_bytes[stage]);
        put_text("check ");
        put_number((uint32_t)stage);
        put_text(" ");
        put_number(hash);
        put_text("\n");
    }
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
