"""Bounds on what a user may ask for, checked before any work starts."""

MAX_EPOCHS = 10_000  # more would train for weeks
MAX_BATCH_SIZE = 1 << 16
MAX_COUNT = (1 << 31) - 1  # seeds, patience, tau, run lengths: an int32 on the device
MAX_HEAD_WIDTH = 4096  # channels or units of an exit head's hidden layer
MAX_STREAM_STEPS = 1_000_000  # streams, and steps per stream, of the temporal mechanisms' calibration and sweeps
MAX_FEATURE = 1e6  # larger input values leave int8 quantization with too little resolution (and overflow)
FEATURE_CACHE_BYTES = 1 << 30  # exit heads train on the backbone's outputs kept in memory up to this size
