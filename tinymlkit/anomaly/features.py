"""Log filterbank frames from the board's own front end, and the 5-frame vectors the autoencoder sees.

Frames come from TensorFlow's ``audio_microfrontend`` op (the TFLM frontend C library, which the
sketch runs on the board), with noise reduction and automatic gain switched off so the machine's
steady sound is kept. A vector is ``frames`` consecutive frames flattened, oldest first; a clip
gives one vector per frame step, as the sketch gets one per new frame.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..audio.features import frontend_to_float, frontend_to_int8, frontend_uint16
from ..audio.wav import read_wav
from ..config import AudioFrontendConfig, QuantParams
from ..errors import KitError

__all__ = ["clip_frames", "frame_windows", "clip_vectors", "clip_vectors_int8", "load_machine_clip",
           "frames_of_files"]


def clip_frames(clip: np.ndarray, audio: AudioFrontendConfig) -> np.ndarray:
    """The front end's uint16 frames (T x channels) of a whole clip, as the board computes them."""
    return frontend_uint16(clip, audio)


def frame_windows(frames: np.ndarray, n: int) -> np.ndarray:
    """Every run of ``n`` consecutive frames, flattened: (T - n + 1, n * channels)."""
    frames = np.asarray(frames)
    t = len(frames)
    if t < n:
        return np.zeros((0, n * frames.shape[1]), dtype=frames.dtype)
    idx = np.arange(n)[None, :] + np.arange(t - n + 1)[:, None]
    return frames[idx].reshape(t - n + 1, -1)


def clip_vectors(frames: np.ndarray, audio: AudioFrontendConfig, n: int) -> np.ndarray:
    """Float model inputs (the values training sees) of one clip's uint16 frames."""
    return frame_windows(frontend_to_float(frames, audio), n).astype(np.float32)


def clip_vectors_int8(frames: np.ndarray, audio: AudioFrontendConfig, n: int, qp: QuantParams) -> np.ndarray:
    """int8 model inputs of one clip's frames, by the rule the sketch runs (bit-exact with it)."""
    return frame_windows(frontend_to_int8(frames, qp, audio), n)


def load_machine_clip(path: str | os.PathLike[str], sample_rate: int) -> np.ndarray:
    """A machine recording as float samples (any length; stereo averaged, like the DCASE files' first use)."""
    x, _ = read_wav(path, sample_rate, allow_stereo=True)
    return x


def frames_of_files(paths: Sequence[str | os.PathLike[str]], audio: AudioFrontendConfig, min_frames: int,
                    progress: bool = False, desc: str = "front end") -> list[np.ndarray]:
    """uint16 frames of each file; a file too short for one model input is an error naming it."""
    it: Any = paths
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(paths, desc=desc, unit="clip", leave=False)
    out = []
    for p in it:
        f = clip_frames(load_machine_clip(p, audio.sample_rate), audio)
        if len(f) < min_frames:
            raise KitError(f"{p}: only {len(f)} frames ({audio.window_size_ms} ms windows every "
                           f"{audio.window_stride_ms} ms); one model input needs {min_frames}")
        out.append(f)
    return out
