"""Training: Keras fit with early stopping on balanced accuracy, a decaying learning rate, a progress bar,
a fixed seed, a cap on TensorFlow's threads, and soft targets for distillation from a larger model."""
from __future__ import annotations

import dataclasses
import time
from typing import Any, Protocol

import numpy as np

from .config import TrainConfig
from .vision.int8_input import DEFAULT_NORMALIZATION, normalize

__all__ = ["TrainResult", "set_seed", "fit", "DistillConfig", "soft_targets", "build_training_state", "EpochProgress",
           "BalancedAccuracy", "limit_threads", "ImageSplits", "train_classifier"]


@dataclasses.dataclass
class TrainResult:
    """What a training run did."""

    history: dict[str, list[float]]
    """Per-epoch metrics as Keras reports them (loss, accuracy, val_loss, val_accuracy), plus
    val_balanced_accuracy when there is a validation set."""
    epochs_run: int
    """Epochs actually run (early stopping may end sooner than asked)."""
    best_epoch: int
    """1-based epoch whose weights were kept (best value of the monitored validation metric)."""
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


def limit_threads(threads: int | None) -> None:
    """Cap the threads TensorFlow uses for one op and across ops (None or 0 leaves its default).

    On a shared machine TensorFlow takes every core by default; the cap must be set before TensorFlow
    runs its first op, so call this first (``kws run --threads N`` does). A later call that cannot
    change the running setting is ignored.
    """
    if not threads:
        return
    import os

    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    from .tf_quiet import load_tensorflow
    tf = load_tensorflow()
    try:
        tf.config.threading.set_intra_op_parallelism_threads(int(threads))
        tf.config.threading.set_inter_op_parallelism_threads(int(threads))
    except RuntimeError:  # TensorFlow already started: its pools cannot be resized any more
        pass


def _balanced_accuracy_class() -> type:
    from .tf_quiet import load_tensorflow
    load_tensorflow()
    import keras

    class _BalancedAccuracy(keras.callbacks.Callback):
        """Adds ``val_balanced_accuracy`` (mean recall over the classes present) to each epoch's logs; with
        ``loss_and_accuracy`` also ``val_loss`` (sparse categorical cross-entropy of the predicted
        probabilities, clipped as Keras clips them) and ``val_accuracy``, from the same predictions."""

        def __init__(self, x_val: np.ndarray, y_val: np.ndarray, batch_size: int = 256,
                     loss_and_accuracy: bool = False) -> None:
            super().__init__()
            self.x_val, self.y_val, self.batch_size = x_val, np.asarray(y_val, dtype=int), batch_size
            self.loss_and_accuracy = loss_and_accuracy

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            if logs is None:
                return
            probs = np.asarray(self.model.predict(self.x_val, verbose=0, batch_size=self.batch_size), dtype=np.float64)
            pred = np.argmax(probs, axis=1)
            recalls = [float(np.mean(pred[self.y_val == c] == c)) for c in np.unique(self.y_val)]
            logs["val_balanced_accuracy"] = float(np.mean(recalls)) if recalls else 0.0
            if self.loss_and_accuracy:
                eps = 1e-7  # keras.config.epsilon(), Keras' clip for probabilities
                p = probs / probs.sum(axis=1, keepdims=True)
                picked = np.clip(p[np.arange(len(self.y_val)), self.y_val], eps, 1.0 - eps)
                logs["val_loss"] = float(np.mean(-np.log(picked)))
                logs["val_accuracy"] = float(np.mean(pred == self.y_val))

    return _BalancedAccuracy


def BalancedAccuracy(x_val: np.ndarray, y_val: np.ndarray, batch_size: int = 256,  # noqa: N802
                     loss_and_accuracy: bool = False) -> Any:
    """A Keras callback that puts the validation set's balanced accuracy into the logs as val_balanced_accuracy
    (and, with ``loss_and_accuracy``, val_loss and val_accuracy computed from the same predictions)."""
    return _balanced_accuracy_class()(x_val, y_val, batch_size, loss_and_accuracy)


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
                                  if k in ("loss", "accuracy", "val_accuracy", "val_balanced_accuracy")})
            self.bar.update(1)

        def on_train_end(self, logs: Any = None) -> None:
            if self.bar is not None:
                self.bar.close()

    return _EpochProgress


def EpochProgress(epochs: int, desc: str = "training") -> Any:  # noqa: N802 - reads like a class
    """A Keras callback that shows one progress bar over the epochs."""
    return _epoch_progress_class()(epochs, desc)


