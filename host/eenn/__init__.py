"""eenn: turn a neural network into an early-exit network for Cortex-M microcontrollers."""

import logging
import os

# Read by TensorFlow when it loads (eenn imports it lazily, after this); a user's own setting
# wins. Its C++ notices are not the user's. oneDNN's kernels pick their code by the CPU's
# instruction set (AVX-512 and AVX2 trained two models) and Eigen's split sums by thread (1 and
# 2 cores did): with oneDNN off and one thread per op the model is the same, and eenn's small
# models train faster (README, "Reproducible builds").
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
# TensorFlow's Python warnings (Keras' notes on retracing when many models train in one process,
# as a search or the bench does) are not the user's either; its errors still show.
logging.getLogger("tensorflow").setLevel(logging.ERROR)

from .errors import EennError  # noqa: E402

__all__ = ["EennError"]
