/* Frames on the UART (protocol.h): COBS-encoded, zero-terminated, CRC-32 of type and payload
 * appended. Sending streams a frame from any number of pieces, so a large payload (a
 * boundary tensor in the arena) is never copied. */
#ifndef EENN_FRAMING_H
#define EENN_FRAMING_H

#include <stdint.h>

void frame_begin(void);
void frame_put(const void *data, uint32_t length);
void frame_end(void); /* the CRC, the last COBS block and the terminator */

/* Decode `encoded_length` received bytes in place (terminator excluded) and check their CRC:
 * the length of type and payload, or -ERROR_FRAMING, -ERROR_LENGTH or -ERROR_CRC. */
int32_t frame_open(uint8_t *frame, uint32_t encoded_length);

#endif
