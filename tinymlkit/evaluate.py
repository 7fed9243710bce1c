"""Scoring classifiers: accuracy, balanced accuracy, per-class recall, confusion, and runtimes side by side."""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .board_input import BoardInput
from .runtime import LITERT, TFLM, ModelRunner, tflm_available

__all__ = ["classification_metrics", "RuntimeComparison", "compare_runtimes", "score_runner", "score_folder",
           "headline", "metrics_by_group", "UNKNOWN_NAMES", "SILENCE_NAMES"]

UNKNOWN_NAMES = ("unknown", "_unknown_")
"""Label spellings of the 'some other word' class."""
SILENCE_NAMES = ("silence", "_silence_")
"""Label spellings of the 'no speech' class."""


def classification_metrics(y_true: Sequence[int] | np.ndarray, y_pred: Sequence[int] | np.ndarray,
                           labels: Sequence[str]) -> dict[str, Any]:
    """Balanced accuracy (mean recall over classes present), per-class recall, false accepts, accuracy, confusion.

    Balanced accuracy and per-class recall come first because plain accuracy hides a class the model
    never gets right when that class is small. ``unknown_false_accept_rate`` is the share of clips of
    other words (the unknown class) that the model takes for a keyword, the error a user of a voice
    switch notices; ``silence_false_accept_rate`` the same for silence clips (None where the labels
    have no such class or the set has no such clips). ``confusion[i][j]`` counts examples of true class i
    predicted as j.
    """
    y_true, y_pred = np.asarray(y_true, dtype=int), np.asarray(y_pred, dtype=int)
    k = len(labels)
    conf = np.zeros((k, k), dtype=int)
    np.add.at(conf, (y_true, y_pred), 1)
    support = conf.sum(axis=1)
    recall = {labels[i]: (float(conf[i, i] / support[i]) if support[i] else None) for i in range(k)}
    present = [r for r in recall.values() if r is not None]
    n = int(len(y_true))
    unknown = next((list(labels).index(x) for x in UNKNOWN_NAMES if x in labels), None)
    silence = next((list(labels).index(x) for x in SILENCE_NAMES if x in labels), None)
    keywords = [i for i in range(k) if i not in (unknown, silence)]

    def false_accepts(c: int | None) -> float | None:
        if c is None or not support[c]:
            return None
        return float(conf[c, keywords].sum() / support[c])

    return {
        "balanced_accuracy": float(np.mean(present)) if present else 0.0,
        "per_class": recall,
        "unknown_false_accept_rate": false_accepts(unknown),
        "silence_false_accept_rate": false_accepts(silence),
        "accuracy": float(np.trace(conf) / n) if n else 0.0,
        "support": {labels[i]: int(support[i]) for i in range(k)},
        "confusion": conf.tolist(),
        "labels": list(labels),
        "n": n,
    }


def metrics_by_group(y_true: Sequence[int] | np.ndarray, y_pred: Sequence[int] | np.ndarray,
                     groups: Sequence[str], labels: Sequence[str],
                     order: Sequence[str] | None = None) -> dict[str, dict[str, Any]]:
    """Scores per group (speaker, level range, ...): balanced accuracy, recall per class, counts.

    ``groups[i]`` names the group of example i. Every group gets :func:`classification_metrics`'
    ``balanced_accuracy``, ``per_class``, ``support``, ``accuracy``, ``unknown_false_accept_rate`` and
    ``n``, so a small group (whose figures move a lot with one clip) is visible as small. Groups come in
    ``order`` when given (groups not in it after, sorted), else sorted by name.
    """
    y_true, y_pred = np.asarray(y_true, dtype=int), np.asarray(y_pred, dtype=int)
    g = np.asarray([str(x) for x in groups])
    if not (len(y_true) == len(y_pred) == len(g)):
        raise ValueError(f"y_true, y_pred and groups differ in length ({len(y_true)}, {len(y_pred)}, {len(g)})")
    names = sorted(set(g.tolist()))
    if order is not None:
        names = [x for x in order if x in names] + [x for x in names if x not in order]
    out: dict[str, dict[str, Any]] = {}
    for name in names:
        sel = g == name
        m = classification_metrics(y_true[sel], y_pred[sel], labels)
        out[name] = {k: m[k] for k in ("balanced_accuracy", "per_class", "support", "accuracy",
                                       "unknown_false_accept_rate", "n")}
    return out


