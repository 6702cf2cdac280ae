"""From int8 stages to C: the IR read from a .tflite, lowering each op to a kernel call, the
static memory plan, row-by-row fusion, and emitting C through Jinja templates."""
