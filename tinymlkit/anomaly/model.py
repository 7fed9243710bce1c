"""The dense autoencoder of the MLPerf Tiny anomaly benchmark (Banbury et al., arXiv 2106.07597), scaled down.

It trains on standardised inputs (each filterbank channel minus its mean, divided by its spread,
both measured on the normal training clips), then the standardisation is folded into the first and
last dense layers (``fold_standardisation``), so the model that is saved, converted to int8 and put
on the board takes the front end's own values and gives back a reconstruction of those values: the
board computes nothing the model does not hold.

Why: the front end's values sit around 21-33 and differ from frame to frame by well under one
unit. On those raw values the network spent its whole training learning the mean (the output layer's
bias has to travel ~27 units at Adam's ~0.001 per step) and batch normalisation's moving averages,
which lag on a small set, made the inference-mode model worse still: AUC 0.44-0.60 where the same
network on standardised inputs scores 0.97.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .config import AutoencoderConfig

__all__ = ["build_autoencoder", "channel_standardisation", "fold_standardisation", "train_autoencoder_on"]


def _widths(cfg: AutoencoderConfig) -> list[int]:
    return [cfg.hidden_units] * cfg.hidden_layers + [cfg.bottleneck] + [cfg.hidden_units] * cfg.hidden_layers


def build_autoencoder(input_size: int, cfg: AutoencoderConfig = AutoencoderConfig()) -> Any:
    """Dense -> ReLU layers down to a small code and back up to ``input_size`` linear outputs.

    Only FULLY_CONNECTED ops once converted: cheap on a Cortex-M4 and in every TFLM build. No batch
    normalisation: on a small set of normal clips its moving averages lagged behind the weights and
    the inference-mode model reconstructed worse than the one being trained (AUC 0.90 with it, 0.97
    without, same data and epochs).
    """
    from ..tf_quiet import load_tensorflow
    load_tensorflow()
    import keras

    x = inp = keras.Input(shape=(input_size,), name="frames")
    for i, w in enumerate(_widths(cfg)):
        x = keras.layers.Dense(w, activation="relu", name=f"dense_{i}")(x)
    out = keras.layers.Dense(input_size, name="reconstruction")(x)
    return keras.Model(inp, out, name="anomaly_autoencoder")


def channel_standardisation(x: np.ndarray, channels: int, min_std: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and spread of model inputs (rows of frames x channels), repeated over the frames.

    Every frame of a window is the same kind of measurement, so each channel gets one mean and one
    standard deviation over all frames of all windows; ``min_std`` keeps a channel that never moves
    (silence, a band above the signal) from being divided by zero.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] % channels:
        raise ValueError(f"expected rows of frames x {channels} channels, got shape {x.shape}")
    per_channel = x.reshape(-1, channels)
    mean = per_channel.mean(axis=0)
    std = np.maximum(per_channel.std(axis=0), min_std)
    frames = x.shape[1] // channels
    return np.tile(mean, frames).astype(np.float32), np.tile(std, frames).astype(np.float32)


def fold_standardisation(model: Any, mean: np.ndarray, std: np.ndarray) -> Any:
    """The autoencoder trained on z = (x - mean) / std as one model from x to x's reconstruction.

    First layer: W z + b = (W / std) x + (b - (mean / std) W). Last layer: its output z' becomes
    z' * std + mean, so its weights are multiplied by std and mean is added to its bias. The new
    model has the same layers and names (so the same ops once converted).
    """
    from ..tf_quiet import load_tensorflow
    load_tensorflow()
    import keras

    mean = np.asarray(mean, dtype=np.float64)
    std = np.asarray(std, dtype=np.float64)
    folded = keras.models.clone_model(model)
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    new_dense = [layer for layer in folded.layers if isinstance(layer, keras.layers.Dense)]
    if len(dense) < 2:
        raise ValueError("fold_standardisation needs at least two dense layers (first and last)")
    for old, new in zip(dense, new_dense):
        new.set_weights(old.get_weights())
    w, b = (np.asarray(v, dtype=np.float64) for v in dense[0].get_weights())
    new_dense[0].set_weights([(w / std[:, None]).astype(np.float32), (b - (mean / std) @ w).astype(np.float32)])
    w, b = (np.asarray(v, dtype=np.float64) for v in dense[-1].get_weights())
    new_dense[-1].set_weights([(w * std[None, :]).astype(np.float32), (b * std + mean).astype(np.float32)])
    return folded


def train_autoencoder_on(x_fit: np.ndarray, cfg: AutoencoderConfig, channels: int,
                         x_hold: np.ndarray | None = None) -> tuple[Any, dict[str, list[float]]]:
    """Train the autoencoder on normal windows ``x_fit`` (front-end values), seeded by ``cfg.seed``.

    It trains on standardised inputs (each of the ``channels`` channels' mean and spread measured on
    ``x_fit``), then the standardisation is folded into the first and last layers: the returned model maps
    the front end's values to their reconstruction, so the board and every score need nothing outside it.
    ``x_hold`` (optional) gives ``val_loss`` per epoch in the returned history (standardised units).
    """
    from ..tf_quiet import drop_known_tf_noise, load_tensorflow
    from ..train import build_training_state, set_seed

    load_tensorflow()
    import keras

    set_seed(cfg.seed)
    mean, std = channel_standardisation(x_fit, channels)
    z_fit = (x_fit - mean) / std
    held = None if x_hold is None or not len(x_hold) else ((x_hold - mean) / std,) * 2
    core = build_autoencoder(x_fit.shape[1], cfg)
    core.compile(optimizer=keras.optimizers.Adam(learning_rate=cfg.learning_rate), loss="mse")
    build_training_state(core, z_fit, z_fit)
    with drop_known_tf_noise():
        hist = core.fit(z_fit, z_fit, batch_size=cfg.batch_size, epochs=cfg.epochs, shuffle=True,
                        validation_data=held, verbose=0)
    history = {k: [float(v) for v in vals] for k, vals in hist.history.items()}
    return fold_standardisation(core, mean, std), history
