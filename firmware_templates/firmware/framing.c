/* COBS framing with a CRC-32 (framing.h, protocol.h). */
#include "framing.h"

#include "hal.h"
#include "protocol.h"

#define BLOCK_MAX 254u /* non-zero bytes one COBS code byte can cover */

static uint8_t block[BLOCK_MAX];
static uint32_t block_length;
static uint32_t crc;

static uint32_t crc32_update(uint32_t state, const uint8_t *data, uint32_t length)
{
    for (uint32_t i = 0; i < length; ++i) {
        state ^= data[i];
        for (int bit = 0; bit < 8; ++bit) {
            state = (state >> 1) ^ (0xEDB88320u & (0u - (state & 1u)));
        }
    }
    return state;
}

static void write_block(void)
{
    uart_write((uint8_t)(block_length + 1u));
    for (uint32_t i = 0; i < block_length; ++i) {
        uart_write(block[i]);
    }
    block_length = 0;
}

/* One byte into the COBS stream. A full block goes out when the next byte comes (or at the
 * end), as a code 0xFF that stands for no zero. */
static void encode_byte(uint8_t byte)
{
    if (block_length == BLOCK_MAX) {
        write_block();
    }
    if (byte == 0) {
        write_block();
    } else {
        block[block_length++] = byte;
    }
}

void frame_begin(void)
{
    block_length = 0;
    crc = 0xFFFFFFFFu;
}

void frame_put(const void *data, uint32_t length)
{
    const uint8_t *bytes = data;
    crc = crc32_update(crc, bytes, length);
    for (uint32_t i = 0; i < length; ++i) {
        encode_byte(bytes[i]);
    }
}

void frame_end(void)
{
    const uint32_t final = ~crc;
    for (int i = 0; i < 4; ++i) {
        encode_byte((uint8_t)(final >> (8 * i)));
    }
    write_block();
    uart_write(0);
}

int32_t frame_open(uint8_t *frame, uint32_t encoded_length)
{
    uint32_t read = 0, written = 0;
    while (read < encoded_length) {
        const uint8_t code = frame[read++];
        if (code == 0 || read + code - 1u > encoded_length) {
            return -ERROR_FRAMING;
        }
        for (uint8_t i = 1; i < code; ++i) {
            frame[written++] = frame[read++];
        }
        if (code != 0xFF && read < encoded_length) {
            frame[written++] = 0;
        }
    }
    if (written < 5) {
        return -ERROR_LENGTH;
    }
    const uint32_t body = written - 4;
    const uint32_t expected = (uint32_t)frame[body] | (uint32_t)frame[body + 1] << 8 | (uint32_t)frame[body + 2] << 16
                            | (uint32_t)frame[body + 3] << 24;
    return ~crc32_update(0xFFFFFFFFu, frame, body) == expected ? (int32_t)body : -ERROR_CRC;
}
