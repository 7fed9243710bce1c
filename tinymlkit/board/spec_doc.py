"""Render the protocol specification as Markdown tables for ``docs/serial_protocol.md``.

The document's tables sit between two marker comments and are generated, like the C header, so
the prose can never disagree with the code on a code, an offset or a limit.
"""
from __future__ import annotations

import os
from pathlib import Path

from ..errors import KitError
from ..files import atomic_write_text
from . import protocol as p

__all__ = ["BEGIN", "END", "render_markdown_tables", "update_doc", "doc_path"]

BEGIN = "<!-- BEGIN GENERATED PROTOCOL TABLES (tinymlkit generate-protocol-header) -->"
"""Marker line before the generated tables."""
END = "<!-- END GENERATED PROTOCOL TABLES -->"
"""Marker line after them."""

_TYPES = {"B": "u8", "H": "u16", "I": "u32", "h": "i16", "i": "i32"}


def render_markdown_tables() -> str:
    """The generated part of the document (between the markers, markers excluded)."""
    L = [f"Protocol version **{p.PROTOCOL_VERSION}**.", "",
         "| code | type | sender | payload bytes | purpose |", "| --- | --- | --- | --- | --- |"]
    for t in p.FRAME_TYPES:
        L.append(f"| 0x{t.code:02X} | {t.name} | {t.sender} | {t.min_payload}..{t.max_payload} | {t.doc} |")
    L.append("")
    for t in p.FRAME_TYPES:
        L += [f"#### {t.name} payload", "", "| offset | field | type | meaning |", "| --- | --- | --- | --- |"]
        for f, off in t.offsets():
            L.append(f"| {off} | {f.name} | {_TYPES[f.fmt]} | {f.doc} |")
        if t.tail:
            L.append(f"| {t.fixed_size} | (tail) | bytes | {t.tail}; at most {t.max_tail} bytes |")
        L.append("")
    for title, table in (("Commands (COMMAND.op)", p.COMMANDS), ("Capabilities (HELLO.capabilities bits)", p.CAPABILITIES),
                         ("Pixel formats", p.PIXEL_FORMATS), ("Error codes", p.ERROR_CODES),
                         ("Log levels", p.LOG_LEVELS), ("Status states", p.STATUS_STATES),
                         ("Timing sources (TIMING.source)", p.TIMING_SOURCES), ("Timing steps (TIMING.step)", p.TIMING_STEPS)):
        L.append(f"**{title}:** " + ", ".join(f"{k} = {v}" for k, v in table.items()) + ".")
        L.append("")
    return "\n".join(L).rstrip() + "\n"


def doc_path() -> Path | None:
    """``docs/serial_protocol.md`` of this checkout, if there is one."""
    path = Path(__file__).resolve().parents[2] / "docs" / "serial_protocol.md"
    return path if path.is_file() else None


def update_doc(path: str | os.PathLike[str]) -> bool:
    """Replace the generated block of the document; returns True if it changed."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    if BEGIN not in text or END not in text:
        raise KitError(f"{path}: no generated-table markers ({BEGIN} ... {END})")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    new = f"{head}{BEGIN}\n{render_markdown_tables()}{END}{tail}"
    if new != text:
        atomic_write_text(path, new)
        return True
    return False
