"""Early exit as a board runs it: a small int8 model answers first; the big one runs only when it is unsure.

Two int8 models run on TFLM one after the other. Stage 1 is cheap; when its top score reaches a
threshold its answer stands, otherwise stage 2 runs on the same input and its answer is used. The
average cost is MACs(stage 1) + share-not-exited x MACs(stage 2). The threshold is an int8 value
compared with stage 1's raw int8 output, exactly what the sketch does, chosen on validation data as
the cheapest threshold whose accuracy stays within a stated drop of stage 2 alone; the test split
then says what it really costs.

Early-exit networks are surveyed by Laskaridis, Kouris and Lane ("Adaptive Inference through Early-Exit
Networks", arXiv:2106.05022); T-RecX (Ghanathe and Wilton, arXiv:2207.06613) puts an exit inside
the MLPerf Tiny models and reports about a third fewer FLOPs for about one point of accuracy. The kit's
version is the two-model cascade, which needs nothing from the runtime but two interpreters.
"""
from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..energy import estimate
from ..errors import KitError
from ..evaluate import classification_metrics
from ..files import atomic_write_text
from ..runtime import ModelRunner
from ..tflite_file import read_model_bytes

__all__ = ["CascadeScores", "ExitPoint", "cascade_scores", "exit_curve", "choose_threshold", "evaluate_threshold",
           "render_early_exit_header", "export_early_exit", "EARLY_EXIT_HEADER", "SKETCH_TEMPLATE"]

EARLY_EXIT_HEADER = "early_exit.h"
"""The generated header holding the decision rule."""
SKETCH_TEMPLATE = Path(__file__).resolve().parents[2] / "arduino_sketches" / "early_exit"
"""The two-stage sketch's hand-written files in a checkout."""


@dataclasses.dataclass(frozen=True)
class CascadeScores:
    """Both stages' outputs on a set of inputs, as TFLM gives them."""

    raw1: np.ndarray
    """Stage 1's raw int8 outputs, one row per input."""
    pred1: np.ndarray
    """Stage 1's predicted class per input."""
    pred2: np.ndarray
    """Stage 2's predicted class per input."""
    output_scale: float
    """Stage 1's output scale (to read an int8 threshold as a probability)."""
    output_zero_point: int
    """Stage 1's output zero point."""
    backend: str
    """Interpreter used ('tflm' where installed)."""


def cascade_scores(stage1: bytes | str | Path, stage2: bytes | str | Path, x: np.ndarray,
                   backend: str | None = None) -> CascadeScores:
    """Run both int8 models on every input (stage 2 too, so any threshold can be scored afterwards)."""
    r1 = ModelRunner(stage1, backend=backend)
    r2 = ModelRunner(stage2, backend=backend)
    if r1.num_outputs != r2.num_outputs:
        raise KitError(f"stage 1 has {r1.num_outputs} outputs and stage 2 {r2.num_outputs}: the two stages must "
                       "classify into the same labels")
    if r1.output_quant is None:
        raise KitError("stage 1 is not an int8 model: convert it with representative data")
    raw1 = r1.predict_raw(x)
    raw2 = r2.predict_raw(x)
    return CascadeScores(raw1=raw1, pred1=np.argmax(raw1, 1), pred2=np.argmax(raw2, 1),
                         output_scale=float(r1.output_quant.scale), output_zero_point=int(r1.output_quant.zero_point),
                         backend=r1.backend)


