"""Writing a sketch's deployment files: all or none, never over a file a learner wrote or edited.

Each file is staged beside its target first and renamed into place only when every one is on disk.
A generated file carries a marker with the SHA-256 of its content, so a file without the marker, or
whose content no longer matches it (edited by hand), is replaced only with ``force=True``
(``--force``), and then a backup ``NAME.bak-<timestamp>`` is kept.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import tempfile
import time
from pathlib import Path
from typing import Any

from .. import __version__
from ..config import KwsRunConfig, VwwRunConfig, load_run_config, to_dict
from ..runtime import tflm_available
from ..tflite_file import config_mismatch, read_model_bytes, read_tflite
from .render import (MANIFEST, MODEL_DIR, ExportError, generated_state, render_model_data, render_model_ops,
                     render_model_settings)

__all__ = ["ExportResult", "export_model"]


@dataclasses.dataclass(frozen=True)
class ExportResult:
    """What an export wrote."""

    files: tuple[Path, ...]
    """Files written into the sketch folder."""
    arena_measured: int | None
    """Arena TFLM needed (None where TFLM is unavailable)."""
    arena_size: int
    """Arena the settings declare."""
    model_bytes: int
    """Size of the model."""
    ops: tuple[str, ...]
    """Ops registered by model_ops.h."""
    backups: tuple[Path, ...] = ()
    """Backups of replaced hand-edited files (only with ``force``)."""


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _old_manifest(sketch: Path) -> dict[str, Any]:
    try:
        data = json.loads((sketch / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) and str(data.get("generated_by", "")).startswith("tinymlkit") else {}


def _plan_state(path: Path, new: bytes, rel: str, old: dict[str, Any]) -> str:
    """Whether writing ``new`` to ``path`` would lose anything: 'ok' or why not ('foreign'/'edited')."""
    if not path.exists():
        return "ok"
    if not path.is_file():
        return "foreign"
    try:
        current = path.read_bytes()
    except OSError:
        return "foreign"
    if current == new:
        return "ok"
    recorded = (old.get("files") or {}).get(rel) if isinstance(old.get("files"), dict) else None
    if rel == MANIFEST:
        return "ok" if old else "foreign"
    if rel.startswith(MODEL_DIR + "/"):
        copies = old.get("copies") if isinstance(old.get("copies"), dict) else {}
        if copies.get(rel) == _sha(current):
            return "ok"
        # Manifests written before "copies" existed: the model by its digest, the config by its data.
        if old.get("model") == rel and old.get("model_sha256") == _sha(current):
            return "ok"
        if old.get("config") == rel:
            try:
                if json.loads(current.decode("utf-8")) == old.get("config_data"):
                    return "ok"
            except (ValueError, RecursionError):
                pass
        return "foreign"
    state = generated_state(path, recorded if isinstance(recorded, str) else None)
    return "ok" if state in ("generated", "missing") else state


def _write_all(sketch: Path, plan: dict[str, bytes], force: bool) -> tuple[list[Path], list[Path]]:
    """Write every planned file or none; refuse (or, with force, back up) what was not generated."""
    old = _old_manifest(sketch)
    blocked = [(rel, st) for rel, data in plan.items() if (st := _plan_state(sketch / rel, data, rel, old)) != "ok"]
    if blocked and not force:
        what = ", ".join(f"{rel} ({'edited by hand since export' if st == 'edited' else 'not written by tinymlkit'})"
                         for rel, st in blocked)
        raise ExportError(f"{sketch}: not overwriting {what}; nothing was changed. Keep your version under another "
                          "name, or run again with --force to replace it (a backup NAME.bak-<time> is kept)")
    staged: list[tuple[str, Path]] = []
    backups: list[Path] = []
    stamp = time.strftime("%Y%m%d-%H%M%S")
    try:
        for rel, data in plan.items():
            target = sketch / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
            staged.append((rel, Path(tmp)))
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o644)
        for rel, _ in blocked:
            src = sketch / rel
            if src.is_file():
                bak = src.with_name(f"{src.name}.bak-{stamp}")
                n = 1
                while bak.exists():
                    bak = src.with_name(f"{src.name}.bak-{stamp}-{n}")
                    n += 1
                fd = os.open(bak, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)  # never replaces anything
                with os.fdopen(fd, "wb") as f:
                    f.write(src.read_bytes())
                    f.flush()
                    os.fsync(f.fileno())
                backups.append(bak)
    except OSError as e:
        for _, tmp in staged:
            tmp.unlink(missing_ok=True)
        for bak in backups:
            bak.unlink(missing_ok=True)
        raise ExportError(f"{sketch}: cannot write the sketch files ({e.strerror or e}"
                          f"{': ' + str(e.filename) if getattr(e, 'filename', None) else ''}); nothing was changed") from None
    written = []
    for rel, tmp in staged:
        os.replace(tmp, sketch / rel)
        written.append(sketch / rel)
    return written, backups


def export_model(model_path: str | os.PathLike[str], config: KwsRunConfig | VwwRunConfig | str | os.PathLike[str],
                 sketch_dir: str | os.PathLike[str], arena_measured: int | None = None,
                 force: bool = False) -> ExportResult:
    """Write the generated deployment files and a copy of the model and config into a sketch folder.

    Refuses to replace a file that export did not write or that was edited since (``force`` replaces
    it and keeps a backup); writes everything or nothing.
    """
    model_path = Path(model_path)
    where = str(model_path)
    data = read_model_bytes(model_path, where)
    config_where = "the config"
    if isinstance(config, (str, os.PathLike)):
        config_where = str(config)
        config = load_run_config(config)
    model = read_tflite(data, where)  # validated in full: a damaged model never reaches a sketch
    problem = config_mismatch(model, config)
    if problem:
        raise ExportError(f"{where} does not match {config_where}: {problem}")
    if model.input.dtype != "int8":
        raise ExportError(f"{where}: input is {model.input.dtype}; the sketches expect a full-int8 model "
                          "(convert with representative data: model_int8.tflite)")
    if arena_measured is None and tflm_available():
        from ..inspect import measure_arena_isolated  # a child process: TFLM may still crash on odd models

        arena_measured = measure_arena_isolated(data, name=where).arena_bytes
    sketch = Path(sketch_dir)
    if sketch.exists() and not sketch.is_dir():
        raise ExportError(f"{sketch}: exists and is not a folder; give a sketch folder")
    sha = _sha(data)
    source = model_path.name
    h, cc = render_model_data(data, source)
    texts = {
        "model_data.h": h,
        "model_data.cc": cc,
        "model_settings.h": render_model_settings(config, model, source, arena_measured, sha),
        "model_ops.h": render_model_ops(model, source),
    }
    config_json = (json.dumps(to_dict(config), indent=2, allow_nan=False) + "\n").encode("utf-8")
    model_rel, config_rel = f"{MODEL_DIR}/{source}", f"{MODEL_DIR}/config.json"
    manifest = {
        "generated_by": f"tinymlkit {__version__}",
        "model": model_rel,
        "model_sha256": sha,
        "model_bytes": len(data),
        "config": config_rel,
        "config_data": to_dict(config),
        "arena_measured": arena_measured,
        "files": {name: _sha(t.encode("utf-8")) for name, t in texts.items()},
        "copies": {model_rel: sha, config_rel: _sha(config_json)},
    }
    plan: dict[str, bytes] = {name: t.encode("utf-8") for name, t in texts.items()}
    plan[model_rel] = data
    plan[config_rel] = config_json
    plan[MANIFEST] = (json.dumps(manifest, indent=2) + "\n").encode("utf-8")
    try:
        sketch.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ExportError(f"{sketch}: cannot create the sketch folder ({e.strerror or e})") from None
    written, backups = _write_all(sketch, plan, force)
    arena = int(re.search(r"kTensorArenaSize = (\d+)", texts["model_settings.h"]).group(1))  # type: ignore[union-attr]
    return ExportResult(tuple(written), arena_measured, arena, len(data), tuple(model.op_names), tuple(backups))
