"""Reconstruction error, clip scores, ROC AUC (and DCASE's partial AUC), and the alarm threshold."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..config import AudioFrontendConfig, QuantParams
from .features import clip_vectors, clip_vectors_int8

__all__ = ["reconstruction_errors", "clip_scores_keras", "clip_scores_runner", "roc_auc", "partial_auc",
           "roc_curve", "choose_threshold", "int8_window_error"]


def reconstruction_errors(x: np.ndarray, x_hat: np.ndarray) -> np.ndarray:
    """Mean squared error per row (per model input)."""
    d = np.asarray(x, dtype=np.float64) - np.asarray(x_hat, dtype=np.float64)
    return np.mean(d * d, axis=1)


def clip_scores_keras(model: Any, clip_frames: Sequence[np.ndarray], audio: AudioFrontendConfig, n: int,
                      batch_size: int = 2048) -> np.ndarray:
    """Each clip's score with the float Keras model: the mean error over all its windows."""
    vecs = [clip_vectors(f, audio, n) for f in clip_frames]
    if not vecs:
        return np.zeros(0)
    allv = np.concatenate(vecs)
    errs = reconstruction_errors(allv, model.predict(allv, batch_size=batch_size, verbose=0))
    bounds = np.cumsum([0] + [len(v) for v in vecs])
    return np.array([errs[a:b].mean() for a, b in zip(bounds[:-1], bounds[1:])])


def int8_window_error(x_q: np.ndarray, y_q: np.ndarray, in_scale: float, in_zero: int, out_scale: float,
                      out_zero: int) -> float:
    """One window's error as the sketch computes it: both int8 tensors back to real values, in double."""
    xi = (np.asarray(x_q, dtype=np.float64) - in_zero) * np.float64(np.float32(in_scale))
    yo = (np.asarray(y_q, dtype=np.float64) - out_zero) * np.float64(np.float32(out_scale))
    d = xi - yo
    return float(np.sum(d * d) / len(d))


def clip_scores_runner(runner: Any, clip_frames: Sequence[np.ndarray], audio: AudioFrontendConfig, n: int,
                       progress: bool = False, desc: str = "int8 scoring") -> np.ndarray:
    """Each clip's score with an int8 model on an interpreter (TFLM: the board's), input made as on the board."""
    iq, oq = runner.input_quant, runner.output_quant
    if iq is None or oq is None:
        raise ValueError("clip_scores_runner needs a full-int8 model (int8 input and output)")
    it: Any = clip_frames
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(clip_frames, desc=desc, unit="clip", leave=False)
    out = []
    for frames in it:
        xs = clip_vectors_int8(frames, audio, n, QuantParams(iq.scale, iq.zero_point))
        errs = [int8_window_error(x, runner.run_raw(x).reshape(-1), iq.scale, iq.zero_point, oq.scale, oq.zero_point)
                for x in xs]
        out.append(float(np.mean(errs)))
    return np.array(out)


def roc_auc(labels: Sequence[int] | np.ndarray, scores: Sequence[float] | np.ndarray) -> float:
    """Area under the ROC curve: the chance a random faulty clip scores above a random normal one (ties count half)."""
    y = np.asarray(labels).astype(bool)
    s = np.asarray(scores, dtype=np.float64)
    pos, neg = s[y], s[~y]
    if len(pos) == 0 or len(neg) == 0:
        raise ValueError("AUC needs both normal (0) and anomaly (1) labels")
    # Mann-Whitney U from average ranks: exact, and ties get half credit.
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s))
    sorted_s = s[order]
    i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and sorted_s[j + 1] == sorted_s[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    u = ranks[y].sum() - len(pos) * (len(pos) + 1) / 2.0
    return float(u / (len(pos) * len(neg)))


def roc_curve(labels: Sequence[int] | np.ndarray, scores: Sequence[float] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(false-positive rates, true-positive rates) at every threshold, from (0, 0) to (1, 1)."""
    y = np.asarray(labels).astype(bool)
    s = np.asarray(scores, dtype=np.float64)
    thresholds = np.unique(s)[::-1]
    fpr = [0.0] + [float(np.mean(s[~y] >= t)) for t in thresholds]
    tpr = [0.0] + [float(np.mean(s[y] >= t)) for t in thresholds]
    return np.array(fpr), np.array(tpr)


def partial_auc(labels: Sequence[int] | np.ndarray, scores: Sequence[float] | np.ndarray, max_fpr: float = 0.1) -> float:
    """DCASE's pAUC: the ROC area for false-positive rates up to ``max_fpr``, divided by ``max_fpr``."""
    fpr, tpr = roc_curve(labels, scores)
    keep = fpr <= max_fpr
    f, t = list(fpr[keep]), list(tpr[keep])
    k = int(np.sum(keep))
    if k < len(fpr) and f[-1] < max_fpr:  # interpolate the curve at max_fpr
        f0, f1, t0, t1 = fpr[k - 1], fpr[k], tpr[k - 1], tpr[k]
        f.append(max_fpr)
        t.append(t0 + (t1 - t0) * (max_fpr - f0) / (f1 - f0))
    return float(np.trapezoid(t, f) / max_fpr)


def choose_threshold(normal_scores: Sequence[float] | np.ndarray, quantile: float) -> float:
    """The alarm threshold: the given quantile of scores of normal clips the model did not train on."""
    s = np.asarray(normal_scores, dtype=np.float64)
    if len(s) == 0:
        raise ValueError("no held-out normal clips to set the threshold from")
    return float(np.quantile(s, quantile))
