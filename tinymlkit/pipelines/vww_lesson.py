"""The transfer-learning lessons, measured: a pretrained base against training from scratch, same budget.

Two experiments, kept out of the VWW pipeline (``vww``) whose pieces they use: the offline one
(:func:`transfer_vs_scratch`, a base pre-trained on a large synthetic set) and the real one
(:func:`real_transfer_vs_scratch`, the base of ``person_detect.tflite`` on real photos).
``benchmarks/bench_vww.py`` and ``benchmarks/bench_vww_real.py`` print their figures.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from ..config import TrainConfig
from ..data.synth_images import PERSON_LABELS, SHAPE_LABELS, make_person_images, make_shape_images
from ..evaluate import classification_metrics
from ..files import atomic_path
from ..runtime import ModelRunner
from ..train import set_seed, train_classifier
from ..vision.int8_input import DEFAULT_NORMALIZATION, normalize
from .vww import REAL_BASE, VwwData, score_pixels

__all__ = ["epochs_to_accuracy", "transfer_vs_scratch", "real_transfer_vs_scratch"]


def epochs_to_accuracy(history: dict[str, list[float]], target: float, key: str = "val_accuracy") -> int | None:
    """First epoch (1-based) at which ``key`` reaches ``target``; None if it never does."""
    for i, v in enumerate(history.get(key, [])):
        if v >= target:
            return i + 1
    return None


def _task_images(task: str, n: int, size: int, channels: int, seed: int) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    if task == "person":
        x, y = make_person_images(n, size, channels, seed=seed)
        return x, y, PERSON_LABELS
    if task == "shapes":
        x, y = make_shape_images(n, size, channels, seed=seed)
        return x, y, SHAPE_LABELS
    raise ValueError(f"unknown synthetic task {task!r}; use 'person' or 'shapes'")


def transfer_vs_scratch(out: str | Path, size: int = 96, alpha: float = 0.25, channels: int = 1,
                        pretrain_task: str = "person", pretrain_images: int = 2000, pretrain_epochs: int = 6,
                        target_task: str = "person", target_sizes: tuple[int, int] = (300, 200), epochs: int = 8,
                        target: float = 0.75, seed: int = 7, progress: bool = False) -> dict[str, Any]:
    """The offline transfer-learning lesson, measured.

    Pre-train a base on a large synthetic set (the stand-in for ImageNet), then train a small target
    set twice with the same budget: from that base (new head first, then fine-tuning) and from scratch.
    Reports the epochs each needs to reach ``target`` validation accuracy (None: not within ``epochs``).
    The default target is a small person set drawn from other random streams (a learner's own small
    folder); ``target_task="shapes"`` asks the harder cross-task question.
    """
    from ..models.mobilenet import load_base_weights, mobilenet_v1

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    xs, ys, pre_labels = _task_images(pretrain_task, pretrain_images, size, channels, seed)
    n_val = max(len(pre_labels) * 10, pretrain_images // 8)
    pre_data = VwwData((xs[n_val:], ys[n_val:]), (xs[:n_val], ys[:n_val]), (xs[:n_val], ys[:n_val]), pre_labels,
                       pretrain_task)
    cfg = TrainConfig(model="mobilenet_v1", epochs=pretrain_epochs, batch_size=32, learning_rate=0.002,
                      patience=pretrain_epochs, seed=seed)
    set_seed(seed)
    pre = mobilenet_v1((size, size, channels), len(pre_labels), alpha)
    t0 = time.perf_counter()
    pre_hist = train_classifier(pre, pre_data, cfg, transfer=False, progress=progress)
    pretrain_seconds = time.perf_counter() - t0
    base_path = out / f"{pretrain_task}_base.keras"
    with atomic_path(base_path) as tmp:
        pre.save(tmp)
    xt, yt, labels = _task_images(target_task, sum(target_sizes), size, channels, seed + 1)
    n_tr = target_sizes[0]
    task_data = VwwData((xt[:n_tr], yt[:n_tr]), (xt[n_tr:], yt[n_tr:]), (xt[n_tr:], yt[n_tr:]), labels, target_task)
    task_cfg = TrainConfig(model="mobilenet_v1", epochs=epochs, batch_size=32, learning_rate=0.002,
                           patience=epochs, seed=seed)
    runs = {}
    for name, weights in (("scratch", "none"), ("transfer", str(base_path))):
        set_seed(seed)
        m = mobilenet_v1((size, size, channels), len(labels), alpha)
        load_base_weights(m, weights, alpha)
        r = train_classifier(m, task_data, task_cfg, transfer=weights != "none", progress=progress)
        runs[name] = {"epochs_to_target": epochs_to_accuracy(r["history"], target),
                      "best_val_accuracy": round(max(r["history"]["val_accuracy"]), 4),
                      "val_accuracy": [round(v, 4) for v in r["history"]["val_accuracy"]],
                      "seconds": round(r["seconds"], 2), "phases": r["phases"]}
    return {"target_val_accuracy": target,
            "pretrain": {"task": f"{pretrain_task} ({'/'.join(pre_labels)})", "images": pretrain_images,
                         "epochs": pretrain_epochs,
                         "final_val_accuracy": round(pre_hist["history"]["val_accuracy"][-1], 4),
                         "seconds": round(pretrain_seconds, 2), "base": str(base_path)},
            "task": {"name": f"{target_task} ({'/'.join(labels)})", "train_images": target_sizes[0],
                     "validation_images": target_sizes[1], "epochs": epochs},
            "size": [size, size, channels], "alpha": alpha, **runs}


def real_transfer_vs_scratch(data: VwwData, epochs: int = 10, head_epochs: int = 3, weights: str | Path = REAL_BASE,
                             learning_rate: float = 0.001, seed: int = 7, progress: bool = False) -> dict[str, Any]:
    """The real transfer-learning measurement: the real person detector's base against scratch, same budget.

    Both train on ``data.train`` and pick epochs on ``data.validation``; both are scored once on
    ``data.test`` (float Keras). The untouched reference detector is scored on the same test images.
    """
    from ..models.mobilenet import mobilenet_v1
    from ..models.person_detect_base import load_person_detect_weights, person_detect_path

    cfg = TrainConfig(model="mobilenet_v1", epochs=epochs, batch_size=16, learning_rate=learning_rate,
                      patience=epochs, seed=seed)
    x_te, y_te = data.test
    ref = ModelRunner(person_detect_path(None if str(weights) == REAL_BASE else weights, progress=progress))
    out: dict[str, Any] = {
        "data": {"description": data.description, "counts": data.counts},
        "reference_int8_on_test": score_pixels(ref, x_te, y_te, data.labels),
    }
    for name in ("real_base", "scratch"):
        set_seed(seed)
        model = mobilenet_v1((96, 96, 1), len(data.labels), 0.25)
        if name == "real_base":
            load_person_detect_weights(model, None if str(weights) == REAL_BASE else weights, progress=progress)
        r = train_classifier(model, data, cfg, transfer=name == "real_base", head_epochs=head_epochs,
                             progress=progress, frozen_batchnorm=name == "real_base")
        probs = model.predict(normalize(x_te, DEFAULT_NORMALIZATION), verbose=0)
        out[name] = {"test": classification_metrics(y_te, np.argmax(probs, 1), data.labels),
                     "val_accuracy": [round(v, 4) for v in r["history"].get("val_accuracy", [])],
                     "phases": r["phases"], "seconds": round(r["seconds"], 2)}
    return out
