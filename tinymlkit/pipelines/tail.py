"""The part of a run both tracks share after training: save, arena, export, plots, metrics, the result.

``run_kws`` and ``run_vww`` differ in their data, their model and how they score it; from the
converted model on they do the same things in the same order, written here once:

1. :func:`save_models`: ``model_float.tflite``, ``model_int8.tflite``, ``model.keras`` and ``config.json``;
2. :func:`board_arena`: the arena TFLM needs (None where TFLM is not installed);
3. :func:`export_sketch`: the generated sketch files (when a sketch folder is given);
4. :func:`save_plots`: ``training.png`` and ``confusion.png``;
5. :func:`finish`: ``metrics.json`` and the :class:`RunResult`.
"""
from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..config import KwsRunConfig, VwwRunConfig, save_json
from ..export.write import export_model
from ..files import atomic_path, atomic_write_bytes, atomic_write_text
from ..runtime import measure_arena, tflm_available
from .steps import StepTimer

__all__ = ["RunResult", "save_models", "board_arena", "export_sketch", "save_plots", "finish"]


@dataclasses.dataclass
class RunResult:
    """What a run (``run_kws``, ``run_vww``) produced."""

    out: Path
    """Run folder."""
    config: KwsRunConfig | VwwRunConfig
    """The run's config (also in config.json)."""
    metrics: dict[str, Any]
    """Everything in metrics.json."""
    sketch_files: tuple[Path, ...]
    """Files written into the sketch folder (empty if no sketch was given)."""


def save_models(out: Path, keras_model: Any, float_bytes: bytes, int8_bytes: bytes,
                cfg: KwsRunConfig | VwwRunConfig) -> None:
    """Write the float and int8 models, the Keras model and the config into the run folder, each atomically."""
    atomic_write_bytes(out / "model_float.tflite", float_bytes)
    atomic_write_bytes(out / "model_int8.tflite", int8_bytes)
    with atomic_path(out / "model.keras") as tmp:  # readers see the old file or the whole new one
        keras_model.save(tmp)
    save_json(cfg, out / "config.json")


def board_arena(int8_bytes: bytes) -> int | None:
    """The tensor arena the TFLM interpreter needed for the model (None without TFLM)."""
    return measure_arena(int8_bytes).arena_bytes if tflm_available() else None


def export_sketch(out: Path, sketch: str | os.PathLike[str] | None, arena: int | None,
                  steps: StepTimer) -> tuple[Path, ...]:
    """The run's model and config exported into ``sketch`` (nothing when no sketch folder is given)."""
    if sketch is None:
        return ()
    with steps("export"):
        return export_model(out / "model_int8.tflite", out / "config.json", sketch, arena_measured=arena).files


def save_plots(out: Path, history: dict[str, Any] | None, history_title: str, confusion: Sequence[Sequence[int]],
               labels: Sequence[str], steps: StepTimer) -> None:
    """``training.png`` (when there is a history) and ``confusion.png`` of the int8 model on the test split."""
    with steps("plots"):
        from ..plots import plot_confusion, plot_history, save_figure

        if history:
            save_figure(plot_history(history, history_title), out / "training.png")
        save_figure(plot_confusion(confusion, labels, "int8 model on the test split"), out / "confusion.png")


def finish(out: Path, cfg: KwsRunConfig | VwwRunConfig, metrics: dict[str, Any],
           sketch_files: tuple[Path, ...]) -> RunResult:
    """Write ``metrics.json`` and return the run's result."""
    atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    return RunResult(out, cfg, metrics, sketch_files)
