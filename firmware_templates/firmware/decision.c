/* Exit decisions on int8 exit outputs, integer arithmetic only; the rules are written out
 * in host/eenn/decisions.py, which takes the same decisions. One mechanism is compiled in. */
#include <string.h>

#include "decision.h"
#include "decision_config.h"
#include "eenn_model.h"

#define LAST_STAGE (EENN_NUM_STAGES - 1)

#if !EENN_DECISION_PATIENCE
static const int32_t thresholds[EENN_NUM_STAGES] = EENN_DECISION_THRESHOLDS; /* the last one unused */
#endif

static int32_t argmax(const int8_t *probs)
{
    int32_t best = 0;
    for (int32_t c = 1; c < EENN_NUM_CLASSES; ++c) {
        best = probs[c] > probs[best] ? c : best;
    }
    return best;
}

#if EENN_DECISION_MARGIN
static int leave_here(int32_t stage, const int8_t *probs)
{
    int32_t top1 = -128, top2 = -128;
    for (int32_t c = 0; c < EENN_NUM_CLASSES; ++c) {
        if (probs[c] > top1) {
            top2 = top1;
            top1 = probs[c];
        } else if (probs[c] > top2) {
            top2 = probs[c];
        }
    }
    return top1 - top2 >= thresholds[stage];
}
#elif EENN_DECISION_ENTROPY
static const int32_t entropy_q16[256] = EENN_DECISION_ENTROPY_TABLE; /* -p ln p of each int8 level */

static int leave_here(int32_t stage, const int8_t *probs)
{
    int32_t entropy = 0;
    for (int32_t c = 0; c < EENN_NUM_CLASSES; ++c) {
        entropy += entropy_q16[probs[c] + 128];
    }
    return entropy <= thresholds[stage];
}
#elif EENN_DECISION_PATIENCE
static int32_t run_class = -1, run_length;

static int leave_here(int32_t stage, const int8_t *probs)
{
    (void)stage;
    const int32_t c = argmax(probs);
    run_length = c == run_class ? run_length + 1 : 1;
    run_class = c;
    return run_length >= EENN_DECISION_PATIENCE_COUNT;
}
#else /* confidence, and the cascade of the temporal mechanisms */
static int leave_here(int32_t stage, const int8_t *probs)
{
    int32_t top = -128;
    for (int32_t c = 0; c < EENN_NUM_CLASSES; ++c) {
        top = probs[c] > top ? probs[c] : top;
    }
    return top >= thresholds[stage];
}
#endif

#if EENN_DECISION_DIFFERENCE
static int8_t first_output[EENN_NUM_CLASSES], reference[EENN_NUM_CLASSES];
static int32_t reference_class, have_reference;

static int32_t first_exit_shortcut(const int8_t *probs)
{
    memcpy(first_output, probs, EENN_NUM_CLASSES);
    if (!have_reference) {
        return -1;
    }
    int32_t distance = 0;
    for (int32_t c = 0; c < EENN_NUM_CLASSES; ++c) {
        const int32_t d = probs[c] - reference[c];
#if EENN_DECISION_DISTANCE_L1
        distance += d < 0 ? -d : d;
#else
        distance += d * d;
#endif
    }
    return distance <= EENN_DECISION_TAU ? reference_class : -1;
}

static int32_t deep_answer(int32_t c)
{
    memcpy(reference, first_output, EENN_NUM_CLASSES);
    reference_class = c;
    have_reference = 1;
    return c;
}
#elif EENN_DECISION_TEMPORAL_PATIENCE
static int32_t previous_class = -1, same_count, early_run;

static int32_t first_exit_shortcut(const int8_t *probs)
{
    const int32_t c = argmax(probs);
    same_count = c == previous_class ? same_count + 1 : 0;
    previous_class = c;
    if (same_count >= EENN_DECISION_PATIENCE_COUNT && early_run < EENN_DECISION_MAX_RUN) {
        ++early_run;
        return c;
    }
    early_run = 0;
    return -1;
}

static int32_t deep_answer(int32_t c)
{
    return c;
}
#endif

void eenn_decision_reset(void)
{
#if EENN_DECISION_DIFFERENCE
    have_reference = 0;
    reference_class = 0;
#elif EENN_DECISION_TEMPORAL_PATIENCE
    previous_class = -1;
    same_count = 0;
    early_run = 0;
#endif
    eenn_decision_begin();
}

void eenn_decision_begin(void)
{
#if EENN_DECISION_PATIENCE
    run_class = -1;
    run_length = 0;
#endif
}

int32_t eenn_decision_step(int32_t stage, const int8_t *probs)
{
#if EENN_DECISION_DIFFERENCE || EENN_DECISION_TEMPORAL_PATIENCE
    if (stage <= 0) {
        const int32_t shortcut = first_exit_shortcut(probs);
        if (shortcut >= 0) {
            return shortcut;
        }
        return LAST_STAGE == 0 ? deep_answer(argmax(probs)) : -1;
    }
    if (stage >= LAST_STAGE || (EENN_DECISION_DEEP_CASCADE && leave_here(stage, probs))) {
        return deep_answer(argmax(probs));
    }
    return -1;
#else
    return stage >= LAST_STAGE || leave_here(stage, probs) ? argmax(probs) : -1;
#endif
}
