"""The one exception the CLI turns into a one-line message and a nonzero exit."""


class EennError(Exception):
    """A problem with the user's input or environment, explained in one line.

    The message names what was wrong (file, array, field, op) and, where it helps, the fix.
    """

    def __init__(self, message: str):
        super().__init__(" ".join(message.split()))
