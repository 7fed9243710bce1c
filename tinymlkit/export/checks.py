"""Check a sketch folder against its model before flashing: ops, arena, labels, shapes, quantisation, bytes, versions.

Each check is one function returning its findings; :func:`check_sketch` finds the model and runs them.
The checker reads the sketch's own sources (``.ino``, ``.cpp``, ``.cc``, ``.h``, through
:mod:`tinymlkit.export.c_source`), with comments blanked out so a commented-line never counts, and understands both the generated files of
``tinymlkit export`` (``model_settings.h``, ``model_ops.h``, ``model_data.cc``, the manifest
``tinymlkit_export.json``) and hand-written code in the TFLM examples' style
(``tflite::MicroMutableOpResolver<4> resolver; resolver.AddFullyConnected();``,
``alignas(16) uint8_t tensor_arena[kTensorArenaSize];``).

Which model is "the model": ``--model`` if given; else the file the manifest or ``kModelFile`` in
``model_settings.h`` names (looked for in the sketch folder, then in the manifest's path); else the
model bytes embedded in the sketch. The arena is measured on TFLM, as ``tinymlkit inspect`` does.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import re
from pathlib import Path
from typing import Any

from ..config import (FRONTEND_FIELDS, AudioFrontendConfig, ConfigError, KwsRunConfig, VwwRunConfig, from_dict,
                      load_run_config)
from ..inspect import measure_arena_isolated
from ..runtime import ModelLoadError, tflm_available
from ..tflite_file import TfliteModel, prod, read_tflite
from .c_source import (Constant, SketchError, SourceFile, c_strings, embedded_models, eval_float, eval_int,
                       parse_constants, read_sources, strip_comments)
from .ops import METHOD_FOR_OP, PINNED_LIBRARY, RESOLVER_METHODS, version_problem
from .render import ARENA_HEADROOM_FRACTION, ARENA_HEADROOM_MIN, MANIFEST, MODEL_DIR, arena_with_headroom
from .write import export_model

__all__ = ["SketchError", "Finding", "SketchReport", "check_sketch", "fix_sketch", "CHECKS"]

GENERATED_OPS = "model_ops.h"
SETTINGS = "model_settings.h"
CHECKS = ("model", "settings", "op-missing", "resolver-size", "resolver-method", "arena", "labels", "input-shape",
          "quantization", "audio-settings", "model-bytes", "op-version")
"""Every check, by the name its findings carry."""


@dataclasses.dataclass(frozen=True)
class Finding:
    """One thing wrong (error) or worth knowing (note) about the sketch."""

    check: str
    """Which check found it (one of ``CHECKS``, or ``note``)."""
    message: str
    """What is wrong and how to fix it, in one line."""
    file: str | None = None
    """File it is in, relative to the sketch folder."""
    line: int | None = None
    """Line number in that file (1-based)."""
    severity: str = "error"
    """'error' (makes the exit status non-zero) or 'note'."""

    def format(self) -> str:
        """The one-line form the command prints."""
        where = f"{self.file}:{self.line}: " if self.file and self.line else (f"{self.file}: " if self.file else "")
        return f"{where}{self.severity}: [{self.check}] {self.message}"

    def to_json(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class SketchReport:
    """What ``check_sketch`` found."""

    sketch: Path
    """The sketch folder."""
    model: str | None
    """The model the sketch was checked against."""
    findings: tuple[Finding, ...]
    """Errors and notes, in check order."""

    @property
    def errors(self) -> tuple[Finding, ...]:
        """Findings that make the sketch wrong."""
        return tuple(f for f in self.findings if f.severity == "error")

    @property
    def ok(self) -> bool:
        """True when no error was found."""
        return not self.errors

    def to_json(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {"sketch": str(self.sketch), "model": self.model, "ok": self.ok,
                "findings": [f.to_json() for f in self.findings]}


@dataclasses.dataclass
class _Resolver:
    var: str
    size_expr: str | None
    file: str
    line: int
    adds: list[tuple[str, str, int]] = dataclasses.field(default_factory=list)  # (method, file, line)


def _resolvers(files: list[SourceFile]) -> tuple[list[_Resolver], bool, list[Finding]]:
    """Resolver variables with their size and Add calls; whether AllOpsResolver is used; unknown methods."""
    aliases: dict[str, str] = {}
    for f in files:
        for m in re.finditer(r"using\s+(\w+)\s*=\s*(?:tflite::)?MicroMutableOpResolver\s*<\s*([^>]+?)\s*>", f.code):
            aliases[m.group(1)] = m.group(2)
    type_pat = r"(?:tflite::)?MicroMutableOpResolver\s*<\s*([^>]+?)\s*>"
    if aliases:
        type_pat = r"(?:(?:tflite::)?MicroMutableOpResolver\s*<\s*([^>]+?)\s*>|\b(" + "|".join(map(re.escape, aliases)) + r")\b)"
    decl_re = re.compile(type_pat + r"\s*[&*]?\s*(\w+)\s*(?=[;,)=({\[])")
    resolvers: dict[tuple[str, str], _Resolver] = {}
    by_var: dict[str, list[_Resolver]] = {}
    for f in files:
        for m in decl_re.finditer(f.code):
            groups = m.groups()
            size = groups[0]
            alias = groups[1] if aliases else None
            var = groups[-1]
            if var in aliases or var in ("resolver_t",):
                continue
            if alias:
                size = aliases[alias]
            r = _Resolver(var, size, f.rel, f.line_of(m.start()))
            resolvers[(f.rel, var)] = r
            by_var.setdefault(var, []).append(r)
    unknown: list[Finding] = []
    add_re = re.compile(r"\b(\w+)\s*(?:\.|->)\s*(Add\w+)\s*\(")
    register_calls: list[tuple[str, SourceFile]] = []
    for f in files:
        for m in add_re.finditer(f.code):
            var, method = m.group(1), m.group(2)
            if method in ("AddBuiltin", "AddCustom"):
                continue
            if method not in RESOLVER_METHODS:
                if var in by_var:
                    unknown.append(Finding("resolver-method", f"{var}.{method}() is not a resolver method of "
                                           f"{PINNED_LIBRARY.name} {PINNED_LIBRARY.version} (a typo? the methods are "
                                           "named like AddFullyConnected, AddConv2D, AddDepthwiseConv2D)",
                                           f.rel, f.line_of(m.start(2))))
                continue
            target = resolvers.get((f.rel, var)) or (by_var.get(var) or [None])[0]
            if target is None:
                target = _Resolver(var, None, f.rel, f.line_of(m.start()))
                resolvers[(f.rel, var)] = target
                by_var.setdefault(var, []).append(target)
            target.adds.append((method, f.rel, f.line_of(m.start(2))))
        if f.rel != GENERATED_OPS:
            for m in re.finditer(r"\bRegisterModelOps\s*\(\s*[*&]?\s*(\w+)\s*\)", f.code):
                register_calls.append((m.group(1), f))
    # RegisterModelOps(var) runs model_ops.h's Add calls on var.
    generated = [r for (rel, _), r in resolvers.items() if rel == GENERATED_OPS]
    gen_adds = [a for r in generated for a in r.adds]
    for var, f in register_calls:
        r = resolvers.get((f.rel, var)) or (by_var.get(var) or [None])[0]
        if r is None:
            r = _Resolver(var, None, f.rel, 1)
            resolvers[(f.rel, var)] = r
        if all(r is not g for g in generated):
            r.adds.extend(gen_adds)
    # model_ops.h's own Add calls only run where the sketch calls RegisterModelOps (handled above).
    used = [r for r in resolvers.values() if r.file != GENERATED_OPS]
    all_ops = any(re.search(r"\bAllOpsResolver\b", f.code) for f in files)
    return used, all_ops, unknown


def _find_model_file(sketch: Path, settings: dict[str, Constant], manifest: dict[str, Any] | None) -> Path | None:
    candidates: list[Path] = []
    if manifest and manifest.get("model"):
        candidates.append((sketch / manifest["model"]))
    if "kModelFile" in settings:
        names = c_strings(settings["kModelFile"].value)
        if names:
            name = names[0]
            candidates += [sketch / name, sketch / MODEL_DIR / name, sketch / "data" / name, sketch.parent / name]
            if manifest and manifest.get("model"):
                candidates.append((sketch / manifest["model"]).parent / name)
    for c in candidates:
        if c.is_file():
            return c
    return None


_MANIFEST_TYPES: dict[str, tuple[type, ...]] = {
    "generated_by": (str,), "model": (str,), "model_sha256": (str,), "model_bytes": (int,),
    "config": (str, type(None)), "config_data": (dict, type(None)), "arena_measured": (int, type(None)),
    "files": (dict,), "copies": (dict,),
}


def _load_manifest(sketch: Path) -> dict[str, Any] | None:
    p = sketch / MANIFEST
    if not p.is_file():
        return None
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as e:
        raise SketchError(f"{p}: not a readable export manifest ({type(e).__name__}); run "
                          "`tinymlkit check-sketch --fix --force` to rewrite it") from None
    if not isinstance(data, dict):
        raise SketchError(f"{p}: not an export manifest (a JSON object is expected); run --fix --force to rewrite it")
    for key, types in _MANIFEST_TYPES.items():
        if key in data and (not isinstance(data[key], types) or isinstance(data[key], bool)):
            names = " or ".join("null" if t is type(None) else {"str": "a string", "int": "an integer",
                                                                "dict": "an object"}[t.__name__] for t in types)
            raise SketchError(f"{p}: field {key!r} is {data[key]!r}; expected {names}. Run --fix --force to rewrite it")
    for key in ("files", "copies"):
        for name, digest in (data.get(key) or {}).items():
            if not isinstance(digest, str):
                raise SketchError(f"{p}: {key}[{name!r}] is {digest!r}; expected a SHA-256 string")
    return data


def _config_from_manifest(sketch: Path, manifest: dict[str, Any] | None) -> KwsRunConfig | VwwRunConfig | None:
    if not manifest:
        return None
    if manifest.get("config") and (sketch / manifest["config"]).is_file():
        return load_run_config(sketch / manifest["config"])
    data = manifest.get("config_data")
    if isinstance(data, dict):
        cls = VwwRunConfig if data.get("kind") == "vww" else KwsRunConfig
        try:
            return from_dict(cls, data, where=f"{sketch / MANIFEST}:config_data")
        except ConfigError as e:
            raise SketchError(str(e)) from None
    return None


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclasses.dataclass(frozen=True)
class _Sketch:
    """What the checks read: the sources, their constants, the manifest and the model found."""

    folder: Path
    files: list[SourceFile]
    consts: dict[str, Constant]
    settings: dict[str, Constant]
    manifest: dict[str, Any] | None
    embedded: list[tuple[str, bytes, SourceFile, int]]
    model_path: Path | None
    file_bytes: bytes | None
    tm: TfliteModel | None
    model_label: str | None


def _read_sketch(sketch: Path, model: str | os.PathLike[str] | None) -> _Sketch:
    """Read the sketch once (sources, constants, manifest, embedded arrays) and find its model."""
    if not sketch.is_dir():
        raise SketchError(f"{sketch}: no such sketch folder")
    files = read_sources(sketch)
    if not any(f.path.suffix == ".ino" for f in files):
        raise SketchError(f"{sketch}: no .ino file here; give the folder that holds the sketch's .ino")
    consts = parse_constants(files)
    settings = {k: c for k, c in consts.items() if c.file == SETTINGS}
    manifest = _load_manifest(sketch)
    embedded = embedded_models(files)
    if model is not None and not Path(model).is_file():
        raise SketchError(f"{model}: no such model file")
    model_path: Path | None = Path(model) if model is not None else _find_model_file(sketch, settings, manifest)
    file_bytes: bytes | None = None
    tm: TfliteModel | None = None
    model_label: str | None = None
    if model_path is not None:
        model_label = os.path.normpath(str(model_path))
        tm = read_tflite(model_path, model_label)  # validated in full; errors name the file
        file_bytes = model_path.read_bytes()
    elif embedded:
        model_label = f"{sketch / embedded[0][2].rel}:{embedded[0][0]} (embedded)"
        tm = read_tflite(embedded[0][1], model_label)
    return _Sketch(sketch, files, consts, settings, manifest, embedded, model_path, file_bytes, tm, model_label)


def _check_model_named(s: _Sketch) -> list[Finding]:
    """[model] The model file the settings name is where they say."""
    if s.model_path is None and "kModelFile" in s.settings:
        named = (c_strings(s.settings["kModelFile"].value) or ["?"])[0]
        return [Finding("model", f"{SETTINGS} names {named!r}, which is not in the sketch folder or where "
                        "the export manifest says; pass --model PATH to check against it",
                        s.settings["kModelFile"].file, s.settings["kModelFile"].line)]
    return []


def _check_model_found(s: _Sketch) -> list[Finding]:
    """[model] A model to check against: a file, or one embedded in the sources."""
    if s.tm is None:
        return [Finding("model", "no model found: neither a .tflite named by model_settings.h nor a model "
                        "array (bytes with 'TFL3' at offset 4) in the sketch; run `tinymlkit export`")]
    return []


def _check_model_bytes(s: _Sketch) -> list[Finding]:
    """[model-bytes] What is flashed must be the .tflite the settings name, with its length and hash."""
    out: list[Finding] = []
    consts, file_bytes = s.consts, s.file_bytes
    if not s.embedded:
        if s.tm is not None:
            out.append(Finding("model-bytes", "the sketch embeds no model array (model_data.cc); run "
                               "`tinymlkit check-sketch --fix` or `tinymlkit export`"))
    elif file_bytes is not None:
        for name, data, f, line in s.embedded:
            if data != file_bytes:
                out.append(Finding("model-bytes", f"{name} holds {len(data):,} bytes (SHA-256 {_sha(data)[:12]}) but "
                                   f"{s.model_path.name} has {len(file_bytes):,} bytes (SHA-256 "  # type: ignore[union-attr]
                                   f"{_sha(file_bytes)[:12]}): the sketch would flash another model; run --fix",
                                   f.rel, line))
    for name, data, f, line in s.embedded:
        length = consts.get(f"{name}_len")
        if length is not None:
            n = eval_int(length.value, consts)
            if n is not None and n != len(data):
                out.append(Finding("model-bytes", f"{name}_len says {n:,} bytes but the array holds {len(data):,}",
                                   length.file, length.line))
    if file_bytes is not None:
        c = s.settings.get("kModelBytes")
        n = eval_int(c.value, consts) if c else None
        if c and n != len(file_bytes):
            out.append(Finding("model-bytes", f"kModelBytes is {n} but {s.model_path.name} has "  # type: ignore[union-attr]
                               f"{len(file_bytes):,} bytes", c.file, c.line))
        c = s.settings.get("kModelSha256")
        if c and (c_strings(c.value) or [""])[0] != _sha(file_bytes):
            out.append(Finding("model-bytes", f"kModelSha256 does not match {s.model_path.name}: "  # type: ignore[union-attr]
                               "the settings were generated from another file", c.file, c.line))
    return out


def _check_op_versions(tm: TfliteModel) -> list[Finding]:
    """[op-version] Every op version the model uses is one the pinned Arduino library runs."""
    out: list[Finding] = []
    for name, version in sorted({(o.name, o.version) for o in tm.opcodes}):
        problem = version_problem(name, version)
        if problem:
            out.append(Finding("op-version", problem + "; retrain/convert with ops the board supports"))
    return out


def _edited_notes(s: _Sketch) -> list[Finding]:
    """[note] Generated files edited after the export wrote them."""
    out: list[Finding] = []
    for name, digest in ((s.manifest or {}).get("files") or {}).items():
        p = s.folder / name
        if p.is_file() and hashlib.sha256(p.read_bytes()).hexdigest() != digest:
            out.append(Finding("note", f"{name} was edited after `tinymlkit export` wrote it (generated "
                               "files are rewritten by --fix)", name, severity="note"))
    return out


def check_sketch(sketch_dir: str | os.PathLike[str], model: str | os.PathLike[str] | None = None,
                 measure: bool = True) -> SketchReport:
    """Check a sketch folder against its model; every problem is one ``Finding``."""
    s = _read_sketch(Path(sketch_dir), model)
    findings = _check_model_named(s)
    findings += _check_generated_present(s.folder, s.files, s.settings, s.manifest is not None)
    findings += _check_model_found(s)
    findings += _check_model_bytes(s)
    if s.tm is not None:
        findings += _check_ops(s.tm, s.files, s.consts)
        config = _config_from_manifest(s.folder, s.manifest)
        findings += _check_settings(s.tm, s.settings, s.consts, config)
        if isinstance(config, KwsRunConfig) and s.settings:
            findings += _check_audio_settings(config.audio, s.settings, s.consts, s.folder)
        findings += _check_arena(s.tm, s.file_bytes if s.file_bytes is not None else s.embedded[0][1], s.files,
                                 s.consts, measure, s.model_label or "")
        findings += _check_op_versions(s.tm)
    findings += _library_notes(s.folder)
    findings += _edited_notes(s)
    return SketchReport(s.folder, s.model_label, tuple(findings))


_INCLUDE_RE = re.compile(r'^[ \t]*#[ \t]*include[ \t]*"([^"]+)"', re.M)
_REQUIRED_SETTINGS = ("kNumLabels", "kLabels", "kInputShape", "kInputElementCount", "kTensorArenaSize")


def _check_generated_present(sketch: Path, files: list[SourceFile], settings: dict[str, Constant],
                             exported: bool) -> list[Finding]:
    """Generated headers the sketch includes (or the manifest promises) must exist and hold their constants."""
    out: list[Finding] = []
    included = {(m.group(1), f.rel, f.line_of(m.start())) for f in files for m in _INCLUDE_RE.finditer(f.code)}
    wanted = {name for name, _, _ in included}
    for name in ("model_settings.h", "model_ops.h", "model_data.h"):
        if name not in wanted and not (exported and name == SETTINGS):
            continue
        where = next(((rel, line) for n, rel, line in sorted(included) if n == name), (None, None))
        if not (sketch / name).is_file():
            out.append(Finding("settings", f"{name} is missing; run `tinymlkit export` (or check-sketch --fix) to "
                               "generate it", where[0], where[1]))
    if (sketch / SETTINGS).is_file():
        missing = [k for k in _REQUIRED_SETTINGS if k not in settings]
        if missing:
            text = (sketch / SETTINGS).read_bytes()
            what = "empty" if not text.strip() else "not a generated settings header"
            out.append(Finding("settings", f"{SETTINGS} is {what}: it does not define {', '.join(missing)}; run "
                               "`tinymlkit check-sketch --fix` (add --force if you edited it by hand)", SETTINGS))
    return out


def _check_audio_settings(audio: AudioFrontendConfig, settings: dict[str, Constant], consts: dict[str, Constant],
                          sketch: Path) -> list[Finding]:
    """Every kAudio* constant equals the config's front-end setting, and KitFillFrontendConfig sets every member."""
    from .render import c_constant_name as _ident

    out: list[Finding] = []
    for f in dataclasses.fields(audio):
        want = getattr(audio, f.name)
        name = _ident("Audio", f.name)
        c = settings.get(name)
        if c is None:
            out.append(Finding("audio-settings", f"{name} is not defined, but the config sets {f.name} = {want!r}; "
                               "run --fix", SETTINGS))
            continue
        if isinstance(want, bool):
            ok = c.value.strip() == ("true" if want else "false")
        elif isinstance(want, int):
            ok = eval_int(c.value, consts) == want
        else:
            got = eval_float(c.value)
            ok = got is not None and math.isclose(got, want, rel_tol=1e-6, abs_tol=1e-12)
        if not ok:
            out.append(Finding("audio-settings", f"{name} is {c.value} but the config's {f.name} is {want!r}: the "
                               "board would compute other features than training did", c.file, c.line))
    text = strip_comments((sketch / SETTINGS).read_text(encoding="utf-8", errors="replace"))
    fill = re.search(r"KitFillFrontendConfig\s*\([^)]*\)\s*\{(.*?)\n\}", text, re.S)
    if fill is None:
        out.append(Finding("audio-settings", f"{SETTINGS} has no KitFillFrontendConfig(); regenerate it with --fix",
                           SETTINGS))
        return out
    for f in FRONTEND_FIELDS:
        if f.c_member and not re.search(r"->\s*" + re.escape(f.c_member) + r"\s*=\s*" + _ident("Audio", f.field)
                                         + r"\s*;", fill.group(1)):
            out.append(Finding("audio-settings", f"KitFillFrontendConfig() does not set {f.c_member} from "
                               f"{_ident('Audio', f.field)}; regenerate it with --fix", SETTINGS))
    return out


