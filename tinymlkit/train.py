"""Training: Keras fit with early stopping, a decaying learning rate, a progress bar, and a fixed seed."""
from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np

from .config import TrainConfig

__all__ = ["TrainResult", "set_seed", "fit", "EpochProgress"]


@dataclasses.dataclass
class TrainResult:
    """What a training run did."""

    history: dict[str, list[float]]
    """Per-epoch metrics as Keras reports them (loss, accuracy, val_loss, val_accuracy)."""
    epochs_run: int
    """Epochs actually run (early stopping may end sooner than asked)."""
    best_epoch: int
    """1-based epoch whose weights were kept (best validation accuracy)."""
    seconds: float
    """Wall time of ``fit``."""


def set_seed(seed: int) -> None:
    """Make weights, shuffling and TensorFlow ops repeatable for one seed."""
    from .tf_quiet import load_tensorflow
    load_tensorflow()
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    try:
        tf.config.experimental.enable_op_determinism()
    except Exception:  # already set, or an older TensorFlow
        pass


def _epoch_progress_class() -> type:
    from .tf_quiet import load_tensorflow
    load_tensorflow()
    import keras

    class _EpochProgress(keras.callbacks.Callback):
        """A tqdm bar with one step per epoch, showing loss and accuracy (quieter than Keras' own)."""

        def __init__(self, epochs: int, desc: str = "training") -> None:
            super().__init__()
            self.epochs, self.desc, self.bar = epochs, desc, None

        def on_train_begin(self, logs: Any = None) -> None:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=self.epochs, desc=self.desc, unit="epoch")

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            logs = logs or {}
            self.bar.set_postfix({k: f"{v:.3f}" for k, v in logs.items()
                                  if k in ("loss", "accuracy", "val_accuracy")})
            self.bar.update(1)

        def on_train_end(self, logs: Any = None) -> None:
            if self.bar is not None:
                self.bar.close()

    return _EpochProgress


def EpochProgress(epochs: int, desc: str = "training") -> Any:  # noqa: N802 - reads like a class
    """A Keras callback that shows one progress bar over the epochs."""
    return _epoch_progress_class()(epochs, desc)


def fit(model: Any, x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray, y_val: np.ndarray,
        cfg: TrainConfig = TrainConfig(), progress: bool = True, desc: str = "training",
        class_weight: dict[int, float] | None = None, callbacks: list[Any] | None = None) -> TrainResult:
    """Compile and train a classifier on integer labels; keeps the weights of the best validation epoch."""
    from .tf_quiet import load_tensorflow
    load_tensorflow()
    import keras

    set_seed(cfg.seed)
    steps = max(1, int(np.ceil(len(x_train) / cfg.batch_size))) * max(1, cfg.epochs)
    schedule = keras.optimizers.schedules.CosineDecay(cfg.learning_rate, decay_steps=steps, alpha=0.05)
    # Keras 3: pass compile arguments by keyword (the third positional is loss_weights).
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=schedule),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    has_val = len(x_val) > 0
    callbacks = list(callbacks or [])
    if has_val:
        callbacks.append(keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=cfg.patience,
                                                       restore_best_weights=True, mode="max"))
    if progress:
        callbacks.append(EpochProgress(cfg.epochs, desc))
    t0 = time.perf_counter()
    from .tf_quiet import drop_known_tf_noise

    with drop_known_tf_noise():
        hist = model.fit(x_train, y_train, batch_size=cfg.batch_size, epochs=cfg.epochs,
                         validation_data=(x_val, y_val) if has_val else None, shuffle=True,
                         callbacks=callbacks, verbose=0, class_weight=class_weight)
    seconds = time.perf_counter() - t0
    h = {k: [float(v) for v in vals] for k, vals in hist.history.items()}
    best = int(np.argmax(h["val_accuracy"])) + 1 if has_val else len(h["loss"])
    return TrainResult(history=h, epochs_run=len(h["loss"]), best_epoch=best, seconds=seconds)
