"""The kit's error base (the command line prints these as one line, with no traceback) and safe display text."""
from __future__ import annotations

import re
import unicodedata

__all__ = ["KitError", "printable", "one_line"]


class KitError(Exception):
    """A problem with the user's input (file, port, setting) that a message can explain."""


# C0/C1 controls (ESC sequences, CR, backspace, bell...) except tab and newline.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str, *, keep_newlines: bool = False, limit: int | None = None) -> str:
    """``text`` made safe for a terminal or notebook: control and bidi-override characters shown as ``\\xNN``.

    Text from outside (a board, a file name, a damaged file) could otherwise clear the screen, move the
    cursor, overwrite a line with CR or reorder what is shown with bidi controls (Unicode category Cf).
    """
    out = []
    for ch in str(text):
        if ch == "\n" and keep_newlines or ch == "\t":
            out.append(ch)
        elif _CONTROLS.match(ch) or ch in "\n\u2028\u2029" or unicodedata.category(ch) == "Cf":
            out.append(f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    s = "".join(out)
    if limit is not None and len(s) > limit:
        s = s[:limit] + "..."
    return s


def one_line(text: str) -> str:
    """A message as a single printable line (line breaks become '; ')."""
    parts = [printable(p) for p in str(text).splitlines() if p.strip()]
    return "; ".join(parts)
