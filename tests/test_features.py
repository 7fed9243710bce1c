"""Micro features: board parity against the TFLM micro_speech model, and the int8 conversion rule."""
from __future__ import annotations

import numpy as np
import pytest

from tinymlkit.audio.features import (frontend_to_float, frontend_to_int8, frontend_uint16, log_mel, mfcc,
                                      micro_features)
from tinymlkit.audio.wav import load_clip
from tinymlkit.config import AudioFrontendConfig, QuantParams
from tinymlkit.runtime import ModelRunner, quantize, tflm_available

LABELS = ("silence", "unknown", "yes", "no")

needs_tflm = pytest.mark.skipif(not tflm_available(), reason="tflite-micro (TFLM interpreter) is not installed here")


@needs_tflm
@pytest.mark.parametrize("name, expected", [("yes_1000ms.wav", "yes"), ("no_1000ms.wav", "no"),
                                            ("noise_1000ms.wav", "silence")])
def test_kit_features_drive_the_reference_model(micro_speech_dir, name, expected):
    """The model no one here made recognises our features: they are what the board computes."""
    runner = ModelRunner(micro_speech_dir / "micro_speech_quantized.tflite", backend="tflm")
    feats = micro_features(load_clip(micro_speech_dir / name))
    assert feats.shape == (49, 40)
    scores = runner.predict(feats[None])[0]
    assert LABELS[int(np.argmax(scores))] == expected
    assert scores.max() > 0.6


def test_feature_range_matches_the_reference_input(micro_speech_dir):
    feats = micro_features(load_clip(micro_speech_dir / "yes_1000ms.wav"))
    # The reference model's input scale 0.1017 and zero point -128 cover 0..25.9.
    assert feats.min() >= 0 and 5 < feats.max() < 26


def test_int8_rule_equals_quantize_of_float(micro_speech_dir):
    qp = QuantParams(0.10171568393707275, -128)
    for name in ("yes_1000ms.wav", "no_1000ms.wav", "noise_1000ms.wav"):
        raw = frontend_uint16(load_clip(micro_speech_dir / name))
        assert raw.dtype == np.uint16
        direct = frontend_to_int8(raw, qp)
        via_float = quantize(frontend_to_float(raw), qp)
        assert np.array_equal(direct, via_float)
    # Saturation and rounding half up at an exact tie: 0.5 steps above zero point rounds up.
    assert frontend_to_int8(np.array([0]), QuantParams(1.0, -128))[0] == -128
    assert frontend_to_int8(np.array([65535]), qp)[0] == 127
    tie = QuantParams(10 / 256 * 2, 0)  # v=1 -> 0.5 steps
    assert frontend_to_int8(np.array([1]), tie)[0] == 1


def test_short_clip_still_gives_full_feature_map():
    feats = micro_features(np.zeros(8000, np.float32))
    assert feats.shape == (49, 40)


def test_settings_change_the_features(micro_speech_dir):
    clip = load_clip(micro_speech_dir / "yes_1000ms.wav")
    a = micro_features(clip, AudioFrontendConfig(feature_bins=20))
    assert a.shape == (49, 20)
    assert not np.array_equal(micro_features(clip), micro_features(clip, AudioFrontendConfig(enable_pcan=False)))


def test_log_mel_and_mfcc_frame_like_micro_features(micro_speech_dir):
    clip = load_clip(micro_speech_dir / "yes_1000ms.wav")
    lm, mf = log_mel(clip), mfcc(clip)
    assert lm.shape == (49, 40) and mf.shape == (49, 10)
    assert np.isfinite(lm).all() and np.isfinite(mf).all()
    # The word is louder than the start of the clip (which is near silence) in every representation.
    assert lm[20:30].mean() > lm[:3].mean()
