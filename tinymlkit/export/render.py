"""The C text of a sketch's deployment files, rendered from the model and its config: nothing is typed twice.

:func:`tinymlkit.export.write.export_model` writes them into the sketch folder:
- ``model_data.h`` / ``model_data.cc``: the .tflite bytes in a 16-byte-aligned array ``g_model``;
- ``model_settings.h``: labels, input and output shapes and quantisation, the track's settings
  (audio front end and recognizer, or image input), and the tensor arena measured on TFLM plus headroom;
- ``model_ops.h``: ``RegisterModelOps()``, adding exactly the ops the model uses to a
  ``tflite::MicroMutableOpResolver<kModelOpCount>``;
- ``model/``: a copy of the model and its ``config.json``, which the manifest names relatively, so a
  sketch folder (the committed one too) always carries the very model its files were made from;
- ``tinymlkit_export.json``: where they came from (model and config paths, SHA-256 of each file),
  so ``tinymlkit check-sketch`` can tell a stale or hand-edited file.

Every generated C file starts with a marker line holding the SHA-256 of the rest of the file. A file
without the marker, or whose content no longer matches it (edited by hand), is never replaced unless
``force=True`` (``--force``), and then a backup ``NAME.bak-<timestamp>`` is kept. All files are written
or none: each is staged beside its target first, and only when every one is on disk are they renamed
into place. Everything rendered into C (labels, names, paths, comments) is escaped or sanitised.
"""
from __future__ import annotations

import dataclasses
import hashlib
import math
import os
import re
from pathlib import Path
from typing import Any

from .. import __version__
from ..config import FRONTEND_FIELDS, KwsRunConfig, VwwRunConfig
from ..errors import KitError
from ..tflite_file import TfliteModel, config_mismatch, prod
from ..vision.int8_input import DEFAULT_NORMALIZATION, pixel_to_int8_table, render_pixel_table_c
from .ops import METHOD_FOR_OP, PINNED_LIBRARY

__all__ = [
    "GENERATED_FILES",
    "MANIFEST",
    "ARENA_HEADROOM_FRACTION",
    "ARENA_HEADROOM_MIN",
    "arena_with_headroom",
    "op_add_method",
    "c_array_source",
    "render_model_data",
    "render_model_ops",
    "render_model_settings",
    "ExportError",
    "c_string",
    "c_comment",
    "GENERATED_MARKER",
    "seal",
    "generated_state",
    "MODEL_DIR",
    "c_constant_name",
    "render_fill_frontend_config",
]

GENERATED_FILES = ("model_data.h", "model_data.cc", "model_settings.h", "model_ops.h")
MANIFEST = "tinymlkit_export.json"
MODEL_DIR = "model"
"""Folder of the sketch that holds the copy of the model and its config."""
GENERATED_MARKER = "tinymlkit-generated"
"""First-line marker of every generated C file, followed by the SHA-256 of the rest of the file."""
_MARKER_RE = re.compile(r"\A// " + GENERATED_MARKER + r" sha256=([0-9a-f]{64})[^\n]*\n")


class ExportError(KitError):
    """Export refused (a hand-edited file, a model that does not fit its config) or could not write."""


def c_string(text: str) -> str:
    """A C string literal that reads back as exactly ``text`` (UTF-8 bytes), whatever it holds.

    Printable ASCII stays readable; quotes, backslashes, ``?`` (trigraphs such as ``??/``) and every
    other byte become escapes. Octal escapes are used, as they stop after three digits (a hex escape
    would swallow the hex digits after it).
    """
    out = []
    for b in text.encode("utf-8"):
        ch = chr(b)
        if ch in '"\\?':
            out.append("\\" + ch)
        elif 32 <= b < 127:
            out.append(ch)
        else:
            out.append(f"\\{b:03o}")
    return '"' + "".join(out) + '"'


def c_comment(text: str) -> str:
    """Text safe inside a // comment: printable ASCII only, no backslash (a line splice), ``?`` or ``*/``."""
    safe = "".join(ch if 32 <= ord(ch) < 127 and ch not in "\\?" else "_" for ch in text)
    return safe.replace("*/", "*_").replace("/*", "_*")


def seal(body: str) -> str:
    """A generated file's text: the marker line with the SHA-256 of ``body``, then ``body``."""
    digest = hashlib.sha256(body.encode("utf-8")).hexdigest()
    return (f"// {GENERATED_MARKER} sha256={digest} (by tinymlkit {__version__}; regenerate, do not edit: "
            "`tinymlkit export` or `tinymlkit check-sketch --fix`)\n" + body)


