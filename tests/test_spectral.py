"""The lesson-sized feature steps agree with librosa's production versions."""
from __future__ import annotations

import numpy as np

from tinymlkit.audio import spectral
from tinymlkit.audio.features import log_mel, mfcc
from tinymlkit.config import AudioFrontendConfig


def _tone(f=1000.0, n=16000, rate=16000):
    return (0.5 * np.sin(2 * np.pi * f * np.arange(n) / rate)).astype(np.float32)


def test_framing_shape_and_content():
    x = np.arange(16000, dtype=np.float32)
    frames = spectral.frame_signal(x, 480, 320)
    assert frames.shape == (49, 480)
    assert frames[1, 0] == 320 and frames[-1, -1] == 48 * 320 + 479


def test_tone_peaks_at_its_frequency():
    p = spectral.power_spectrum(spectral.frame_signal(_tone(1000.0), 480, 320))
    assert p.shape == (49, 257)
    assert abs(np.argmax(p[10]) * 16000 / 512 - 1000) <= 16000 / 512


def test_steps_reproduce_librosa_log_mel():
    a = AudioFrontendConfig()
    rng = np.random.default_rng(3)
    x = (rng.standard_normal(16000) * 0.1).astype(np.float32) + _tone(700.0)
    n_fft = spectral.fft_size(a.window_samples)
    # librosa centres the 480-sample window inside each 512-sample FFT frame: its frames start 16 samples later.
    pad = (n_fft - a.window_samples) // 2
    power = spectral.power_spectrum(spectral.frame_signal(x[pad:], a.window_samples, a.stride_samples), n_fft)
    fb = spectral.mel_filterbank(a.sample_rate, n_fft, a.feature_bins, a.lower_band_limit, a.upper_band_limit)
    ours = spectral.log_compress(spectral.mel_energies(power, fb))
    ref = log_mel(x, a)
    assert ours.shape == ref.shape
    assert np.allclose(ours, ref, atol=0.05)
    assert np.allclose(spectral.dct_ii(ours, 10), mfcc(x, a), atol=0.2)
