"""The kit's Arduino sketches: which exist, what they include, and the host-side checks a board build would catch.

No Arduino core can be installed here, so a sketch is checked for what a host can see: every
``#include`` resolves to the sketch folder, the kit's TinyMLKit library, or a header of the pinned
core and libraries (listed below, read from their sources at the pinned versions), and every
generated name the sketch uses (``kInputScale``, ``RegisterModelOps``...) is defined in its
generated headers.
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

from ..errors import KitError
from .c_source import parse_constants, read_sources
from .render import GENERATED_FILES, MANIFEST

__all__ = ["SKETCHES", "MODEL_SKETCHES", "PINNED_HEADERS", "library_src", "sketch_dir", "includes",
           "include_problems", "generated_name_problems", "copy_sketch", "board_library_src"]

SKETCHES = ("kws", "person_detection", "anomaly", "capture_audio", "capture_image", "test_microphone", "test_camera")
"""Every sketch folder under ``arduino_sketches/``, each holding ``<name>.ino``."""

MODEL_SKETCHES = {"kws": "kws", "person_detection": "vww"}
"""Sketches that run a model, and the config kind their generated files come from."""

PINNED_HEADERS: dict[str, str] = {
    "Arduino.h": "arduino:mbed_nano core",
    "PDM.h": "arduino:mbed_nano core (libraries/PDM)",
    "SPI.h": "arduino:mbed_nano core (libraries/SPI)",
    "Wire.h": "arduino:mbed_nano core (libraries/Wire)",
    "Chirale_TensorFlowLite.h": "Chirale_TensorFLowLite 2.0.0 (src/)",
    "tensorflow/lite/micro/micro_interpreter.h": "Chirale_TensorFLowLite 2.0.0 (src/)",
    "tensorflow/lite/micro/micro_mutable_op_resolver.h": "Chirale_TensorFLowLite 2.0.0 (src/)",
    "tensorflow/lite/schema/schema_generated.h": "Chirale_TensorFLowLite 2.0.0 (src/)",
    "tensorflow/lite/experimental/microfrontend/lib/frontend.h": "Chirale_TensorFLowLite 2.0.0 (src/)",
    "tensorflow/lite/experimental/microfrontend/lib/frontend_util.h": "Chirale_TensorFLowLite 2.0.0 (src/)",
    "Arduino_OV767X.h": "Arduino_OV767X 0.0.2 (src/)",
    "ArduCAM.h": "ArduCAM (github.com/ArduCAM/Arduino, ArduCAM/, commit 066a7ea)",
    "JPEGDecoder.h": "JPEGDecoder 2.0.0 (src/)",
}
"""Headers of the pinned core and libraries that the sketches include, and where each is."""

_INCLUDE_RE = re.compile(r'^[ \t]*#[ \t]*include[ \t]*[<"]([^>"]+)[>"]', re.M)
_NAME_RE = re.compile(r"\b((?!kTfLite)k[A-Z]\w*|g_model(?:_len)?|RegisterModelOps|ModelOpResolver|KitFillFrontendConfig)\b")


def _root() -> Path:
    return Path(__file__).resolve().parents[2] / "arduino_sketches"


def sketch_dir(name: str) -> Path:
    """The folder of a sketch in this checkout."""
    return _root() / name


def copy_sketch(name: str, dest: str | Path) -> Path:
    """Copy a sketch's hand-written files (not its generated ones) into ``dest``, to export a model into."""
    src = sketch_dir(name)
    if name not in SKETCHES or not (src / f"{name}.ino").is_file():
        raise KitError(f"no sketch {name!r} at {src}: the sketches come with the repository "
                       f"(git clone it; on Colab the notebook's first cell does); known: {', '.join(SKETCHES)}")
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    for f in sorted(src.iterdir()):
        if f.is_file() and f.name not in GENERATED_FILES and f.name != MANIFEST:
            shutil.copy2(f, dest / f.name)
    return dest


def library_src() -> Path:
    """The kit's own Arduino library sources (plain C++)."""
    return _root() / "libraries" / "TinyMLKit" / "src"


def board_library_src() -> Path:
    """The kit's board-only Arduino library (TinyMLKitBoard: interpreter bring-up, camera, bench)."""
    return _root() / "libraries" / "TinyMLKitBoard" / "src"


_STD = {"stddef.h", "stdint.h", "stdlib.h", "string.h", "math.h", "stdio.h"}


def includes(folder: Path) -> list[tuple[str, int, str]]:
    """(file, line, header) of every #include in a sketch folder's sources, comments ignored."""
    out = []
    for f in read_sources(folder):
        for m in _INCLUDE_RE.finditer(f.code):
            out.append((f.rel, f.line_of(m.start()), m.group(1)))
    return out


def include_problems(folder: Path, generated_expected: bool = True) -> list[str]:
    """Includes that resolve nowhere a board build would look (sketch folder, kit libraries, pinned headers)."""
    libs = (library_src(), board_library_src())
    problems = []
    for rel, line, header in includes(folder):
        if ((folder / header).is_file() or any((lib / header).is_file() for lib in libs) or header in PINNED_HEADERS
                or header in _STD):
            continue
        if header in GENERATED_FILES and not generated_expected:
            continue
        problems.append(f"{folder.name}/{rel}:{line}: #include \"{header}\" is not in the sketch folder, the "
                        "TinyMLKit or TinyMLKitBoard library or the pinned libraries")
    return problems


def generated_name_problems(folder: Path) -> list[str]:
    """Generated names (k..., g_model, RegisterModelOps, ModelOpResolver) the sketch uses but no header defines."""
    files = read_sources(folder)
    generated = [f for f in files if f.rel in GENERATED_FILES]
    if not generated:
        return [f"{folder.name}: no generated files ({', '.join(GENERATED_FILES)}); run `tinymlkit export`"]
    defined = set(parse_constants(files))
    for f in generated:
        defined |= set(re.findall(r"\b(?:using|extern[^;(]*?|inline[^;(]*?)\s(\w+)\s*(?:=|\[|\()", f.code))
        defined |= set(re.findall(r"\b(g_model(?:_len)?)\b", f.code))
    out = []
    for f in files:
        if f.rel in GENERATED_FILES:
            continue
        for m in _NAME_RE.finditer(f.code):
            if m.group(1) not in defined:
                out.append(f"{folder.name}/{f.rel}:{f.line_of(m.start())}: uses {m.group(1)}, which no generated "
                           "header defines")
    return out
