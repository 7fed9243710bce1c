"""Voice and room perturbations for training clips: speed, pitch, vocal-tract length, reverberation.

A keyword model that heard few speakers fails on new ones; these make one recording sound like
several. Speed perturbation resamples the clip (tempo and pitch move together), the recipe of Ko et al.
2015 ("Audio augmentation for speech recognition", Interspeech). Vocal-tract length perturbation
warps the frequency axis of the short-time spectrum (Jaitly and Hinton 2013, "Vocal Tract Length
Perturbation (VTLP) improves speech recognition"), applied like them on the filterbank features.
Reverberation convolves the clip with a made room
impulse response: exponentially decaying noise whose decay time is the room's RT60 (the decay model
of Sabine's reverberation time). Everything is numpy; clips are float32 in [-1, 1].
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

__all__ = ["change_speed", "shift_pitch", "warp_vocal_tract", "room_impulse_response", "reverberate",
           "PerturbConfig", "perturb_clip", "perturb_features", "make_perturber", "make_feature_perturber"]


def _fit(x: np.ndarray, n: int) -> np.ndarray:
    """Centre-crop or zero-pad to ``n`` samples, keeping the word in the middle where it was."""
    if len(x) == n:
        return x.astype(np.float32)
    if len(x) > n:
        start = (len(x) - n) // 2
        return x[start:start + n].astype(np.float32)
    out = np.zeros(n, dtype=np.float32)
    start = (n - len(x)) // 2
    out[start:start + len(x)] = x
    return out


def _stretch_samples(x: np.ndarray, factor: float) -> np.ndarray:
    """Read ``x`` at ``factor`` times its rate by linear interpolation (factor > 1 is shorter)."""
    n_out = max(1, int(round(len(x) / factor)))
    pos = np.arange(n_out, dtype=np.float64) * factor
    return np.interp(pos, np.arange(len(x), dtype=np.float64), x.astype(np.float64)).astype(np.float32)


def change_speed(clip: np.ndarray, factor: float, keep_length: bool = True) -> np.ndarray:
    """Play the clip ``factor`` times faster (1.1 = 10 % faster and higher); same length when ``keep_length``."""
    if factor <= 0:
        raise ValueError(f"speed factor must be positive, got {factor}")
    clip = np.asarray(clip, dtype=np.float32)
    y = _stretch_samples(clip, factor)
    return _fit(y, len(clip)) if keep_length else y


def _stft(x: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    win = np.hanning(n_fft).astype(np.float64)
    pad = np.pad(x.astype(np.float64), (n_fft // 2, n_fft // 2 + n_fft))
    n_frames = 1 + (len(pad) - n_fft) // hop
    idx = np.arange(n_fft)[None, :] + hop * np.arange(n_frames)[:, None]
    return np.fft.rfft(pad[idx] * win, axis=1)


def _istft(spec: np.ndarray, n_fft: int, hop: int, length: int) -> np.ndarray:
    win = np.hanning(n_fft)
    frames = np.fft.irfft(spec, n=n_fft, axis=1) * win
    total = hop * (len(frames) - 1) + n_fft
    out = np.zeros(total)
    norm = np.zeros(total)
    for i, f in enumerate(frames):
        out[i * hop:i * hop + n_fft] += f
        norm[i * hop:i * hop + n_fft] += win ** 2
    out /= np.maximum(norm, 1e-8)
    return out[n_fft // 2:n_fft // 2 + length].astype(np.float32)


def _mel(f: np.ndarray | float) -> np.ndarray:
    return 1127.0 * np.log1p(np.asarray(f, dtype=np.float64) / 700.0)


def _mel_inv(m: np.ndarray) -> np.ndarray:
    return 700.0 * np.expm1(np.asarray(m, dtype=np.float64) / 1127.0)


def warp_vocal_tract(features: np.ndarray, alpha: float, lower_hz: float = 125.0, upper_hz: float = 7500.0,
                     cutoff_hz: float = 4800.0) -> np.ndarray:
    """Vocal-tract length perturbation on filterbank features (frames x channels): scale frequency by ``alpha``.

    VTLP works on the filterbank, as Jaitly and Hinton did: the channel centred at f takes the
    energy the unwarped clip had at f / alpha. The channels of the micro frontend are mel-spaced between
    ``lower_hz`` and ``upper_hz`` (the TFLM filterbank's rule); above ``cutoff_hz`` the map bends so the
    band edge stays put. alpha > 1 sounds like a shorter vocal tract (formants up).
    """
    features = np.asarray(features, dtype=np.float32)
    if alpha == 1.0:
        return features.copy()
    k = features.shape[-1]
    edges = _mel_inv(np.linspace(_mel(lower_hz), _mel(upper_hz), k + 2))
    centres = edges[1:-1]
    boundary = cutoff_hz * min(alpha, 1.0) / alpha
    src = np.where(centres <= boundary * alpha, centres / alpha,
                   boundary + (centres - boundary * alpha) * (upper_hz - boundary)
                   / max(upper_hz - boundary * alpha, 1e-6))
    # Channel positions as fractional indices: interpolate between the neighbouring channels.
    pos = np.interp(_mel(src), _mel(centres), np.arange(k))
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, k - 1)
    w = (pos - lo).astype(np.float32)
    return (features[..., lo] * (1 - w) + features[..., hi] * w).astype(np.float32)


def shift_pitch(clip: np.ndarray, semitones: float, sample_rate: int = 16000) -> np.ndarray:
    """Move pitch and formants by ``semitones`` keeping the duration (resample, then undo the tempo change).

    The tempo is restored with the same frequency warp as :func:`warp_vocal_tract` run the other way
    on a resampled clip; cheap, and good enough to make new-sounding voices for training.
    """
    factor = float(2.0 ** (semitones / 12.0))
    clip = np.asarray(clip, dtype=np.float32)
    faster = _stretch_samples(clip, factor)  # higher and shorter
    # Stretch the time back by overlap-add of the STFT frames at another hop: a plain phase vocoder.
    n_fft, hop_in = 512, 128
    spec = _stft(faster, n_fft, hop_in)
    n_out = len(clip)
    steps = np.arange(0, len(spec) - 1, 1.0 / factor)
    bins = np.arange(spec.shape[1])
    expected = 2 * np.pi * hop_in * bins / n_fft
    phase = np.angle(spec[0])
    out_frames = []
    for t in steps:
        i = int(t)
        frac = t - i
        a, b = spec[i], spec[min(i + 1, len(spec) - 1)]
        mag = (1 - frac) * np.abs(a) + frac * np.abs(b)
        out_frames.append(mag * np.exp(1j * phase))
        dphi = np.angle(b) - np.angle(a) - expected
        dphi -= 2 * np.pi * np.round(dphi / (2 * np.pi))
        phase = phase + expected + dphi
    y = _istft(np.array(out_frames), n_fft, hop_in, hop_in * len(out_frames))
    y = _fit(y, n_out)
    peak_in, peak_out = float(np.max(np.abs(clip))), float(np.max(np.abs(y)))
    if peak_out > 0:
        y *= peak_in / peak_out
    return y.astype(np.float32)


def room_impulse_response(rt60_s: float, sample_rate: int = 16000, rng: np.random.Generator | None = None,
                          direct_ratio: float = 1.0) -> np.ndarray:
    """A made room impulse response: a direct path then noise decaying 60 dB in ``rt60_s`` seconds."""
    rng = rng if rng is not None else np.random.default_rng()
    n = max(2, int(rt60_s * sample_rate))
    t = np.arange(n) / sample_rate
    tail = rng.standard_normal(n) * np.exp(-6.9078 * t / max(rt60_s, 1e-3))  # ln(1000) = 60 dB in amplitude
    tail[0] = 0.0
    tail /= np.sqrt(np.sum(tail ** 2)) + 1e-12
    h = tail
    h[0] = direct_ratio
    return (h / np.max(np.abs(h))).astype(np.float32)


def reverberate(clip: np.ndarray, rir: np.ndarray) -> np.ndarray:
    """Convolve with a room impulse response, same length and peak level as the dry clip."""
    import scipy.fft

    clip = np.asarray(clip, dtype=np.float32)
    rir = np.asarray(rir, dtype=np.float32)
    size = scipy.fft.next_fast_len(len(clip) + len(rir) - 1, real=True)
    y = scipy.fft.irfft(scipy.fft.rfft(clip, size) * scipy.fft.rfft(rir, size), size)[:len(clip)]
    peak_in, peak_out = float(np.max(np.abs(clip))), float(np.max(np.abs(y)))
    if peak_out > 0:
        y *= peak_in / peak_out
    return y.astype(np.float32)


@dataclasses.dataclass(frozen=True)
class PerturbConfig:
    """How often and how much a training clip is perturbed (each draw is independent)."""

    speed: float = 0.1
    """Largest speed change as a fraction: 0.1 draws factors in [0.9, 1.1]; 0 turns it off."""
    speed_probability: float = 0.8
    """Share of clips that get a speed change."""
    vtlp: float = 0.1
    """Largest vocal-tract warp of the features: 0.1 draws alpha in [0.9, 1.1]; 0 turns it off."""
    vtlp_probability: float = 0.5
    """Share of clips whose filterbank features are warped."""
    pitch_semitones: float = 0.0
    """Largest pitch shift in semitones (duration kept; slower than the others); 0 turns it off."""
    pitch_probability: float = 0.0
    """Share of clips that get a pitch shift."""
    reverb_probability: float = 0.3
    """Share of clips played in a made room."""
    rt60_range: tuple[float, float] = (0.1, 0.5)
    """Range of the room's reverberation time in seconds."""
    gain_db: float = 6.0
    """Largest random level change in dB (a learner speaks softly or loudly)."""


def perturb_clip(clip: np.ndarray, cfg: PerturbConfig, rng: np.random.Generator,
                 sample_rate: int = 16000) -> np.ndarray:
    """One random draw of every perturbation the config turns on, applied in the order a voice meets them."""
    x = np.asarray(clip, dtype=np.float32)
    if not np.any(x):
        return x.copy()
    if cfg.speed > 0 and rng.random() < cfg.speed_probability:
        x = change_speed(x, float(rng.uniform(1 - cfg.speed, 1 + cfg.speed)))
    if cfg.pitch_semitones > 0 and rng.random() < cfg.pitch_probability:
        x = shift_pitch(x, float(rng.uniform(-cfg.pitch_semitones, cfg.pitch_semitones)), sample_rate)
    if rng.random() < cfg.reverb_probability:
        rir = room_impulse_response(float(rng.uniform(*cfg.rt60_range)), sample_rate, rng,
                                    direct_ratio=float(rng.uniform(0.5, 3.0)))
        x = reverberate(x, rir)
    if cfg.gain_db > 0:
        x = x * np.float32(10 ** (rng.uniform(-cfg.gain_db, cfg.gain_db) / 20))
    return np.clip(x, -1.0, 1.0).astype(np.float32)


def perturb_features(features: np.ndarray, cfg: PerturbConfig, rng: np.random.Generator,
                     lower_hz: float = 125.0, upper_hz: float = 7500.0) -> np.ndarray:
    """The feature-domain part of a draw: the vocal-tract warp (VTLP)."""
    if cfg.vtlp > 0 and rng.random() < cfg.vtlp_probability:
        return warp_vocal_tract(features, float(rng.uniform(1 - cfg.vtlp, 1 + cfg.vtlp)), lower_hz, upper_hz)
    return features


def make_perturber(cfg: PerturbConfig, sample_rate: int = 16000
                   ) -> Callable[[np.ndarray, int, np.random.Generator], np.ndarray]:
    """A clip hook for ``prepare_features(augment=...)``: ``hook(clip, label_index, rng) -> clip``."""

    def hook(clip: np.ndarray, label: int, rng: np.random.Generator) -> np.ndarray:
        return perturb_clip(clip, cfg, rng, sample_rate)

    return hook


def make_feature_perturber(cfg: PerturbConfig, lower_hz: float = 125.0, upper_hz: float = 7500.0
                           ) -> Callable[[np.ndarray, int, np.random.Generator], np.ndarray]:
    """A feature hook for ``prepare_features(feature_augment=...)``: ``hook(features, label_index, rng)``."""

    def hook(features: np.ndarray, label: int, rng: np.random.Generator) -> np.ndarray:
        return perturb_features(features, cfg, rng, lower_hz, upper_hz)

    return hook