def generated_state(path: str | os.PathLike[str], recorded_sha256: str | None = None) -> str:
    """'missing', 'generated' (the kit's and untouched), 'edited' (the kit's, changed since) or 'foreign'.

    ``recorded_sha256`` is the digest an older manifest recorded for the file, which recognises the
    files of exports made before the marker existed.
    """
    p = Path(path)
    if not p.exists():
        return "missing"
    if not p.is_file():
        return "foreign"
    try:
        data = p.read_bytes()
    except OSError:
        return "foreign"
    if recorded_sha256 and hashlib.sha256(data).hexdigest() == recorded_sha256:
        return "generated"
    m = _MARKER_RE.match(data.decode("utf-8", errors="replace"))
    if not m:
        return "foreign"
    body = data[len(m.group(0).encode("utf-8")):]
    return "generated" if hashlib.sha256(body).hexdigest() == m.group(1) else "edited"


ARENA_HEADROOM_FRACTION = 0.10
"""Extra arena over the TFLM measurement: the board's allocator differs a little from the host's."""
ARENA_HEADROOM_MIN = 1024
"""At least this many bytes of headroom, for small models."""


def arena_with_headroom(measured: int) -> int:
    """Arena size the sketch declares: the measurement plus 10 % (at least 1 KB), rounded up to 16 bytes."""
    size = measured + max(ARENA_HEADROOM_MIN, int(measured * ARENA_HEADROOM_FRACTION))
    return (size + 15) // 16 * 16


def op_add_method(op_name: str) -> str:
    """The MicroMutableOpResolver method that registers a builtin op: CONV_2D -> AddConv2D."""

    if op_name in METHOD_FOR_OP:  # the pinned library's own names (RELU6 -> AddRelu6, PADV2 -> AddPadV2)
        return METHOD_FOR_OP[op_name]
    parts = op_name.split("_")
    return "Add" + "".join(p.upper() if any(ch.isdigit() for ch in p) else p.capitalize() for p in parts)


def c_array_source(data: bytes, per_line: int = 12) -> str:
    """The bytes as C initialiser lines of hex literals."""
    lines = []
    for i in range(0, len(data), per_line):
        lines.append("    " + ", ".join(f"0x{b:02x}" for b in data[i:i + per_line]) + ",")
    return "\n".join(lines)


def _header_comment(source: str) -> str:
    return f"// Generated from {c_comment(source)} and its config.json.\n"


def render_model_data(data: bytes, source: str) -> tuple[str, str]:
    """(model_data.h, model_data.cc) holding the model in a 16-byte-aligned array."""
    sha = hashlib.sha256(data).hexdigest()
    h = seal(_header_comment(source) +
             "#ifndef TINYMLKIT_MODEL_DATA_H_\n#define TINYMLKIT_MODEL_DATA_H_\n\n"
             f"// {len(data)} bytes, SHA-256 {sha}\n"
             "extern const unsigned char g_model[];\n"
             "extern const unsigned int g_model_len;\n\n"
             "#endif  // TINYMLKIT_MODEL_DATA_H_\n")
    # TFLM reads the flatbuffer in place: its tensors' data must be aligned, hence alignas(16).
    cc = seal(_header_comment(source) + '#include "model_data.h"\n\n'
              "alignas(16) const unsigned char g_model[] = {\n" + c_array_source(data) + "\n};\n"
              f"const unsigned int g_model_len = {len(data)};\n")
    return h, cc


