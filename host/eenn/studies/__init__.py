"""Studies over many builds: searching exits and heads, splitting between device and edge,
and the benchmark suite."""
