"""Recording conditions of a clip that can be computed from its samples alone: level, noise floor, SNR, clipping.

Speech Commands carries no speaker descriptions, so a bias check groups clips by what the samples
show: how loud the speech is, how loud the background between the words is, and whether the
recording clipped. ``bucket`` turns a value into a named range, so scores can be reported per group.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

__all__ = ["ClipConditions", "clip_conditions", "bucket", "bucket_names", "LEVEL_EDGES", "SNR_EDGES"]

LEVEL_EDGES = (-40.0, -30.0, -20.0)
"""Speech-level ranges (dBFS) the reports use: below -40, -40 to -30, -30 to -20, -20 and above."""
SNR_EDGES = (10.0, 20.0, 30.0)
"""Estimated-SNR ranges (dB) the reports use: below 10, 10 to 20, 20 to 30, 30 and above."""


@dataclasses.dataclass(frozen=True)
class ClipConditions:
    """What one clip's samples say about how it was recorded."""

    speech_level_dbfs: float
    """Level of the loudest frames (the 90th percentile of 20 ms frame energies), in dB below full scale."""
    noise_floor_dbfs: float
    """Level of the quietest frames (the 10th percentile of frame energies): the background between words.
    Frames of exact zeros (padding of a recording shorter than the clip) are left out: they are not background."""
    snr_db: float
    """Estimated signal-to-noise ratio: speech level minus noise floor. A 1-s clip with a word in it has
    both speech and pauses, so this is a fair guess; a clip that is all speech or all noise reads low."""
    clipped_fraction: float
    """Share of samples at or beyond 99.9 % of full scale (the microphone or its gain clipped)."""


def _db(power: np.ndarray | float) -> np.ndarray | float:
    return 10.0 * np.log10(np.maximum(power, 1e-12))


def clip_conditions(clip: np.ndarray, sample_rate: int = 16000, frame_ms: int = 20) -> ClipConditions:
    """Level, noise floor, estimated SNR and clipping of one clip (float samples in -1..1)."""
    x = np.asarray(clip, dtype=np.float64)
    if x.ndim != 1 or not len(x):
        raise ValueError(f"a clip is one channel of samples (1-D, not empty), got shape {np.shape(clip)}")
    n = max(1, sample_rate * frame_ms // 1000)
    frames = x[: len(x) // n * n].reshape(-1, n) if len(x) >= n else x[None, :]
    energy = np.mean(frames ** 2, axis=1)
    if np.any(energy > 0):  # frames of exact zeros are padding (a short recording made up to 1 s), not background
        energy = energy[energy > 0]
    speech, noise = float(_db(np.percentile(energy, 90))), float(_db(np.percentile(energy, 10)))
    return ClipConditions(round(speech, 2), round(noise, 2), round(speech - noise, 2),
                          float(np.mean(np.abs(x) >= 0.999)))


def bucket_names(edges: Sequence[float], unit: str) -> list[str]:
    """The names of the ranges sorted ``edges`` make, lowest first: '< -40 dBFS', '-40..-30 dBFS', ..., '>= -20 dBFS'."""
    edges = list(edges)
    if not edges or edges != sorted(edges):
        raise ValueError(f"edges must be a non-empty ascending list, got {edges}")
    return ([f"< {edges[0]:g} {unit}"] + [f"{lo:g}..{hi:g} {unit}" for lo, hi in zip(edges, edges[1:])]
            + [f">= {edges[-1]:g} {unit}"])


def bucket(value: float, edges: Sequence[float], unit: str) -> str:
    """The named range (one of :func:`bucket_names`) that ``value`` falls in among sorted ``edges``."""
    names = bucket_names(edges, unit)
    return names[int(np.searchsorted(np.asarray(list(edges), dtype=float), value, side="right"))]
