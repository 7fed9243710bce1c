"""Front ends compared (notebook 02): feature shapes, the arithmetic per clip, the timing, and a small real run."""
from __future__ import annotations

import time

import numpy as np
import pytest

from tinymlkit.audio.wav import write_wav
from tinymlkit.config import AudioFrontendConfig
from tinymlkit.errors import KitError
from tinymlkit.pipelines.kws_frontends import (FrontendComparisonConfig, frontend_function, frontend_ops,
                                               frontend_rows, seconds_per_clip)

RATE = 16000


def test_each_front_end_gives_its_own_shape():
    clip = (0.1 * np.random.default_rng(0).standard_normal(RATE)).astype(np.float32)
    shapes = {name: frontend_function(name, n_mfcc=13)(clip).shape for name in ("micro", "log_mel", "mfcc")}
    assert shapes == {"micro": (49, 40), "log_mel": (49, 40), "mfcc": (49, 13)}
    with pytest.raises(KitError, match="unknown front end"):
        frontend_function("spectrogram")


def test_operation_counts_follow_the_formulas():
    a = AudioFrontendConfig()
    log_mel, mfcc, micro = (frontend_ops(n, a, n_mfcc=10) for n in ("log_mel", "mfcc", "micro"))
    # 49 frames of a 480-sample window, a 512-point real FFT: 2.5 * 512 * 9 = 11,520 operations a frame.
    assert log_mel["window"] == 49 * 480 and log_mel["fft"] == 49 * 11520 and log_mel["power"] == 49 * 3 * 257
    # The MFCC is the log-mel plus a 40 x 10 DCT per frame, nothing else.
    assert mfcc["total"] - log_mel["total"] == mfcc["dct"] == 49 * 2 * 40 * 10
    assert micro["per_band_steps"] == 49 * 40 * 2 and "dct" not in micro
    assert frontend_ops("micro", AudioFrontendConfig(enable_pcan=False))["per_band_steps"] == 49 * 40
    # Non-zero mel weights: each FFT bin inside the band feeds at most two triangles.
    assert 0 < log_mel["filterbank"] <= 49 * 2 * 2 * 257
    assert frontend_ops("log_mel", AudioFrontendConfig(window_stride_ms=30))["total"] < log_mel["total"]


def test_seconds_per_clip_times_one_clip_at_a_time():
    calls = []

    def slow(clip):
        calls.append(1)
        time.sleep(0.004)
        return clip

    s = seconds_per_clip(slow, [np.zeros(10)] * 5, repeats=2)
    assert 0.004 <= s < 0.05
    assert len(calls) == 1 + 2 * 5  # one warm-up call outside the timing


def test_config_refuses_what_it_cannot_run():
    for bad in ({"frontends": ("micro", "wavelet")}, {"frontends": ()}, {"n_mfcc": 0}, {"epochs": 0}):
        with pytest.raises(KitError):
            FrontendComparisonConfig(**bad)


def _tone_folder(root, speakers=24):
    """Words that differ only in pitch: any front end that keeps the spectrum can tell them apart."""
    rng = np.random.default_rng(0)
    t = np.arange(RATE) / RATE
    pitch = {"yes": 400.0, "no": 1500.0, "cat": 3000.0, "dog": 5000.0}
    for s in range(speakers):
        spk = f"{0x4000 + s:08x}"
        for w, f in pitch.items():
            env = np.exp(-((t - 0.5) / 0.15) ** 2)
            clip = 0.4 * env * np.sin(2 * np.pi * f * (1 + 0.03 * rng.standard_normal()) * t)
            write_wav(root / w / f"{spk}_nohash_0.wav", (clip + 0.003 * rng.standard_normal(RATE)).astype(np.float32))
    write_wav(root / "_background_noise_" / "noise.wav", (0.01 * rng.standard_normal(3 * RATE)).astype(np.float32))
    return root


@pytest.mark.slow
def test_compare_front_ends_trains_and_scores_each_on_the_same_split(tmp_path):
    from tinymlkit.pipelines.kws_frontends import compare_frontends

    root = _tone_folder(tmp_path / "tones")
    cfg = FrontendComparisonConfig(frontends=("micro", "mfcc"), epochs=12, patience=12, copies=2,
                                   unknown_percentage=100.0, timing_clips=5)
    c = compare_frontends([root], cfg, threads=1)
    micro, mfcc = c["results"]["micro"], c["results"]["mfcc"]
    assert micro["feature_shape"] == [49, 40] and mfcc["feature_shape"] == [49, 10]
    # Same clips for both: one split, one count table.
    assert micro["int8"]["n"] == mfcc["int8"]["n"] == sum(c["counts"]["testing"].values())
    # A quarter of the input: the same model does about a quarter of the multiply-accumulates.
    assert mfcc["macs"] < 0.4 * micro["macs"] and mfcc["model_bytes"] < micro["model_bytes"]
    for r in (micro, mfcc):
        assert r["int8"]["balanced_accuracy"] > 0.6, r["int8"]  # chance is 0.25
        assert r["host_ms_per_clip"] > 0 and r["ops_per_clip"]["total"] > 0
        assert r["int8_step"] > 0 and r["least_varying_value_in_steps"] >= 0
        assert r["standardise"][1] != 1.0  # shifted and scaled by the training spread
    rows = frontend_rows(c)
    assert [r["front end"] for r in rows] == ["micro", "mfcc"] and rows[1]["input"] == "49x10"
