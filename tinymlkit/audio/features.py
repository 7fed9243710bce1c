"""Audio features: the board's micro features, their int8 form, and librosa log-mel/MFCC for the lessons.

Micro features come from TensorFlow's ``audio_microfrontend`` op, which wraps the same C frontend
library that TFLM's micro_speech example runs on the board; training on them is what makes the board
see what the notebook saw.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from ..config import AudioFrontendConfig, ConfigError, QuantParams, frontend_op_args

__all__ = [
    "frontend_uint16",
    "micro_features",
    "micro_features_batch",
    "frontend_to_float",
    "frontend_to_int8",
    "log_mel",
    "mfcc",
]


def _to_int16(clip: np.ndarray) -> np.ndarray:
    clip = np.asarray(clip)
    if clip.dtype == np.int16:
        return clip
    # The board's PDM driver gives int16 samples; float clips are scaled back the way wav.py read them.
    return np.clip(np.round(clip.astype(np.float64) * 32768.0), -32768, 32767).astype(np.int16)


def frontend_uint16(clip: np.ndarray, cfg: AudioFrontendConfig = AudioFrontendConfig()) -> np.ndarray:
    """The frontend's raw uint16 output (frames x channels) for one clip, exactly as the board gets it."""
    from ..tf_quiet import load_tensorflow
    load_tensorflow()
    import tensorflow as tf
    from tensorflow.lite.experimental.microfrontend.python.ops import audio_microfrontend_op as frontend_op

    if not isinstance(cfg, AudioFrontendConfig):
        raise ConfigError(f"expected an AudioFrontendConfig, got {type(cfg).__name__}")
    if np.ndim(clip) != 1:
        raise ValueError(f"a clip is one channel of samples (1-D), got shape {np.shape(clip)}")
    # Configs are range-checked when made (config.py), so no value here can crash the C frontend;
    # the arguments come from the one table that also writes the sketch's KitFillFrontendConfig().
    out = frontend_op.audio_microfrontend(
        tf.constant(_to_int16(clip)),
        **frontend_op_args(cfg),
        out_scale=1,
        out_type=tf.uint16,
    )
    return out.numpy()


def frontend_to_float(v: np.ndarray, cfg: AudioFrontendConfig = AudioFrontendConfig()) -> np.ndarray:
    """uint16 frontend output to the float features models train on (x 10/256, exact in float32)."""
    return (np.asarray(v, dtype=np.float32) * np.float32(cfg.feature_scale_numerator)
            / np.float32(cfg.feature_scale_denominator))


def frontend_to_int8(v: np.ndarray, qp: QuantParams, cfg: AudioFrontendConfig = AudioFrontendConfig()) -> np.ndarray:
    """uint16 frontend output straight to the model's int8 input, the rule the sketch runs.

    q = floor((v * num / den) / scale + 0.5) + zero_point, saturated to int8, computed in double
    precision: ``runtime.quantize`` (the one rounding rule) applied to v * num / den. The generated
    C++ does the same operations in the same order, so the two agree bit for bit.
    """
    from ..runtime import quantize

    return quantize(np.asarray(v, dtype=np.float64) * cfg.feature_scale_numerator / cfg.feature_scale_denominator, qp)


def micro_features(clip: np.ndarray, cfg: AudioFrontendConfig = AudioFrontendConfig()) -> np.ndarray:
    """Float micro features (frames x channels, 49x40 by default) of one clip."""
    feats = frontend_to_float(frontend_uint16(clip, cfg), cfg)
    if feats.shape != cfg.feature_shape:  # a short clip gives fewer frames: pad like silence
        out = np.zeros(cfg.feature_shape, dtype=np.float32)
        n = min(len(feats), cfg.num_frames)
        out[:n] = feats[:n]
        feats = out
    return feats


def micro_features_batch(clips: Iterable[np.ndarray], cfg: AudioFrontendConfig = AudioFrontendConfig(),
                         progress: bool = False, desc: str = "micro features", total: int | None = None) -> np.ndarray:
    """Micro features of many clips, (N, frames, channels) float32, with an optional progress bar."""
    it: Any = clips
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(clips, desc=desc, unit="clip", total=total, leave=False)
    out = [micro_features(c, cfg) for c in it]
    if not out:
        return np.zeros((0, *cfg.feature_shape), dtype=np.float32)
    return np.stack(out)


def log_mel(clip: np.ndarray, cfg: AudioFrontendConfig = AudioFrontendConfig(), n_mels: int | None = None) -> np.ndarray:
    """Log-mel energies (frames x mels) with librosa, framed like the micro features, in dB."""
    import librosa

    n_fft = 1 << int(np.ceil(np.log2(cfg.window_samples)))
    mel = librosa.feature.melspectrogram(
        y=np.asarray(clip, dtype=np.float32), sr=cfg.sample_rate, n_fft=n_fft, win_length=cfg.window_samples,
        hop_length=cfg.stride_samples, center=False, n_mels=n_mels or cfg.feature_bins,
        fmin=cfg.lower_band_limit, fmax=cfg.upper_band_limit, power=2.0)
    return librosa.power_to_db(mel, ref=1.0, top_db=None).T.astype(np.float32)


def mfcc(clip: np.ndarray, cfg: AudioFrontendConfig = AudioFrontendConfig(), n_mfcc: int = 10) -> np.ndarray:
    """MFCCs (frames x n_mfcc) with librosa from the same log-mel energies."""
    import librosa

    lm = log_mel(clip, cfg)
    return librosa.feature.mfcc(S=lm.T, n_mfcc=n_mfcc).T.astype(np.float32)
