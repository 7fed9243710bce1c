"""The kit's error base: the command line prints these as one line, with no traceback."""
from __future__ import annotations

__all__ = ["KitError"]


class KitError(Exception):
    """A problem with the user's input (file, port, setting) that a message can explain."""
