/* The device side of eenn: receive a sample, run the stages until the exit decision says
 * stop, answer with a record. Frames are COBS-encoded with a CRC-32 (protocol.h); a bad
 * frame gets an error record and the firmware goes on serving. The exit decision keeps its
 * state across samples (temporal mechanisms) until a reset frame starts a new stream.
 *
 * A replay build (EENN_REPLAY) serves no host: it runs the test samples built into it, pass
 * after pass, each pass one stream that begins with an info frame and a text line, and
 * sends a record for every sample, for `eenn monitor` to collect.
 *
 * A split build (EENN_EDGE_STAGE < EENN_NUM_STAGES) runs stages up to EENN_EDGE_STAGE - 1;
 * a sample that none of their exits lets leave goes to the edge host (edge.c), whose answer
 * the exit decision reads as if the stages had run here. Without an answer in time it runs
 * the rest itself (EENN_EDGE_FALLBACK) or reports no result. */
#include <stdint.h>
#include <string.h>

#include "decision.h"
#include "edge.h"
#include "eenn_model.h"
#include "firmware_config.h"
#include "framing.h"
#include "hal.h"
#include "protocol.h"

#define SAMPLE_BYTES (SAMPLE_END + EENN_INPUT_BYTES)
#define DECODED_MAX (SAMPLE_BYTES + 4)
#define ENCODED_MAX (DECODED_MAX + DECODED_MAX / 254 + 2)
#define RECORD_BYTES (RECORD_END + EENN_NUM_CLASSES + 4 * EENN_NUM_STAGES + 4)
#define INFO_BYTES (INFO_END + 32 + 2 + sizeof EENN_BOARD_NAME + sizeof EENN_BUILD_ID)
#define TEXT_BYTES 64
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define REPLY_MAX MAX(MAX(RECORD_BYTES, INFO_BYTES), 1 + TEXT_BYTES) /* the CRC is streamed, not stored */

#if EENN_REPLAY
extern const int8_t eenn_replay_inputs[][EENN_INPUT_BYTES]; /* replay_samples.c */
extern const uint32_t eenn_replay_count;
#endif

static uint8_t arena[EENN_ARENA_BYTES] __attribute__((aligned(EENN_ARENA_ALIGNMENT)));
static uint8_t reply[REPLY_MAX];

/* The image's identity, read from the ELF by the host before flashing (eenn.firmware.flash); kept in
 * its own section so that neither the compiler nor the linker drops it. */
#define IDENTITY __attribute__((section(".eenn_identity"), used))
IDENTITY const uint8_t eenn_model_digest[32] = EENN_MODEL_DIGEST;
IDENTITY const char eenn_board_name[] = EENN_BOARD_NAME;
IDENTITY const char eenn_build_id[] = EENN_BUILD_ID;

/* Send a frame of `length` bytes (type and payload) from `reply`. */
static void send(uint32_t length)
{
    frame_begin();
    frame_put(reply, length);
    frame_end();
}

static uint32_t put_text(uint32_t at, const char *text)
{
    const uint32_t length = (uint32_t)strlen(text);
    reply[at++] = (uint8_t)length;
    memcpy(reply + at, text, length);
    return at + length;
}

static void send_info(void)
{
    reply[0] = FRAME_INFO;
    reply[INFO_VERSION] = PROTOCOL_VERSION;
    reply[INFO_STAGES] = EENN_NUM_STAGES;
    reply[INFO_CLASSES] = EENN_NUM_CLASSES;
    reply[INFO_COST_UNIT] = EENN_COST_UNIT;
    reply[INFO_INPUT_BYTES] = (uint8_t)(EENN_INPUT_BYTES & 0xFF);
    reply[INFO_INPUT_BYTES + 1] = (uint8_t)(EENN_INPUT_BYTES >> 8);
    memcpy(reply + INFO_END, eenn_model_digest, sizeof eenn_model_digest);
    send(put_text(put_text(INFO_END + sizeof eenn_model_digest, eenn_board_name), eenn_build_id));
}

static void put_u32(uint32_t at, uint32_t value)
{
    for (int i = 0; i < 4; ++i) {
        reply[at + i] = (uint8_t)(value >> (8 * i));
    }
}

/* Run stages here from `*stage` until an exit lets the sample leave or stage `end` is
 * reached; the class, or -1 if the sample has not left. */
static int32_t run_stages(int32_t *stage, int32_t end, uint32_t *cost, const int8_t **probs)
{
    int32_t predicted = -1;
    for (; predicted < 0 && *stage < end; ++*stage) {
        const uint32_t start = counter_read();
        eenn_run_stage(*stage, arena);
        cost[*stage] = counter_read() - start;
        *probs = eenn_exit_probabilities(*stage, arena);
        predicted = eenn_decision_step(*stage, *probs);
    }
    return predicted;
}

/* Run stages until the exit decision lets the sample leave (here, or on the edge host);
 * record what happened. */
