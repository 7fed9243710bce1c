"""Reading a sketch's C sources: comments blanked, constants and their integer values, string
literals, and model arrays embedded as bytes.

Enough of C for :mod:`tinymlkit.export.checks` and :mod:`tinymlkit.export.sketches`: ``constexpr``
and ``const`` constants and ``#define``s with their values (simple integer arithmetic evaluated), C
string literals with their escapes, and byte arrays that hold a ``.tflite`` (``TFL3`` at offset 4).
"""
from __future__ import annotations

import ast
import dataclasses
import operator
import re
from pathlib import Path

from ..errors import KitError

__all__ = ["SOURCE_SUFFIXES", "SourceFile", "Constant", "strip_comments", "read_sources", "parse_constants",
           "eval_int", "eval_float", "c_literal_value", "c_strings", "embedded_models", "SketchError"]

SOURCE_SUFFIXES = (".ino", ".cpp", ".cc", ".c", ".h", ".hpp")
"""Files of a sketch that hold C or C++."""


class SketchError(KitError, ValueError):
    """A sketch folder the checker cannot read at all."""


@dataclasses.dataclass(frozen=True)
class SourceFile:
    """A sketch source file and its text with comments blanked."""

    path: Path
    """The file."""
    rel: str
    """Path relative to the sketch folder."""
    text: str
    """Text as written."""
    code: str
    """Text with comments replaced by spaces (line numbers kept)."""

    def line_of(self, pos: int) -> int:
        """1-based line of a character offset."""
        return self.code.count("\n", 0, pos) + 1


def strip_comments(text: str) -> str:
    """Blank out // and /* */ comments (not inside string or character literals), keeping line breaks."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            out.append(text[i:j + 1])
            i = j + 1
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("".join(ch if ch == "\n" else " " for ch in text[i:j]))
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def read_sources(sketch_dir: Path) -> list[SourceFile]:
    """Every source file of the sketch (its folder and ``src/``, as the Arduino builder compiles them)."""
    files = []
    candidates = [p for p in sketch_dir.iterdir() if p.is_file()]
    if (sketch_dir / "src").is_dir():
        candidates += [p for p in (sketch_dir / "src").rglob("*") if p.is_file()]
    for p in sorted(candidates):
        if p.suffix.lower() not in SOURCE_SUFFIXES:
            continue
        try:
            text = p.read_text(encoding="utf-8", errors="replace")
        except OSError as e:
            raise SketchError(f"{p}: cannot read ({e})") from None
        files.append(SourceFile(p, p.relative_to(sketch_dir).as_posix(), text, strip_comments(text)))
    return files


@dataclasses.dataclass(frozen=True)
class Constant:
    """A named constant of the sketch: ``constexpr``/``const`` variable or ``#define``."""

    name: str
    """Identifier."""
    value: str
    """Initialiser text (for arrays, the text between the braces)."""
    is_array: bool
    """True for an array initialiser."""
    file: str
    """File it is defined in."""
    line: int
    """Line it is defined on."""


_CONST_RE = re.compile(
    r"^[ \t]*(?:static\s+|inline\s+)*(?:constexpr|const)\s+(?:[\w:<>]+[\s*&]+)+?(\w+)\s*(\[[^\]]*\])?\s*=\s*"
    r"(\{[^}]*\}|[^;]+);", re.M)
_DEFINE_RE = re.compile(r"^[ \t]*#\s*define\s+(\w+)[ \t]+([^\n]+)$", re.M)


def parse_constants(files: list[SourceFile]) -> dict[str, Constant]:
    """Named constants defined in the sketch's sources (the first definition of a name wins)."""
    consts: dict[str, Constant] = {}
    for f in files:
        for m in _CONST_RE.finditer(f.code):
            value = m.group(3).strip()
            is_array = value.startswith("{")
            consts.setdefault(m.group(1), Constant(m.group(1), value[1:-1] if is_array else value, is_array,
                                                    f.rel, f.line_of(m.start(1))))
        for m in _DEFINE_RE.finditer(f.code):
            consts.setdefault(m.group(1), Constant(m.group(1), m.group(2).strip(), False, f.rel, f.line_of(m.start(1))))
    return consts


_BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
           ast.FloorDiv: operator.floordiv, ast.Div: operator.floordiv, ast.LShift: operator.lshift}


def eval_int(expr: str, consts: dict[str, Constant], _depth: int = 0) -> int | None:
    """Value of a C integer expression made of literals, + - * / <<, parentheses and known constants."""
    if _depth > 20:
        return None
    text = re.sub(r"\b(\d+)[uUlL]+\b", r"\1", expr.strip())
    text = re.sub(r"\(\s*(?:size_t|int|unsigned|uint32_t|int32_t)\s*\)", "", text)
    text = re.sub(r"\bstatic_cast\s*<\s*\w+\s*>", "", text)
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        return None

    def ev(node: ast.AST) -> int | None:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return int(node.value)
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            a, b = ev(node.left), ev(node.right)
            if a is None or b is None or (isinstance(node.op, (ast.Div, ast.FloorDiv)) and b == 0):
                return None
            return int(_BINOPS[type(node.op)](a, b))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            v = ev(node.operand)
            return None if v is None else -v
        if isinstance(node, ast.Name) and node.id in consts and not consts[node.id].is_array:
            return eval_int(consts[node.id].value, consts, _depth + 1)
        return None

    return ev(tree)


def eval_float(expr: str) -> float | None:
    """A C float literal (``1.5f``) as a float, or None when it is not one."""
    text = expr.strip().rstrip("fF")
    try:
        return float(text)
    except ValueError:
        return None


_SIMPLE_ESCAPES = {"n": 10, "t": 9, "r": 13, "a": 7, "b": 8, "f": 12, "v": 11, "\\": 92, '"': 34, "'": 39, "?": 63}


def c_literal_value(body: str) -> str:
    """The text a C string literal's body (between the quotes) stands for: escapes decoded, bytes as UTF-8."""
    out = bytearray()
    i, n = 0, len(body)
    while i < n:
        ch = body[i]
        if ch != "\\" or i + 1 >= n:
            out += ch.encode("utf-8")
            i += 1
            continue
        nxt = body[i + 1]
        if nxt in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[nxt])
            i += 2
        elif nxt in "01234567":
            m = re.match(r"[0-7]{1,3}", body[i + 1:])
            out.append(int(m.group(0), 8) & 0xFF)  # type: ignore[union-attr]
            i += 1 + len(m.group(0))  # type: ignore[union-attr]
        elif nxt == "x":
            m = re.match(r"[0-9a-fA-F]+", body[i + 2:])
            if m is None:
                out += b"x"
                i += 2
            else:
                out.append(int(m.group(0), 16) & 0xFF)
                i += 2 + len(m.group(0))
        else:
            out += nxt.encode("utf-8")
            i += 2
    return out.decode("utf-8", errors="replace")


def c_strings(array_text: str) -> list[str]:
    """The string literals of a C initialiser, unescaped, in order."""
    return [c_literal_value(s) for s in re.findall(r'"((?:[^"\\]|\\.)*)"', array_text)]


_ARRAY_RE = re.compile(r"(?:unsigned\s+char|uint8_t|char|int8_t)\s+(?:const\s+)?(\w+)\s*\[[^\]]*\]\s*"
                       r"(?:[\w()\s]*)=\s*\{([^}]*)\}", re.S)


def embedded_models(files: list[SourceFile]) -> list[tuple[str, bytes, SourceFile, int]]:
    """Byte arrays in the sketch that hold a .tflite model (``TFL3`` at byte 4): (name, bytes, file, line)."""
    found = []
    for f in files:
        if "0x" not in f.code and "TFL3" not in f.code:
            continue
        for m in _ARRAY_RE.finditer(f.code):
            body = m.group(2)
            if body.count(",") < 8:
                continue
            try:
                data = bytes(int(tok, 0) & 0xFF for tok in (t.strip() for t in body.split(",")) if tok)
            except ValueError:
                continue
            if len(data) >= 8 and data[4:8] == b"TFL3":
                found.append((m.group(1), data, f, f.line_of(m.start(1))))
    return found
