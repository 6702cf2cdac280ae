/* Offloading to the edge host (edge.h, protocol.h). */
#include "edge.h"

#include <string.h>

#include "firmware_config.h"
#include "framing.h"
#include "hal.h"
#include "protocol.h"

#define EDGE_EXITS (EENN_NUM_STAGES - EENN_EDGE_STAGE)
#define ANSWER_BYTES (EDGE_ANSWER_END + EDGE_EXITS * EENN_NUM_CLASSES)
#define ANSWER_ENCODED_MAX (ANSWER_BYTES + 4 + (ANSWER_BYTES + 4) / 254 + 2)

static int8_t probabilities[EDGE_EXITS][EENN_NUM_CLASSES];
static uint8_t answer[ANSWER_ENCODED_MAX];
static uint16_t offload_sequence;

static int is_the_answer(int32_t length, uint16_t sequence)
{
    return length == ANSWER_BYTES && answer[0] == FRAME_EDGE_ANSWER
        && (uint16_t)(answer[EDGE_ANSWER_SEQUENCE] | answer[EDGE_ANSWER_SEQUENCE + 1] << 8) == sequence
        && answer[EDGE_ANSWER_STAGE] == EENN_EDGE_STAGE;
}

const int8_t (*edge_ask(uint16_t sample, const int8_t *boundary, uint32_t bytes))[EENN_NUM_CLASSES]
{
    const uint16_t sequence = ++offload_sequence;
    uint8_t header[OFFLOAD_END] = { FRAME_OFFLOAD };
    header[OFFLOAD_SEQUENCE] = (uint8_t)sequence;
    header[OFFLOAD_SEQUENCE + 1] = (uint8_t)(sequence >> 8);
    header[OFFLOAD_SAMPLE] = (uint8_t)sample;
    header[OFFLOAD_SAMPLE + 1] = (uint8_t)(sample >> 8);
    header[OFFLOAD_STAGE] = EENN_EDGE_STAGE;
    frame_begin();
    frame_put(header, sizeof header);
    frame_put(boundary, bytes);
    frame_end();

    const uint32_t start = counter_read();
    uint32_t length = 0;
    int overflow = 0;
    while (counter_read() - start < EENN_EDGE_TIMEOUT_TICKS) {
        uint8_t byte;
        if (!uart_try_read(&byte)) {
            continue;
        }
        if (byte != 0) {
            overflow |= length == sizeof answer;
            if (!overflow) {
                answer[length++] = byte;
            }
            continue;
        }
        const int32_t decoded = overflow || length == 0 ? -1 : frame_open(answer, length);
        length = 0;
        overflow = 0;
        if (is_the_answer(decoded, sequence)) {
            memcpy(probabilities, answer + EDGE_ANSWER_END, sizeof probabilities);
            return (const int8_t(*)[EENN_NUM_CLASSES])probabilities;
        }
    }
    return 0;
}
