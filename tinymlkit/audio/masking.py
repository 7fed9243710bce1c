"""Time and frequency masking of training features (SpecAugment).

Park et al. 2019 ("SpecAugment: A Simple Data Augmentation Method for Automatic Speech Recognition",
Interspeech) blank out a few random stretches of frames and a few random bands of filterbank channels
in each training example, so the model cannot lean on one moment or one band of a word. Here a masked
stretch takes the example's mean feature value (Park et al. fill with the mean of normalised features,
which is zero). Works on the micro features of ``audio.features`` (frames x channels); numpy only.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

__all__ = ["MaskConfig", "mask_features", "make_masker"]


@dataclasses.dataclass(frozen=True)
class MaskConfig:
    """How many stretches of a training example's features are masked, and how wide at most."""

    time_masks: int = 2
    """Stretches of frames masked per example; 0 turns time masking off."""
    time_width: int = 6
    """Widest time mask in frames (each draws a width from 0 to this; a frame is 20 ms)."""
    freq_masks: int = 2
    """Bands of filterbank channels masked per example; 0 turns frequency masking off."""
    freq_width: int = 6
    """Widest frequency mask in channels (each draws a width from 0 to this)."""
    probability: float = 1.0
    """Share of training examples that are masked at all."""

    def __post_init__(self) -> None:
        for name in ("time_masks", "time_width", "freq_masks", "freq_width"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 0:
                raise ValueError(f"MaskConfig.{name} = {v!r}: give a whole number, 0 or more")
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError(f"MaskConfig.probability = {self.probability!r}: give a share from 0 to 1")


def mask_features(features: np.ndarray, cfg: MaskConfig, rng: np.random.Generator) -> np.ndarray:
    """A copy of ``features`` (frames x channels) with random time and frequency stretches set to its mean.

    Each of ``cfg.time_masks`` masks draws a width ``w`` in [0, ``time_width``] (clipped to the frame count)
    and a start in [0, frames - w]; frequency masks likewise over channels. Masks may overlap.
    """
    x = np.array(features, dtype=np.float32, copy=True)
    if x.ndim != 2:
        raise ValueError(f"features must be frames x channels, got shape {x.shape}")
    if cfg.probability < 1.0 and rng.random() >= cfg.probability:
        return x
    fill = np.float32(x.mean()) if x.size else np.float32(0)
    for count, width, axis in ((cfg.time_masks, cfg.time_width, 0), (cfg.freq_masks, cfg.freq_width, 1)):
        n = x.shape[axis]
        for _ in range(count):
            w = int(rng.integers(0, min(width, n) + 1))
            start = int(rng.integers(0, n - w + 1))
            if axis == 0:
                x[start:start + w, :] = fill
            else:
                x[:, start:start + w] = fill
    return x


def make_masker(cfg: MaskConfig) -> Callable[[np.ndarray, int, np.random.Generator], np.ndarray]:
    """A feature hook for ``prepare_features(feature_augment=...)``: ``hook(features, label_index, rng)``."""

    def hook(features: np.ndarray, label: int, rng: np.random.Generator) -> np.ndarray:
        return mask_features(features, cfg, rng)

    return hook