static void infer(uint16_t sequence, const void *input)
{
    memcpy(eenn_input(arena), input, EENN_INPUT_BYTES);
    uint32_t cost[EENN_NUM_STAGES];
    const int8_t *probs = 0;
    int32_t stage = 0;
    uint8_t route = ROUTE_DEVICE;
    uint32_t waited = 0;
    eenn_decision_begin();
    int32_t predicted = run_stages(&stage, EENN_EDGE_STAGE, cost, &probs);
    int32_t run_here = stage;
#if EENN_EDGE_STAGE < EENN_NUM_STAGES
    if (predicted < 0) {
        const uint32_t start = counter_read();
        const int8_t(*answer)[EENN_NUM_CLASSES] = edge_ask(sequence, eenn_boundary(stage - 1, arena),
                                                            eenn_boundary_bytes[stage - 1]);
        waited = counter_read() - start;
        if (answer) {
            route = ROUTE_EDGE;
            for (; predicted < 0; ++stage) {
                probs = answer[stage - EENN_EDGE_STAGE];
                predicted = eenn_decision_step(stage, probs);
            }
        } else {
#if EENN_EDGE_FALLBACK
            route = ROUTE_FALLBACK;
            predicted = run_stages(&stage, EENN_NUM_STAGES, cost, &probs);
            run_here = stage;
#else
            route = ROUTE_NO_RESULT;
#endif
        }
    }
#endif
    reply[0] = FRAME_RECORD;
    reply[RECORD_SEQUENCE] = (uint8_t)(sequence & 0xFF);
    reply[RECORD_SEQUENCE + 1] = (uint8_t)(sequence >> 8);
    reply[RECORD_EXIT] = predicted < 0 ? NO_RESULT : (uint8_t)(stage - 1);
    reply[RECORD_CLASS] = predicted < 0 ? NO_RESULT : (uint8_t)predicted;
    reply[RECORD_STAGES_RUN] = (uint8_t)run_here;
    reply[RECORD_COST_UNIT] = EENN_COST_UNIT;
    reply[RECORD_ROUTE] = route;
    if (predicted < 0) {
        memset(reply + RECORD_END, 0x80, EENN_NUM_CLASSES); /* no probabilities: -128 each */
    } else {
        memcpy(reply + RECORD_END, probs, EENN_NUM_CLASSES);
    }
    uint32_t at = RECORD_END + EENN_NUM_CLASSES;
    for (int32_t k = 0; k < run_here; ++k, at += 4) {
        put_u32(at, cost[k]);
    }
    if (route != ROUTE_DEVICE) {
        put_u32(at, waited);
        at += 4;
    }
    send(at);
}

#if EENN_REPLAY
static uint32_t put_chars(uint32_t at, const char *text)
{
    while (*text && at < 1 + TEXT_BYTES) {
        reply[at++] = (uint8_t)*text++;
    }
    return at;
}

static uint32_t put_decimal(uint32_t at, uint32_t value)
{
    char digits[11];
    int count = 0;
    do {
        digits[count++] = (char)('0' + value % 10u);
        value /= 10u;
    } while (value);
    while (count && at < 1 + TEXT_BYTES) {
        reply[at++] = (uint8_t)digits[--count];
    }
    return at;
}

int main(void)
{
    uart_init();
    counter_init();
    uart_write(0); /* ends whatever frame a reset cut short */
    for (uint32_t pass = 1;; ++pass) {
        send_info();
        reply[0] = FRAME_TEXT;
        uint32_t at = put_decimal(put_chars(1, "replay pass "), pass);
        send(put_chars(put_decimal(put_chars(at, ": "), eenn_replay_count), " test samples"));
        eenn_decision_reset();
        for (uint32_t i = 0; i < eenn_replay_count; ++i) {
            infer((uint16_t)i, eenn_replay_inputs[i]);
        }
    }
}
#else
static uint8_t frame[ENCODED_MAX];

static void send_error(uint8_t code)
{
    reply[0] = FRAME_ERROR;
    reply[1] = code;
    send(2);
}

static void serve(uint32_t encoded_length)
{
    const int32_t length = frame_open(frame, encoded_length);
    const uint32_t body = (uint32_t)length;
    if (length < 0) {
        send_error((uint8_t)-length);
    } else if (frame[0] == FRAME_INFO_REQUEST) {
        body == 1 ? send_info() : send_error(ERROR_LENGTH);
    } else if (frame[0] == FRAME_SAMPLE) {
        body == SAMPLE_BYTES ? infer((uint16_t)(frame[SAMPLE_SEQUENCE] | frame[SAMPLE_SEQUENCE + 1] << 8),
                                     frame + SAMPLE_END)
                             : send_error(ERROR_LENGTH);
    } else if (frame[0] == FRAME_RESET) {
        eenn_decision_reset();
        reply[0] = FRAME_ACK;
        send(1);
    } else {
        send_error(ERROR_COMMAND);
    }
}

int main(void)
{
    uart_init();
    counter_init();
    uart_write(0); /* ends whatever frame a reset cut short */
    eenn_decision_reset();
    uint32_t length = 0;
    int overflow = 0;
    for (;;) {
        const uint8_t byte = uart_read();
        if (byte != 0) {
            if (length < sizeof frame) {
                frame[length++] = byte;
            } else {
                overflow = 1;
            }
        } else if (overflow) {
            send_error(ERROR_LENGTH);
            length = 0;
            overflow = 0;
        } else if (length > 0) {
            serve(length);
            length = 0;
        }
    }
}
#endif
