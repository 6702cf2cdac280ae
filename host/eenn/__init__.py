"""eenn: turn a neural network into an early-exit network for Cortex-M microcontrollers."""

from .errors import EennError

__all__ = ["EennError"]
