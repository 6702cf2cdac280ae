"""TFLite flatbuffers: reading and writing them, and the TFLM reference interpreter that is the
oracle for the int8 numerics (a chain of stages, and its records)."""