def _check_ops(tm: TfliteModel, files: list[SourceFile], consts: dict[str, Constant]) -> list[Finding]:
    out: list[Finding] = []
    resolvers, all_ops, unknown = _resolvers(files)
    out += unknown
    registered: set[str] = set()
    for r in resolvers:
        methods = {m for m, _, _ in r.adds}
        registered |= {RESOLVER_METHODS[m] for m in methods}
        if r.size_expr is not None:
            n = eval_int(r.size_expr, consts)
            if n is None:
                out.append(Finding("note", f"resolver {r.var}: size {r.size_expr!r} could not be worked out",
                                   r.file, r.line, "note"))
            elif len(methods) > n:
                out.append(Finding("resolver-size", f"MicroMutableOpResolver<{r.size_expr}> {r.var} holds {n} op(s) "
                                   f"but {len(methods)} are added ({', '.join(sorted(methods))}): the extra Add calls "
                                   f"fail at run time; make it <{len(methods)}>", r.file, r.line))
    if all_ops:
        registered |= set(RESOLVER_METHODS.values())
    names = sorted({o.name for o in tm.opcodes})
    adders = [r for r in resolvers if r.file != GENERATED_OPS]
    where = adders[0].file if adders else next((f.rel for f in files if f.path.suffix == ".ino"), None)
    line = adders[0].line if adders else None
    for name in names:
        if name in registered:
            continue
        if name.startswith("CUSTOM:"):
            out.append(Finding("op-missing", f"the model uses custom op {name[7:]!r}, which no resolver registers",
                               where, line))
        elif name in METHOD_FOR_OP:
            var = adders[0].var if adders else "resolver"
            out.append(Finding("op-missing", f"the model uses {name} but the sketch's resolver does not register it: "
                               f"add {var}.{METHOD_FOR_OP[name]}() (and grow the resolver's size), or call "
                               f"RegisterModelOps({var}) from the generated model_ops.h", where, line))
        else:
            out.append(Finding("op-missing", f"the model uses {name}, which {PINNED_LIBRARY.name} "
                               f"{PINNED_LIBRARY.version} cannot register at all", where, line))
    return out