@dataclasses.dataclass(frozen=True)
class ExitPoint:
    """The cascade at one threshold."""

    threshold_int8: int
    """Stage 1 answers when its top raw int8 score is at least this."""
    threshold: float
    """The same threshold as a probability (stage 1's output scale and zero point)."""
    exit_fraction: float
    """Share of inputs stage 1 answered."""
    accuracy: float
    """Accuracy of the cascade."""
    balanced_accuracy: float
    """Mean per-class recall of the cascade."""
    avg_macs: float
    """Average MACs per input: stage 1 always, stage 2 for the rest."""
    mac_saving: float
    """1 - avg_macs / MACs of stage 2 alone."""
    latency_ms: float
    """Average estimated latency on the target."""
    energy_uj: float
    """Average estimated CPU energy per input, microjoules."""

    def to_json(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {k: (round(v, 5) if isinstance(v, float) else v) for k, v in dataclasses.asdict(self).items()}


def _point(scores: CascadeScores, y: np.ndarray, labels: Sequence[str], t: int, macs1: int, macs2: int,
           target: str) -> ExitPoint:
    exits = scores.raw1.astype(np.int16).max(axis=1) >= t  # int16: the 'never' threshold 128 is outside int8
    pred = np.where(exits, scores.pred1, scores.pred2)
    m = classification_metrics(y, pred, labels)
    frac = float(exits.mean()) if len(exits) else 0.0
    avg = macs1 + (1.0 - frac) * macs2
    e = estimate(int(round(avg)), target)
    return ExitPoint(threshold_int8=int(t), threshold=float((t - scores.output_zero_point) * scores.output_scale),
                     exit_fraction=frac, accuracy=float(m["accuracy"]), balanced_accuracy=float(m["balanced_accuracy"]),
                     avg_macs=float(avg), mac_saving=float(1.0 - avg / macs2) if macs2 else 0.0,
                     latency_ms=e.latency_ms, energy_uj=e.energy_uj)


def exit_curve(scores: CascadeScores, y: np.ndarray, labels: Sequence[str], macs1: int, macs2: int,
               target: str = "nano33ble") -> list[ExitPoint]:
    """The cascade at every int8 threshold from 'always exit' (-128) to 'never exit' (128)."""
    y = np.asarray(y)
    return [_point(scores, y, labels, t, macs1, macs2, target) for t in range(-128, 129)]


def choose_threshold(curve: Sequence[ExitPoint], reference: float, max_drop: float = 0.01,
                     metric: str = "accuracy") -> ExitPoint:
    """The cheapest point (fewest average MACs) whose ``metric`` is at least ``reference - max_drop``."""
    ok = [p for p in curve if getattr(p, metric) >= reference - max_drop - 1e-12]
    if not ok:
        raise KitError(f"no threshold keeps {metric} within {max_drop:.3f} of {reference:.3f}; stage 1 is too weak "
                       "or the validation set too small")
    return min(ok, key=lambda p: (p.avg_macs, -p.threshold_int8))


def evaluate_threshold(scores: CascadeScores, y: np.ndarray, labels: Sequence[str], threshold_int8: int,
                       macs1: int, macs2: int, target: str = "nano33ble") -> ExitPoint:
    """The cascade at one threshold on other data (the test split)."""
    return _point(scores, np.asarray(y), labels, int(threshold_int8), macs1, macs2, target)


def render_early_exit_header(point: ExitPoint, macs1: int, macs2: int, source: str = "tinymlkit.compress") -> str:
    """early_exit.h: the int8 threshold and the decision rule, as the sketch compiles it."""
    t = max(-128, min(128, int(point.threshold_int8)))
    return "\n".join([
        f"// Generated by {source}. Do not edit: export the two-stage model again to change it.",
        "#ifndef TINYMLKIT_EARLY_EXIT_H_",
        "#define TINYMLKIT_EARLY_EXIT_H_",
        "",
        "#include <stdint.h>",
        "",
        "// Stage 1 answers when its top int8 output reaches this value; 128 means never (always run stage 2).",
        f"constexpr int kExitThresholdInt8 = {t};",
        f"constexpr float kExitThresholdProbability = {point.threshold:.6f}f;  // the same, dequantized",
        f"constexpr long kStage1Macs = {int(macs1)}L;",
        f"constexpr long kStage2Macs = {int(macs2)}L;",
        "// Measured on the validation split when the threshold was chosen:",
        f"constexpr float kValidationExitFraction = {point.exit_fraction:.4f}f;",
        f"constexpr float kValidationAverageMacs = {point.avg_macs:.1f}f;",
        "",
        "// True when stage 1's answer stands: its highest score is at least the threshold.",
        "inline bool ExitAtStage1(const int8_t* scores, int count, int* best) {",
        "  int top = 0;",
        "  for (int i = 1; i < count; ++i) {",
        "    if (scores[i] > scores[top]) top = i;",
        "  }",
        "  *best = top;",
        "  return static_cast<int>(scores[top]) >= kExitThresholdInt8;",
        "}",
        "",
        "#endif  // TINYMLKIT_EARLY_EXIT_H_",
        "",
    ])


def export_early_exit(stage1: str | Path, stage2: str | Path, config: Any, sketch_dir: str | Path,
                      point: ExitPoint, macs1: int, macs2: int) -> list[Path]:
    """Write the two-stage sketch: stage 1 in the sketch folder, stage 2 in its ``stage2/`` folder, and the rule.

    ``stage2/`` is itself a one-model sketch (it runs stage 2 alone, to time it on the board), so
    ``tinymlkit check-sketch`` checks each stage's generated files against its own model.
    """
    from ..export.write import export_model

    sketch = Path(sketch_dir)
    if sketch.resolve() != SKETCH_TEMPLATE.resolve():
        if not (SKETCH_TEMPLATE / "early_exit.ino").is_file():
            raise KitError(f"the early-exit sketch template is missing at {SKETCH_TEMPLATE}: it comes with the "
                           "repository (git clone it)")
        for src in sorted(SKETCH_TEMPLATE.rglob("*")):
            rel = src.relative_to(SKETCH_TEMPLATE)
            if src.is_file() and _hand_written(rel):
                dest = sketch / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dest)
    for p, what in ((stage1, "stage 1"), (stage2, "stage 2")):
        read_model_bytes(p)  # a clear error for a missing file before anything is written
    written = list(export_model(stage1, config, sketch).files)
    written += list(export_model(stage2, config, sketch / "stage2").files)
    written.append(atomic_write_text(sketch / EARLY_EXIT_HEADER,
                                     render_early_exit_header(point, macs1, macs2, f"tinymlkit from {Path(stage1).name} "
                                                              f"and {Path(stage2).name}")))
    summary = {"threshold_int8": point.threshold_int8, "threshold": point.threshold,
               "stage1": _shown(stage1, sketch), "stage2": _shown(stage2, sketch), "macs": [int(macs1), int(macs2)],
               "validation": point.to_json()}
    written.append(atomic_write_text(sketch / "early_exit.json", json.dumps(summary, indent=2) + "\n"))
    return written


def _shown(model: str | Path, sketch: Path) -> str:
    """A model's path as the committed summary records it: relative to the sketch when it lies inside it."""
    try:
        return Path(model).resolve().relative_to(sketch.resolve()).as_posix()
    except ValueError:
        return str(model)


def _hand_written(rel: Path) -> bool:
    from ..export.render import GENERATED_FILES, MANIFEST

    return rel.name not in (*GENERATED_FILES, MANIFEST, EARLY_EXIT_HEADER, "early_exit.json") and \
        rel.suffix in (".ino", ".cpp", ".h", ".yaml", ".md")

