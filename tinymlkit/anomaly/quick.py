"""A small synthetic machine-sound set made in memory, and an autoencoder trained on it in seconds (lab 8).

The clips come from the same generator as ``tinymlkit data machine-sounds`` (``machine_clip``: same
machines for the same ``MachineSoundConfig``), but nothing is written to disk: a notebook on Colab
gets its clips without a dataset folder. Clip numbers pick the clips, so another range of numbers
gives fresh clips of the same machines (held-out data a model never saw).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..config import AudioFrontendConfig
from ..data.machine_sounds import MachineSoundConfig, machine_clip, nth_fault
from .config import ANOMALY_AUDIO, AutoencoderConfig
from .features import clip_frames, clip_vectors

__all__ = ["LabClips", "synthetic_clip_frames", "windows_of", "train_autoencoder"]


@dataclasses.dataclass(frozen=True)
class LabClips:
    """Front-end frames of a set of synthetic clips, with their labels."""

    frames: tuple[np.ndarray, ...]
    """uint16 frames (T x channels) of each clip, as the board's front end computes them."""
    labels: np.ndarray
    """1 for a faulty clip, 0 for a normal one."""
    machine_ids: np.ndarray
    """Which machine of the type each clip comes from."""


def synthetic_clip_frames(cfg: MachineSoundConfig, normal_per_id: int, faulty_per_id: int, first_clip: int = 0,
                          audio: AudioFrontendConfig = ANOMALY_AUDIO) -> LabClips:
    """Frames of ``normal_per_id`` normal and ``faulty_per_id`` faulty clips of every machine of ``cfg``.

    Clips are numbered from ``first_clip`` on (normal ones first, then faulty ones); faults and
    strengths as ``nth_fault`` picks them. Sets whose number ranges do not overlap share no clip.
    """
    if normal_per_id < 0 or faulty_per_id < 0 or normal_per_id + faulty_per_id == 0:
        raise ValueError("ask for at least one clip (normal_per_id, faulty_per_id >= 0)")
    frames: list[np.ndarray] = []
    labels: list[int] = []
    ids: list[int] = []
    for mid in range(cfg.machine_ids):
        sev = np.random.default_rng([cfg.seed, 7, mid, first_clip])
        for j in range(normal_per_id + faulty_per_id):
            faulty = j >= normal_per_id
            fault, severity = nth_fault(cfg, j - normal_per_id, sev) if faulty else (None, 0.0)
            frames.append(clip_frames(machine_clip(cfg, mid, first_clip + j, fault, severity), audio))
            labels.append(int(faulty))
            ids.append(mid)
    return LabClips(tuple(frames), np.array(labels, dtype=np.int64), np.array(ids, dtype=np.int64))


def windows_of(frames: Sequence[np.ndarray], audio: AudioFrontendConfig = ANOMALY_AUDIO,
               n: int = 5) -> list[np.ndarray]:
    """Each clip's float model inputs: one row of ``n`` frames x channels per frame step."""
    return [clip_vectors(f, audio, n) for f in frames]


def train_autoencoder(train_frames: Sequence[np.ndarray], cfg: AutoencoderConfig,
                      audio: AudioFrontendConfig = ANOMALY_AUDIO) -> tuple[Any, np.ndarray]:
    """The kit's autoencoder trained on normal clips' frames, standardisation folded in (as ``run_anomaly``).

    Returns the Keras model (front-end values in, their reconstruction out) and the training inputs (for the
    int8 converter's representative set). Seeded by ``cfg.seed``; no validation split (``cfg.epochs`` epochs).
    """
    from .model import train_autoencoder_on

    x = np.concatenate(windows_of(train_frames, audio, cfg.frames))
    model, _ = train_autoencoder_on(x, cfg, audio.feature_bins)
    return model, x