def _int_list(c: Constant, consts: dict[str, Constant]) -> list[int | None]:
    return [eval_int(t, consts) for t in c.value.split(",") if t.strip()]


def _check_settings(tm: TfliteModel, settings: dict[str, Constant], consts: dict[str, Constant],
                    config: KwsRunConfig | VwwRunConfig | None) -> list[Finding]:
    out: list[Finding] = []
    n_out = prod(tm.output.shape[1:])
    in_shape = list(tm.input.shape)

    c = settings.get("kNumLabels")
    n_labels = eval_int(c.value, consts) if c else None
    if c and n_labels != n_out:
        out.append(Finding("labels", f"kNumLabels is {n_labels} but the model has {n_out} outputs", c.file, c.line))
    c = settings.get("kLabels")
    if c:
        labels = c_strings(c.value)
        if len(labels) != n_out:
            out.append(Finding("labels", f"kLabels lists {len(labels)} labels {labels} but the model has {n_out} "
                               "outputs", c.file, c.line))
        elif config is not None and tuple(labels) != tuple(config.labels):
            out.append(Finding("labels", f"kLabels is {labels} but the config says {list(config.labels)}",
                               c.file, c.line))
    c = settings.get("kOutputElementCount")
    if c and eval_int(c.value, consts) != n_out:
        out.append(Finding("labels", f"kOutputElementCount is {eval_int(c.value, consts)} but the model has "
                           f"{n_out} outputs", c.file, c.line))

    c = settings.get("kInputShape")
    if c:
        shape = _int_list(c, consts)
        if shape != in_shape:
            out.append(Finding("input-shape", f"kInputShape is {shape} but the model's input is {in_shape}",
                               c.file, c.line))
    for name in ("kInputElementCount", "kFeatureElementCount"):
        c = settings.get(name)
        if c and eval_int(c.value, consts) != prod(in_shape[1:]):
            out.append(Finding("input-shape", f"{name} is {eval_int(c.value, consts)} but the model takes "
                               f"{prod(in_shape[1:])} values ({'x'.join(map(str, in_shape[1:]))})", c.file, c.line))
    if all(k in settings for k in ("kImageWidth", "kImageHeight", "kImageChannels")):
        w, h, ch = (eval_int(settings[k].value, consts) for k in ("kImageWidth", "kImageHeight", "kImageChannels"))
        if [h, w, ch] != in_shape[1:]:
            c = settings["kImageWidth"]
            out.append(Finding("input-shape", f"the image settings say {h}x{w}x{ch} but the model's input is "
                               f"{'x'.join(map(str, in_shape[1:]))}", c.file, c.line))
    c = settings.get("kInputType")
    if c and (c_strings(c.value) or [""])[0] != tm.input.dtype:
        out.append(Finding("input-shape", f"kInputType is {c.value} but the model's input is {tm.input.dtype}",
                           c.file, c.line))

    for what, t in (("Input", tm.input), ("Output", tm.output)):
        sc, zp = settings.get(f"k{what}Scale"), settings.get(f"k{what}ZeroPoint")
        if not t.scales:
            continue
        if sc:
            v = eval_float(sc.value)
            if v is None or not math.isclose(v, t.scales[0], rel_tol=1e-6):
                out.append(Finding("quantization", f"k{what}Scale is {sc.value} but the model's {what.lower()} scale "
                                   f"is {t.scales[0]!r}", sc.file, sc.line))
        if zp:
            v = eval_int(zp.value, consts)
            if v != t.zero_points[0]:
                out.append(Finding("quantization", f"k{what}ZeroPoint is {zp.value} but the model's {what.lower()} "
                                   f"zero point is {t.zero_points[0]}", zp.file, zp.line))
    return out


