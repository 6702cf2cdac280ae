/* The serial protocol between the host and the firmware (eenn.device.link on the host side).
 *
 * A frame is COBS-encoded and ends with a zero byte. Decoded, it is one type byte, the
 * payload, and the CRC-32 (IEEE, as zlib computes it) of type and payload, little-endian.
 * Multi-byte fields are little-endian.
 *
 *   host -> device  'I' info request        (no payload)
 *                   'S' sample              u16 sequence, the quantized input (EENN_INPUT_BYTES)
 *                   'R' reset               (no payload): a new stream; the decision forgets its state
 *   device -> host  'i' info                u8 protocol version, u8 stages, u8 classes, u8 cost unit,
 *                                           u16 input bytes, 32-byte model digest,
 *                                           u8 length + board name, u8 length + build id
 *                   'r' record              u16 sequence, u8 exit taken, u8 class, u8 stages run here,
 *                                           u8 cost unit, u8 route, int8 probabilities of the exit
 *                                           taken (classes), u32 cost of each stage run here, and
 *                                           unless the route is ROUTE_DEVICE, u32 time spent
 *                                           offloading (sending and waiting); with no result, exit
 *                                           and class are NO_RESULT and the probabilities -128
 *                   'k' acknowledged        (no payload), after a reset
 *                   't' text                a line for humans (UTF-8, no terminator), unasked
 *                   'e' error               u8 error code
 */
#ifndef EENN_PROTOCOL_H
#define EENN_PROTOCOL_H

#define PROTOCOL_VERSION 2

enum {
    FRAME_INFO_REQUEST = 'I',
    FRAME_SAMPLE = 'S',
    FRAME_RESET = 'R',
    FRAME_ACK = 'k',
    FRAME_INFO = 'i',
    FRAME_RECORD = 'r',
    FRAME_ERROR = 'e',
    FRAME_TEXT = 't',
    FRAME_OFFLOAD = 'o',
    FRAME_EDGE_ANSWER = 'x',
};

enum {
    ERROR_FRAMING = 1, /* not valid COBS */
    ERROR_CRC = 2,
    ERROR_LENGTH = 3, /* too short, too long, or a payload of the wrong size */
    ERROR_COMMAND = 4, /* unknown frame type */
};

enum {
    COST_CYCLES = 0, /* DWT CYCCNT */
    COST_SYSTICK = 1, /* SysTick at the core clock: cycles on a real core, instructions / tick under QEMU */
    COST_TIMER = 2, /* a 16 MHz peripheral timer (nRF TIMER0) */
};

enum {
    ROUTE_DEVICE = 0, /* every stage it took ran here */
    ROUTE_EDGE = 1, /* the edge host ran the stages after the split */
    ROUTE_FALLBACK = 2, /* the edge did not answer in time: the rest ran here */
    ROUTE_NO_RESULT = 3, /* the edge did not answer in time: no result */
};

#define NO_RESULT 0xFF

#endif
