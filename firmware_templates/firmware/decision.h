/* The exit decision, called by the serving loop around every stage it runs (the mechanism
 * and its constants come from decision_config.h; host/eenn/decisions.py is its twin). */
#ifndef EENN_DECISION_H
#define EENN_DECISION_H

#include <stdint.h>

void eenn_decision_reset(void); /* a new stream: forget what earlier samples left */
void eenn_decision_begin(void); /* a new sample */
/* After stage `stage` ran: the class to answer with if the sample leaves now, else -1. */
int32_t eenn_decision_step(int32_t stage, const int8_t *probs);

#endif
