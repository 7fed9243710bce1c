"""Clip augmentation (background noise at a volume, time shift) and loudest-second extraction."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..config import KwsTaskConfig

__all__ = ["mix_background", "mix_at_snr", "time_shift", "random_noise_segment", "augment_clip", "loudest_window"]


def mix_background(clip: np.ndarray, noise: np.ndarray, volume: float) -> np.ndarray:
    """Add ``noise`` scaled by ``volume`` (0..1 of full scale, as TF's speech commands does), clipped to [-1, 1]."""
    clip = np.asarray(clip, dtype=np.float32)
    noise = np.asarray(noise, dtype=np.float32)
    if noise.shape != clip.shape:
        raise ValueError(f"noise has {noise.shape} samples, the clip {clip.shape}")
    return np.clip(clip + np.float32(volume) * noise, -1.0, 1.0).astype(np.float32)


def mix_at_snr(clip: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """Add noise scaled to a signal-to-noise ratio in dB (by RMS), clipped to [-1, 1]."""
    clip = np.asarray(clip, dtype=np.float32)
    noise = np.asarray(noise, dtype=np.float32)
    ps = float(np.mean(clip.astype(np.float64) ** 2))
    pn = float(np.mean(noise.astype(np.float64) ** 2))
    if pn == 0.0 or ps == 0.0:
        return clip.copy()
    gain = np.sqrt(ps / (pn * 10 ** (snr_db / 10.0)))
    return np.clip(clip + gain * noise, -1.0, 1.0).astype(np.float32)


def time_shift(clip: np.ndarray, shift: int) -> np.ndarray:
    """Shift right (positive) or left (negative) by ``shift`` samples, filling with zeros."""
    clip = np.asarray(clip, dtype=np.float32)
    out = np.zeros_like(clip)
    if shift >= 0:
        out[shift:] = clip[: len(clip) - shift] if shift < len(clip) else []
    else:
        out[:shift] = clip[-shift:]
    return out


def random_noise_segment(noise: np.ndarray, length: int, rng: np.random.Generator) -> np.ndarray:
    """A random ``length``-sample window of a longer noise recording (tiled if it is shorter)."""
    noise = np.asarray(noise, dtype=np.float32)
    if len(noise) < length:
        noise = np.tile(noise, int(np.ceil(length / max(len(noise), 1))) + 1)
    start = int(rng.integers(0, len(noise) - length + 1))
    return noise[start:start + length]


def augment_clip(clip: np.ndarray, is_silence: bool, background: Sequence[np.ndarray], task: KwsTaskConfig,
                 rng: np.random.Generator, sample_rate: int, train: bool) -> np.ndarray:
    """One clip as the keyword task's training sees it: a random time shift, then background noise.

    Training clips of words are shifted by up to ``task.time_shift_ms`` and, with probability
    ``task.background_frequency``, get a random stretch of a ``background`` recording at a volume up to
    ``task.background_volume``. A silence clip (of any split) is a stretch of background noise alone, at
    any volume up to full. Validation and test clips of words are returned unchanged.
    """
    n = len(clip)
    if train and not is_silence and task.time_shift_ms > 0:
        limit = task.time_shift_ms * sample_rate // 1000
        clip = time_shift(clip, int(rng.integers(-limit, limit + 1)))
    if background and (is_silence or (train and rng.random() < task.background_frequency)):
        noise = random_noise_segment(background[int(rng.integers(len(background)))], n, rng)
        volume = rng.uniform(0, 1.0 if is_silence else task.background_volume)
        clip = mix_background(clip, noise, volume)
    return clip


def loudest_window(x: np.ndarray, length: int, step: int = 160) -> tuple[np.ndarray, int]:
    """The ``length``-sample window with the most energy (searched every ``step`` samples) and its start.

    A learner's recording of a keyword is usually longer than a second; this finds the second that
    holds the word. Shorter recordings are padded at the end.
    """
    x = np.asarray(x, dtype=np.float32)
    if len(x) <= length:
        return np.pad(x, (0, length - len(x))), 0
    energy = np.concatenate([[0.0], np.cumsum(x.astype(np.float64) ** 2)])
    starts = np.arange(0, len(x) - length + 1, step)
    sums = energy[starts + length] - energy[starts]
    best = int(starts[int(np.argmax(sums))])
    return x[best:best + length].copy(), best
