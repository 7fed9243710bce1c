"""The data and the starting models the advanced lessons and benchmarks share (keyword spotting).

One call gives the micro features of the three splits, exactly as the keyword pipeline makes them
(same front end, same split, same augmentation), from the offline synthetic set or from a folder of
real recordings in Speech Commands layout, plus the run config a sketch export needs.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..config import KwsRunConfig, KwsTaskConfig, TrainConfig, save_json
from ..errors import KitError

__all__ = ["KwsWork", "kws_work", "class_weights", "train_kws_model", "int8_accuracy", "LessonSizes",
           "FAST_LESSON", "FULL_LESSON", "lesson_sizes"]


@dataclasses.dataclass(frozen=True)
class LessonSizes:
    """How much the keyword lessons of the advanced track (pruning, early exit, low bits) train and search."""

    copies: int
    """Augmented copies of every training clip."""
    epochs: int
    """Epochs of a model trained from scratch."""
    finetune_epochs: int
    """Epochs of fine-tuning after filters or blocks were cut."""
    prune_iterations: int
    """Bisection steps of the budget search on the keep ratio."""
    width_candidates: tuple[int, ...]
    """DS-CNN filter counts tried, largest first, for the width-multiplier comparison."""
    qat_epochs: int
    """Epochs of quantisation-aware training per bit width."""


FAST_LESSON = LessonSizes(copies=1, epochs=3, finetune_epochs=1, prune_iterations=2, width_candidates=(48, 32),
                          qat_epochs=1)
"""Fast mode (tests, a first look): every step runs end to end; the numbers are noise."""
_FULL_EPOCHS = 25
FULL_LESSON = LessonSizes(copies=2, epochs=_FULL_EPOCHS, finetune_epochs=_FULL_EPOCHS, prune_iterations=6,
                          width_candidates=tuple(range(60, 7, -4)), qat_epochs=6)
"""The lessons' real sizes. Fine-tuning after a cut runs as many epochs as a model trained from scratch, so the
channels, depth and width comparison spends the same epochs on each (on real speakers, seed 1234, the DS-CNN
pruned to half the MACs scored 0.759 accuracy after 8 epochs and 0.824 after 25, from 0.806 before the cut:
benchmarks/bench_compress.py prune-kws)."""


def lesson_sizes(fast: bool) -> LessonSizes:
    """The preset of fast mode or of the full lesson."""
    return FAST_LESSON if fast else FULL_LESSON


@dataclasses.dataclass
class KwsWork:
    """Features and labels of the three splits, with the config they were made with."""

    config: KwsRunConfig
    """Run config (labels, audio front end); saved next to exported models."""
    x_train: np.ndarray
    """Training features (augmented copies included)."""
    y_train: np.ndarray
    """Training labels."""
    x_val: np.ndarray
    """Validation features."""
    y_val: np.ndarray
    """Validation labels."""
    x_test: np.ndarray
    """Test features (speakers not in training or validation)."""
    y_test: np.ndarray
    """Test labels."""
    description: str
    """Where the clips came from."""

    @property
    def labels(self) -> tuple[str, ...]:
        """Output labels in order."""
        return self.config.labels

    def save_config(self, path: str | Path) -> Path:
        """Write config.json (what ``export_model`` reads) and return its path."""
        path = Path(path)
        save_json(self.config, path)
        return path


def kws_work(data: str | Path | None = None, words: Sequence[str] = ("yes", "no"), fast: bool = False,
             seed: int = 1234, copies: int = 1, task_overrides: dict[str, Any] | None = None,
             progress: bool = False) -> KwsWork:
    """Micro features of a keyword task: ``data=None`` is the offline synthetic set (made once)."""
    from ..data.speech_commands import build_dataset
    from ..pipelines import kws
    from ..pipelines.kws import prepare_features

    task = KwsTaskConfig(words=tuple(words), **(task_overrides or {}))
    cfg = KwsRunConfig(task=task, train=TrainConfig(seed=seed))
    if data is None:
        root = kws.synthetic_keywords(fast, progress)
        desc = f"synthetic text-to-speech keywords ({'fast' if fast else 'full'} set)"
    else:
        root = Path(data)
        desc = str(root)
    ds = build_dataset(root, task, seed=seed)
    if not ds.items["training"]:
        raise KitError(f"{root}: no training clips after the split ({ds.split_method})")
    x_tr, y_tr = prepare_features(ds, cfg, "training", copies, seed, progress)
    x_va, y_va = prepare_features(ds, cfg, "validation", 1, seed, progress)
    x_te, y_te = prepare_features(ds, cfg, "testing", 1, seed, progress)
    if len(x_te) == 0:
        x_te, y_te = x_va, y_va
    return KwsWork(cfg, x_tr, y_tr, x_va, y_va, x_te, y_te, desc)


def class_weights(y: np.ndarray, n_labels: int) -> dict[int, float]:
    """Loss weights that make every label count the same, as the keyword pipeline trains."""
    from ..pipelines.kws import balanced_class_weights

    return balanced_class_weights(y, n_labels)


def train_kws_model(model: Any, work: KwsWork, epochs: int, learning_rate: float = 0.003, patience: int = 6,
                    seed: int = 1234, progress: bool = False, desc: str = "training") -> Any:
    """Train (or fine-tune) a keyword model on the work's splits with balanced class weights."""
    from ..train import fit

    cfg = TrainConfig(epochs=epochs, learning_rate=learning_rate, patience=patience, seed=seed)
    return fit(model, work.x_train, work.y_train, work.x_val, work.y_val, cfg, progress=progress, desc=desc,
               class_weight=class_weights(work.y_train, len(work.labels)))


def int8_accuracy(tflite: bytes, x: np.ndarray, y: np.ndarray, labels: Sequence[str]) -> dict[str, Any]:
    """Accuracy, balanced accuracy and per-class recall of an int8 model on TFLM (LiteRT where TFLM is absent)."""
    from ..evaluate import score_runner
    from ..runtime import ModelRunner

    metrics, _ = score_runner(ModelRunner(tflite), x, y, labels)
    return metrics