_ARENA_RE = re.compile(r"(?:uint8_t|int8_t|unsigned\s+char|char|byte)\s+(\w*arena\w*)\s*\[\s*([^\]]+?)\s*\]", re.I)


def _check_arena(tm: TfliteModel, data: bytes, files: list[SourceFile], consts: dict[str, Constant],
                 measure: bool, label: str) -> list[Finding]:
    decls = [(m.group(1), m.group(2), f, f.line_of(m.start(1))) for f in files for m in _ARENA_RE.finditer(f.code)]
    if not decls:
        c = consts.get("kTensorArenaSize")
        if c is None:
            return [Finding("arena", "no tensor arena found (an array like `alignas(16) uint8_t tensor_arena"
                            "[kTensorArenaSize];`)")]
        decls = [("kTensorArenaSize", c.value, None, c.line)]
    if not measure:
        return []
    if not tflm_available():
        return [Finding("note", "arena not checked: the TFLM interpreter (pip 'tflite-micro', Linux x86_64) is "
                        "not installed here", severity="note")]
    try:
        measured = measure_arena_isolated(data, name=label).arena_bytes
    except ModelLoadError as e:
        return [Finding("arena", f"could not measure the arena: {e}")]
    need = arena_with_headroom(measured)
    headroom = need - measured
    out = []
    for name, expr, f, line in decls:
        size = eval_int(expr, consts)
        rel = f.rel if f else (consts["kTensorArenaSize"].file if "kTensorArenaSize" in consts else None)
        if size is None:
            out.append(Finding("note", f"arena {name}[{expr}]: size could not be worked out", rel, line, "note"))
        elif size < need:
            out.append(Finding("arena", f"{name} is {size:,} bytes but the model needs {measured:,} (measured on TFLM) "
                               f"+ {headroom:,} headroom ({int(ARENA_HEADROOM_FRACTION * 100)} %, at least "
                               f"{ARENA_HEADROOM_MIN} B) = {need:,} bytes", rel, line))
    return out


