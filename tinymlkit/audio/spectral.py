"""The steps from samples to features, one at a time, for the lessons: frames, window, FFT, mel, log, DCT.

Each step is small on purpose so a notebook can plot what it does; ``features.log_mel`` (librosa) and
``features.micro_features`` (the board's frontend) are the production versions.
"""
from __future__ import annotations

import numpy as np

__all__ = ["frame_signal", "hann_window", "power_spectrum", "mel_filterbank", "mel_energies", "log_compress",
           "dct_ii", "fft_size"]


def fft_size(window_samples: int) -> int:
    """The power of two at or above the window length (480 samples -> 512)."""
    return 1 << int(np.ceil(np.log2(window_samples)))


def frame_signal(x: np.ndarray, frame_len: int, hop: int) -> np.ndarray:
    """Cut a signal into overlapping frames (frames x frame_len); the last partial frame is dropped."""
    x = np.asarray(x, dtype=np.float32)
    if len(x) < frame_len:
        return np.zeros((0, frame_len), dtype=np.float32)
    n = 1 + (len(x) - frame_len) // hop
    idx = np.arange(frame_len)[None, :] + hop * np.arange(n)[:, None]
    return x[idx]


def hann_window(n: int) -> np.ndarray:
    """Periodic Hann window of length n (what STFT code uses: it tiles without a gap)."""
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)).astype(np.float32)


def power_spectrum(frames: np.ndarray, n_fft: int | None = None) -> np.ndarray:
    """|FFT|^2 of each windowed frame (frames x (n_fft/2 + 1)), zero-padded to n_fft."""
    frames = np.asarray(frames, dtype=np.float32)
    n_fft = n_fft or fft_size(frames.shape[1])
    windowed = frames * hann_window(frames.shape[1])
    return (np.abs(np.fft.rfft(windowed, n=n_fft, axis=1)) ** 2).astype(np.float32)


def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    """Triangular mel filters (n_mels x (n_fft/2 + 1)), librosa's Slaney mel scale and area normalisation."""
    import librosa

    return librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax).astype(np.float32)


def mel_energies(power: np.ndarray, filterbank: np.ndarray) -> np.ndarray:
    """Energy in each mel band per frame (frames x n_mels)."""
    return (np.asarray(power) @ np.asarray(filterbank).T).astype(np.float32)


def log_compress(energies: np.ndarray, floor: float = 1e-10) -> np.ndarray:
    """10 log10(energy) in dB, with a floor so silence does not give minus infinity."""
    return (10.0 * np.log10(np.maximum(np.asarray(energies, dtype=np.float64), floor))).astype(np.float32)


def dct_ii(log_mel: np.ndarray, n_coeffs: int) -> np.ndarray:
    """Orthonormal DCT-II over the mel axis, first ``n_coeffs`` coefficients: the MFCCs."""
    from scipy.fft import dct

    return dct(np.asarray(log_mel, dtype=np.float64), type=2, norm="ortho", axis=-1)[..., :n_coeffs].astype(np.float32)
