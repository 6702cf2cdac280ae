"""The one exception the CLI turns into a one-line message and a nonzero exit."""

import math


class EennError(Exception):
    """A problem with the user's input or environment, explained in one line.

    The message names what was wrong (file, array, field, op) and, where it helps, the fix.
    """

    def __init__(self, message: str):
        super().__init__(" ".join(message.split()))


def check_range(name: str, value, low=None, high=None, why: str = ""):
    """`value` if it is a finite number within [low, high] (either bound may be None), else an
    EennError naming `name`; `why` explains the bound."""
    reason = None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        reason = "must be a number"
    elif isinstance(value, float) and not math.isfinite(value):
        reason = "must be a finite number"
    elif low is not None and value < low:
        reason = f"must be at least {low}"
    elif high is not None and value > high:
        reason = f"must be at most {high}"
    if reason:
        raise EennError(f"{name} {value!r}: {reason}{f' ({why})' if why else ''}")
    return value


def check_choice(name: str, value, choices):
    """`value` if it is one of `choices`, else an EennError that lists them."""
    if value not in choices:
        raise EennError(f"{name} {value!r} is unknown; expected one of {', '.join(map(str, choices))}")
    return value