def _library_notes(sketch: Path) -> list[Finding]:
    y = sketch / "sketch.yaml"
    if not y.is_file():
        return []
    text = y.read_text(encoding="utf-8", errors="replace")
    out = []
    for m in re.finditer(r"^\s*-\s*([\w .-]+?)\s*\(([^)]*)\)\s*$", text, re.M):
        lib, ver = m.group(1).strip(), m.group(2).strip()
        # Library Manager names are case-insensitive (Chirale's own properties spell it "TensorFLowLite").
        low = lib.lower()
        if ("tensorflowlite" in low or "tinymlx" in low) and \
                (low, ver) != (PINNED_LIBRARY.name.lower(), PINNED_LIBRARY.version):
            out.append(Finding("note", f"sketch.yaml pins {lib} {ver}; the kit's op and version table is for "
                               f"{PINNED_LIBRARY.name} {PINNED_LIBRARY.version}, so op versions were checked against "
                               "that", "sketch.yaml", text.count("\n", 0, m.start()) + 1, "note"))
    return out


def fix_sketch(sketch_dir: str | os.PathLike[str], model: str | os.PathLike[str] | None = None,
               config: str | os.PathLike[str] | None = None, force: bool = False) -> list[Path]:
    """Regenerate the sketch's generated files from its model and config; hand-written files are never touched.

    A generated file edited by hand is replaced only with ``force`` (a backup is kept).
    """
    sketch = Path(sketch_dir)
    if not sketch.is_dir():
        raise SketchError(f"{sketch}: no such sketch folder")
    files = read_sources(sketch)
    settings = {k: c for k, c in parse_constants(files).items() if c.file == SETTINGS}
    try:
        manifest = _load_manifest(sketch)
    except SketchError:
        if not force:
            raise
        manifest = None
    model_path = Path(model) if model is not None else _find_model_file(sketch, settings, manifest)
    if model_path is None or not model_path.is_file():
        raise SketchError(f"{sketch}: cannot --fix: the model file is unknown or missing; pass --model PATH")
    cfg: Any = config if config is not None else _config_from_manifest(sketch, manifest)
    if cfg is None and (sketch / MODEL_DIR / "config.json").is_file():
        cfg = sketch / MODEL_DIR / "config.json"
    if cfg is None and (sketch / "config.json").is_file():
        cfg = sketch / "config.json"
    if cfg is None:
        raise SketchError(f"{sketch}: cannot --fix: no config (the export manifest {MANIFEST} is missing); "
                          "pass --config run/config.json")
    return list(export_model(model_path, cfg, sketch, force=force).files)
