"""Scoring classifiers: accuracy, balanced accuracy, per-class recall, confusion, and runtimes side by side."""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from .runtime import LITERT, TFLM, ModelRunner, tflm_available

__all__ = ["classification_metrics", "RuntimeComparison", "compare_runtimes", "score_runner"]


def classification_metrics(y_true: Sequence[int] | np.ndarray, y_pred: Sequence[int] | np.ndarray,
                           labels: Sequence[str]) -> dict[str, Any]:
    """Accuracy, balanced accuracy (mean recall over classes present), per-class recall, confusion, n.

    ``confusion[i][j]`` counts examples of true class i predicted as j.
    """
    y_true, y_pred = np.asarray(y_true, dtype=int), np.asarray(y_pred, dtype=int)
    k = len(labels)
    conf = np.zeros((k, k), dtype=int)
    np.add.at(conf, (y_true, y_pred), 1)
    support = conf.sum(axis=1)
    recall = {labels[i]: (float(conf[i, i] / support[i]) if support[i] else None) for i in range(k)}
    present = [r for r in recall.values() if r is not None]
    n = int(len(y_true))
    return {
        "accuracy": float(np.trace(conf) / n) if n else 0.0,
        "balanced_accuracy": float(np.mean(present)) if present else 0.0,
        "per_class": recall,
        "support": {labels[i]: int(support[i]) for i in range(k)},
        "confusion": conf.tolist(),
        "labels": list(labels),
        "n": n,
    }


def score_runner(runner: ModelRunner, x: np.ndarray, y: np.ndarray, labels: Sequence[str],
                 progress: bool = False) -> tuple[dict[str, Any], np.ndarray]:
    """Metrics of one model on one runtime, and its raw outputs (for comparing runtimes)."""
    if runner.num_outputs != len(labels):
        from .errors import KitError

        raise KitError(f"the model has {runner.num_outputs} outputs but {len(labels)} labels were given "
                       f"({', '.join(labels)})")
    raw = runner.predict_raw(x, progress=progress, desc=f"{runner.backend} inference")
    return classification_metrics(y, np.argmax(raw, axis=1), labels), raw


@dataclasses.dataclass
class RuntimeComparison:
    """The same evaluation set through float and int8 models on each runtime."""

    metrics: dict[str, dict[str, Any]]
    """Per runtime name ('float', 'int8_litert', 'int8_tflm'): classification metrics."""
    differing_outputs: int | None
    """int8 output values that differ between TFLM and LiteRT (None if either is missing)."""
    max_output_diff: int | None
    """Largest difference of one int8 output value between TFLM and LiteRT, in LSB."""
    differing_predictions: int | None
    """Examples whose predicted class differs between TFLM and LiteRT."""

    def summary(self) -> dict[str, Any]:
        """Plain data for metrics.json."""
        return dataclasses.asdict(self)


def compare_runtimes(float_model: bytes | None, int8_model: bytes, x: np.ndarray, y: np.ndarray,
                     labels: Sequence[str], progress: bool = False) -> RuntimeComparison:
    """Score float (LiteRT), int8 on LiteRT and int8 on TFLM on one set, and count where TFLM and LiteRT differ."""
    metrics: dict[str, dict[str, Any]] = {}
    if float_model is not None:
        metrics["float"], _ = score_runner(ModelRunner(float_model, backend=LITERT), x, y, labels, progress)
    metrics["int8_litert"], raw_lite = score_runner(ModelRunner(int8_model, backend=LITERT), x, y, labels, progress)
    diff = max_diff = flips = None
    if tflm_available():
        metrics["int8_tflm"], raw_tflm = score_runner(ModelRunner(int8_model, backend=TFLM), x, y, labels, progress)
        d = np.abs(raw_tflm.astype(np.int32) - raw_lite.astype(np.int32))
        diff, max_diff = int(np.count_nonzero(d)), int(d.max()) if d.size else 0
        flips = int(np.count_nonzero(np.argmax(raw_tflm, 1) != np.argmax(raw_lite, 1)))
    return RuntimeComparison(metrics, diff, max_diff, flips)