def build_training_state(model: Any, x_sample: Any, y_sample: Any) -> None:
    """Create a compiled model's optimizer and metric variables before ``model.fit`` traces its train step.

    Keras 3 on TensorFlow creates them inside the first trace of the train step, and a ``tf.function`` that
    creates variables while tracing is traced a second time. Built here, the step is traced once. The first
    ``fit`` of two epochs (benchmarks/bench_train_trace.py, medians, 2 cores under load 3-4): a small DS-CNN
    29 s -> 18 s, MobileNetV1 0.25 at 96x96 85 s -> 56 s. ``x_sample``/``y_sample``: training examples
    (arrays); other input structures only get the optimizer built.
    """
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        return
    if not optimizer.built:
        optimizer.build(model.trainable_variables)
    if isinstance(x_sample, np.ndarray) and isinstance(y_sample, np.ndarray) and len(x_sample) and len(y_sample):
        xb, yb = x_sample[:1], y_sample[:1]
        model.compute_metrics(xb, yb, model(xb, training=False), sample_weight=None)
        model.reset_metrics()


@dataclasses.dataclass(frozen=True)
class DistillConfig:
    """How a student model learns from a teacher's probabilities (see ``soft_targets``)."""

    alpha: float = 0.5
    """Weight of the true label in each target; the teacher's softened probabilities get 1 - alpha."""
    temperature: float = 2.0
    """Softening of the teacher's probabilities (1 keeps them; higher brings the classes closer)."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"DistillConfig.alpha = {self.alpha!r}: give a weight from 0 to 1")
        if not self.temperature > 0:
            raise ValueError(f"DistillConfig.temperature = {self.temperature!r}: give a positive number")


def soft_targets(y: np.ndarray, teacher_probs: np.ndarray, alpha: float = 0.5,
                 temperature: float = 2.0) -> np.ndarray:
    """Distillation targets: the true label with weight ``alpha``, a teacher's softened probabilities with the rest.

    Hinton et al. 2015 ("Distilling the Knowledge in a Neural Network", arXiv:1503.02531) train a small
    model on a large one's probabilities raised to a temperature T, which keeps what the large model
    knows about which wrong classes are close (a "no" that sounds a little like "go"). Here the
    temperature softens the teacher's probabilities only (p ** (1/T), renormalised: the softmax of its
    logits / T); the student keeps its ordinary softmax and is trained with cross-entropy on these
    targets (``fit`` takes them as a (N, classes) ``y_train``). ``alpha=1`` gives one-hot labels back.
    """
    y = np.asarray(y, dtype=int)
    p = np.asarray(teacher_probs, dtype=np.float64)
    if p.ndim != 2 or len(p) != len(y):
        raise ValueError(f"teacher probabilities {p.shape} do not match {len(y)} labels")
    if not 0.0 <= alpha <= 1.0 or temperature <= 0:
        raise ValueError(f"alpha {alpha} must be in [0, 1] and temperature {temperature} positive")
    soft = np.exp(np.log(np.clip(p, 1e-12, 1.0)) / temperature)
    soft /= soft.sum(axis=1, keepdims=True)
    onehot = np.eye(p.shape[1])[y]
    return (alpha * onehot + (1.0 - alpha) * soft).astype(np.float32)


def fit(model: Any, x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray, y_val: np.ndarray,
        cfg: TrainConfig = TrainConfig(), progress: bool = True, desc: str = "training",
        class_weight: dict[int, float] | None = None, callbacks: list[Any] | None = None,
        monitor: str = "val_balanced_accuracy", compile_model: bool = True) -> TrainResult:
    """Compile and train a classifier on integer labels; keeps the weights of the best validation epoch.

    The best epoch is the one with the highest ``monitor``: balanced accuracy by default, because plain
    accuracy keeps an epoch that sacrifices a small class (measured: an epoch with "no" recall 0.46
    won on val_accuracy). ``compile_model=False`` keeps a model's own compile settings. ``y_train`` may be
    integer labels or (N, classes) target probabilities (``soft_targets``; class weights then go by each
    row's largest target); validation labels are integers.
    """
    from .tf_quiet import load_tensorflow
    load_tensorflow()
    import keras

    set_seed(cfg.seed)
    steps = max(1, int(np.ceil(len(x_train) / cfg.batch_size))) * max(1, cfg.epochs)
    if compile_model:
        schedule = keras.optimizers.schedules.CosineDecay(cfg.learning_rate, decay_steps=steps, alpha=0.05)
        # Keras 3: pass compile arguments by keyword (the third positional is loss_weights).
        soft = np.ndim(y_train) == 2
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=schedule),
                      loss="categorical_crossentropy" if soft else "sparse_categorical_crossentropy",
                      metrics=[keras.metrics.CategoricalAccuracy(name="accuracy") if soft else "accuracy"])
    has_val = len(x_val) > 0
    # With the kit's own loss, one prediction per epoch gives val_loss, val_accuracy and the balanced accuracy,
    # and Keras neither evaluates the validation set a second time nor traces a test step.
    own_val = has_val and compile_model
    callbacks = list(callbacks or [])
    if has_val:
        if own_val or monitor == "val_balanced_accuracy":
            # Before EarlyStopping: callbacks share one logs dict, in list order.
            callbacks.append(BalancedAccuracy(x_val, y_val, loss_and_accuracy=own_val))
        callbacks.append(keras.callbacks.EarlyStopping(monitor=monitor, patience=cfg.patience,
                                                       restore_best_weights=True,
                                                       mode="min" if monitor.endswith("loss") else "max"))
    if progress:
        callbacks.append(EpochProgress(cfg.epochs, desc))
    t0 = time.perf_counter()
    build_training_state(model, np.asarray(x_train), np.asarray(y_train))
    from .tf_quiet import drop_known_tf_noise

    with drop_known_tf_noise():
        hist = model.fit(x_train, y_train, batch_size=cfg.batch_size, epochs=cfg.epochs,
                         validation_data=(x_val, y_val) if has_val and not own_val else None, shuffle=True,
                         callbacks=callbacks, verbose=0, class_weight=class_weight)
    seconds = time.perf_counter() - t0
    h = {k: [float(v) for v in vals] for k, vals in hist.history.items()}
    if has_val and monitor in h:
        scores = np.asarray(h[monitor])
        best = int(np.argmin(scores) if monitor.endswith("loss") else np.argmax(scores)) + 1
    else:
        best = len(h["loss"])
    return TrainResult(history=h, epochs_run=len(h["loss"]), best_epoch=best, seconds=seconds)


class ImageSplits(Protocol):
    """What ``train_classifier`` trains on (``pipelines.vww.VwwData`` is one): uint8 pixels and labels."""

    @property
    def train(self) -> tuple[np.ndarray, np.ndarray]:
        """(x uint8 (N, H, W, C), y int) to learn from."""

    @property
    def validation(self) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) to pick the epoch on."""


def train_classifier(model: Any, data: ImageSplits, cfg: TrainConfig, transfer: bool, head_epochs: int | None = None,
                     progress: bool = True, normalization: str = DEFAULT_NORMALIZATION,
                     frozen_batchnorm: bool = False) -> dict[str, Any]:
    """Train an image classifier; with ``transfer`` the base is frozen for the first epochs, then fine-tuned.

    ``data`` holds uint8 pixels (``data.train``, ``data.validation``: (x, y)), normalised here with
    ``normalization`` (the config's; the kit's default is pixel / 127.5 - 1).

    ``frozen_batchnorm`` keeps the base's batch norms in inference mode while fine-tuning (a base loaded
    from a folded int8 model has no batch statistics to update). Returns the history of all epochs
    (both phases joined) and the seconds spent.
    """
    from .models.mobilenet import set_base_trainable
    from .models.person_detect_base import freeze_batchnorm

    x_tr, y_tr = normalize(data.train[0], normalization), data.train[1]
    x_va, y_va = normalize(data.validation[0], normalization), data.validation[1]
    phases: list[tuple[str, TrainConfig, bool]] = []
    if transfer and cfg.epochs >= 2:
        n_head = head_epochs if head_epochs is not None else max(1, cfg.epochs // 4)
        n_head = min(n_head, cfg.epochs - 1)
        phases.append(("head (base frozen)", dataclasses.replace(cfg, epochs=n_head), False))
        # Fine-tuning: a tenth of the learning rate, so the pretrained features are adjusted, not erased.
        phases.append(("fine-tune", dataclasses.replace(cfg, epochs=cfg.epochs - n_head,
                                                        learning_rate=cfg.learning_rate / 10), True))
    else:
        phases.append(("all layers", cfg, True))
    history: dict[str, list[float]] = {}
    seconds = 0.0
    phase_epochs = []
    for name, pcfg, trainable in phases:
        set_base_trainable(model, trainable)
        if trainable and frozen_batchnorm:
            freeze_batchnorm(model)
        r = fit(model, x_tr, y_tr, x_va, y_va, pcfg, progress=progress, desc=f"MobileNet: {name}")
        for k, v in r.history.items():
            history.setdefault(k, []).extend(v)
        seconds += r.seconds
        phase_epochs.append({"phase": name, "epochs_run": r.epochs_run, "best_epoch": r.best_epoch,
                             "seconds": round(r.seconds, 2)})
    set_base_trainable(model, True)
    if frozen_batchnorm:
        freeze_batchnorm(model)
    return {"history": history, "seconds": seconds, "phases": phase_epochs, "epochs_run": len(history["loss"])}
