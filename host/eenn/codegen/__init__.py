"""From int8 stages to C: each op lowered through its module in eenn.ops, the static memory
plan, row-by-row fusion, and emitting C through Jinja templates."""