def render_model_ops(model: TfliteModel, source: str) -> str:
    """model_ops.h: the resolver type sized to the model's ops and the function that registers them."""
    names = [n for n in model.op_names if not n.startswith("CUSTOM:")]
    custom = [n for n in model.op_names if n.startswith("CUSTOM:")]
    if custom:
        raise ExportError(f"{source}: the model uses custom op(s) {custom}, which the board's TFLM library cannot run")
    missing = [n for n in names if n not in METHOD_FOR_OP]
    if missing:
        raise ExportError(f"{source}: the model uses op(s) {', '.join(missing)}, which {PINNED_LIBRARY.name} "
                          f"{PINNED_LIBRARY.version} cannot register; retrain with ops the board supports")
    adds = "\n".join(f"  if (resolver.{op_add_method(n)}() != kTfLiteOk) return kTfLiteError;  // {n}"
                     for n in names)
    versions = ", ".join(f"{o.name} v{o.version}" for o in sorted(model.opcodes, key=lambda o: o.name))
    return seal(_header_comment(source) +
                "#ifndef TINYMLKIT_MODEL_OPS_H_\n#define TINYMLKIT_MODEL_OPS_H_\n\n"
                '#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"\n\n'
                f"// Op versions in the model: {c_comment(versions)}\n"
                f"constexpr int kModelOpCount = {len(names)};\n"
                "using ModelOpResolver = tflite::MicroMutableOpResolver<kModelOpCount>;\n\n"
                "// Registers exactly the ops the model uses (smaller code than AllOpsResolver).\n"
                "inline TfLiteStatus RegisterModelOps(ModelOpResolver& resolver) {\n"
                f"{adds}\n  return kTfLiteOk;\n}}\n\n"
                "#endif  // TINYMLKIT_MODEL_OPS_H_\n")


def _c_float(v: float) -> str:
    # numpy prints the shortest decimal that reads back as the same float32, so C gets the exact value.
    import numpy as np

    if not math.isfinite(v) or not math.isfinite(float(np.float32(v))):
        raise ExportError(f"{v!r} is not a finite float32; it cannot be written into a C header")
    text = str(np.float32(v))
    if "e" not in text and "." not in text:
        text += ".0"
    return text + "f"


def _c_value(v: Any) -> tuple[str, str]:
    """(C type, C literal) of a Python value."""
    if isinstance(v, bool):
        return "bool", "true" if v else "false"
    if isinstance(v, int):
        if not -(2**31) <= v < 2**31:
            raise ExportError(f"{v} does not fit a C int")
        return "int", str(v)
    if isinstance(v, float):
        return "float", _c_float(v)
    if isinstance(v, str):
        return "char", c_string(v)
    raise TypeError(f"no C rendering for {type(v).__name__}")


def c_constant_name(prefix: str, name: str) -> str:
    """The generated constant for a config field: ('Audio', 'window_size_ms') -> kAudioWindowSizeMs."""
    return _ident(prefix, name)


def _ident(prefix: str, name: str) -> str:
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name):  # field names are the kit's own; never data
        raise ExportError(f"{name!r} cannot be part of a C identifier")
    return "k" + prefix + "".join(p.capitalize() for p in name.split("_"))


def _dataclass_constants(obj: Any, prefix: str) -> list[str]:
    lines = []
    for f in dataclasses.fields(obj):
        v = getattr(obj, f.name)
        if isinstance(v, (bool, int, float, str)):
            ctype, lit = _c_value(v)
            name = _ident(prefix, f.name)
            if ctype == "char":
                lines.append(f"constexpr char {name}[] = {lit};")
            else:
                lines.append(f"constexpr {ctype} {name} = {lit};")
    return lines


def render_fill_frontend_config() -> list[str]:
    """``KitFillFrontendConfig()``: sets every member of the C frontend's config from the kAudio* constants.

    Built from ``config.FRONTEND_FIELDS``, the table that also gives TF's op its arguments. A template,
    so model_settings.h compiles without the frontend's headers; the sketch calls it with its
    ``struct FrontendConfig`` after ``FrontendFillConfigWithDefaults()``.
    """
    lines = ["// Sets the board's audio frontend exactly as training ran TF's audio_microfrontend op",
             "// (one table, config.FRONTEND_FIELDS, drives both). The sample rate goes to",
             "// FrontendPopulateState(&config, &state, kAudioSampleRate).",
             "template <typename FrontendConfigT>",
             "inline void KitFillFrontendConfig(FrontendConfigT* config) {"]
    for f in FRONTEND_FIELDS:
        if f.c_member:
            lines.append(f"  config->{f.c_member} = {_ident('Audio', f.field)};")
    lines.append("}")
    return lines


def _quant_lines(what: str, t: Any) -> list[str]:
    if not t.scales:
        return [f"constexpr bool k{what}Quantized = false;"]
    return [f"constexpr bool k{what}Quantized = true;",
            f"constexpr float k{what}Scale = {_c_float(t.scales[0])};",
            f"constexpr int k{what}ZeroPoint = {t.zero_points[0]};"]


