/* The device's side of a split EENN (main.c): the edge host runs stages EENN_EDGE_STAGE and on. */
#ifndef EENN_EDGE_H
#define EENN_EDGE_H

#include <stdint.h>

#include "eenn_model.h"

/* Send sample `sample`'s boundary tensor (`bytes` at `boundary`) to the edge host and wait
 * EENN_EDGE_TIMEOUT_TICKS for its answer: the int8 probabilities of every exit from
 * EENN_EDGE_STAGE on, one row per exit; 0 if none came in time. Answers that carry another
 * offload's sequence number (duplicates, late answers) and garbled frames are dropped. */
const int8_t (*edge_ask(uint16_t sample, const int8_t *boundary, uint32_t bytes))[EENN_NUM_CLASSES];

#endif