def headline(m: dict[str, Any]) -> str:
    """One line that leads with what matters: balanced accuracy, per-class recall, false accepts on other words."""
    recalls = "  ".join(f"{lab} {'-' if r is None else f'{r:.2f}'}" for lab, r in m["per_class"].items())
    fa = m.get("unknown_false_accept_rate")
    fa_text = f"   other words taken for a keyword: {fa:.1%}" if fa is not None else ""
    return (f"balanced {m['balanced_accuracy']:.3f}   recall: {recalls}{fa_text}   "
            f"(accuracy {m['accuracy']:.3f}, n {m['n']})")


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


def score_folder(model: str | Path | bytes | ModelRunner | BoardInput, data: str | Path, labels: Sequence[str],
                 audio: Any = None, backend: str | None = None, progress: bool = False,
                 details: bool = False) -> dict[str, Any]:
    """Score a keyword model on every clip of a folder in Speech Commands layout (real clips, usually).

    Words among the labels keep their label, ``_silence_`` clips count as silence, other words as
    unknown. Bad files are skipped and listed (``skipped``), never fatal; a folder with nothing to score
    raises a ``KitError``. The result is :func:`classification_metrics` plus ``data``, ``backend``,
    ``skipped`` (a count) and ``skipped_files`` (file and reason); with ``details``, also ``files``,
    ``true`` and ``predicted`` per clip (for scores per speaker or recording condition). Each clip
    reaches the model through :class:`~tinymlkit.board_input.BoardInput`, as on the board.
    """
    from .config import AudioFrontendConfig, KwsRunConfig
    from .data.speech_commands import clip_for, label_items
    from .errors import KitError

    if isinstance(model, BoardInput):
        bi = model
        a = bi.config.audio if audio is None else audio
    else:
        a = audio if audio is not None else AudioFrontendConfig()
        runner = model if isinstance(model, ModelRunner) else ModelRunner(model, backend=backend)
        if runner.num_outputs != len(labels):
            raise KitError(f"the model has {runner.num_outputs} outputs but {len(labels)} labels were given "
                           f"({', '.join(labels)})")
        bi = BoardInput(KwsRunConfig(audio=a), runner, labels=labels)
    items, skipped = label_items(data, labels, a.sample_rate)
    good: list[tuple[Path, int]] = []
    feats = []
    it: Any = items
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(items, desc=f"features ({Path(data).name})", unit="clip", leave=False)
    for path, y in it:
        try:
            clip = clip_for(path, a.sample_rate, a.clip_samples)
        except KitError as e:  # a file that passed the header check but not the read: skip, keep the batch
            skipped.append(str(e))
            continue
        feats.append(bi.clip_to_input(clip))
        good.append((path, y))
    if not good:
        raise KitError(f"{data}: no clips to score for labels {list(labels)}"
                       + (f" ({len(skipped)} skipped, first: {skipped[0]})" if skipped else ""))
    x = np.stack(feats)
    y = np.array([i for _, i in good])
    raw = bi.run_batch(x, progress=progress)
    metrics = classification_metrics(y, np.argmax(raw, axis=1), labels)
    metrics.update({"data": str(data), "backend": bi.runner.backend, "skipped": len(skipped), "skipped_files": skipped})
    if details:
        metrics.update({"files": [str(p) for p, _ in good], "true": y.tolist(),
                        "predicted": np.argmax(raw, axis=1).tolist()})
    return metrics