def render_model_settings(config: KwsRunConfig | VwwRunConfig, model: TfliteModel, source: str,
                          arena_measured: int | None, sha256: str) -> str:
    """model_settings.h: every constant the sketch needs, from the config and the model itself."""
    labels = list(config.labels)
    problem = config_mismatch(model, config)
    if problem:
        raise ExportError(f"{source}: {problem}")
    n_out = prod(model.output.shape[1:])
    in_shape = model.input.shape
    L: list[str] = [
        _header_comment(source) + "#ifndef TINYMLKIT_MODEL_SETTINGS_H_\n#define TINYMLKIT_MODEL_SETTINGS_H_\n\n"
        "#include <stdint.h>\n",
        "// ---- The model file these settings were generated from",
        f"constexpr char kModelFile[] = {c_string(Path(source).name)};",
        f"constexpr int kModelBytes = {model.size};",
        f"constexpr char kModelSha256[] = {c_string(sha256)};",
        f"constexpr char kModelKind[] = {c_string(config.kind)};",
        "",
        "// ---- Labels, in the model's output order",
        f"constexpr int kNumLabels = {len(labels)};",
        "constexpr const char* kLabels[kNumLabels] = {" + ", ".join(c_string(lab) for lab in labels) + "};",
        "",
        "// ---- Input tensor",
        f"constexpr int kInputDims = {len(in_shape)};",
        "constexpr int kInputShape[kInputDims] = {" + ", ".join(str(d) for d in in_shape) + "};",
        f"constexpr int kInputElementCount = {prod(in_shape[1:])};",
        f"constexpr char kInputType[] = {c_string(model.input.dtype)};",
        *_quant_lines("Input", model.input),
        "",
        "// ---- Output tensor",
        f"constexpr int kOutputElementCount = {n_out};",
        f"constexpr char kOutputType[] = {c_string(model.output.dtype)};",
        *_quant_lines("Output", model.output),
        "",
    ]
    if isinstance(config, KwsRunConfig):
        a = config.audio
        L += ["// ---- Audio front end (TFLM micro frontend), as in training",
              *_dataclass_constants(a, "Audio"),
              f"constexpr int kAudioClipSamples = {a.clip_samples};",
              f"constexpr int kAudioWindowSamples = {a.window_samples};",
              f"constexpr int kAudioStrideSamples = {a.stride_samples};",
              f"constexpr int kFeatureCount = {a.num_frames};  // frames per clip",
              f"constexpr int kFeatureSize = {a.feature_bins};  // channels per frame",
              f"constexpr int kFeatureElementCount = {a.num_frames * a.feature_bins};",
              f"constexpr int kSilenceIndex = {labels.index(config.task.silence_label)};",
              f"constexpr int kUnknownIndex = {labels.index(config.task.unknown_label)};",
              "",
              *render_fill_frontend_config(),
              "",
              "// ---- Command recognizer",
              *_dataclass_constants(config.recognizer, "Recognizer"),
              ""]
    else:
        im = config.image
        L += ["// ---- Image input, as in training",
              *_dataclass_constants(im, "Image"),
              f"constexpr int kPersonIndex = {labels.index('person') if 'person' in labels else len(labels) - 1};",
              f"constexpr int kDetectionThreshold = {config.detection_threshold};",
              "",
              "// ---- Pixel (0..255) to the model's int8 input: exact, from the model's scale and zero point",
              render_pixel_table_c(pixel_to_int8_table(model.input.scales[0], model.input.zero_points[0],
                                                       getattr(im, "normalization", DEFAULT_NORMALIZATION))),
              ""]
    L += ["// ---- Tensor arena"]
    if arena_measured is not None:
        L += [f"constexpr int kTensorArenaMeasured = {arena_measured};  // TFLM on a 64-bit host",
              f"// Headroom: {int(ARENA_HEADROOM_FRACTION * 100)} % of the measurement, at least "
              f"{ARENA_HEADROOM_MIN} bytes, rounded up to 16.",
              f"constexpr int kTensorArenaSize = {arena_with_headroom(arena_measured)};"]
    else:
        guess = arena_with_headroom(max(16 * 1024, model.size))
        L += ["// The TFLM interpreter was not available to measure the arena: this is a guess.",
              "constexpr int kTensorArenaMeasured = 0;",
              f"constexpr int kTensorArenaSize = {guess};"]
    L += ["", "#endif  // TINYMLKIT_MODEL_SETTINGS_H_", ""]
    return seal("\n".join(L))
