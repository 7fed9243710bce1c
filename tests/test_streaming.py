"""Streaming recognition on a long recording: event matching, and the reference model on real speakers."""
from __future__ import annotations

import numpy as np
import pytest

from tinymlkit.config import RecognizerConfig
from tinymlkit.streaming import Event, detect, make_long_recording, match_detections, stream_scores, threshold_sweep


def test_matching_counts_hits_misses_and_false_accepts():
    events = [Event("yes", 2.0), Event("no", 6.0), Event("yes", 10.0)]
    detections = [(2500, "yes"), (2600, "yes"), (6900, "yes"), (11_700, "yes"), (20_000, "no")]
    m = match_detections(detections, events, seconds=3600.0)
    # 2500 hits the first yes; 2600 is a second report of it (false); 6900 is the wrong word (false);
    # 11700 is within 750 ms after the third yes (hit); 20000 matches nothing (false); 'no' is missed.
    assert (m.hits, m.misses, m.false_accepts) == (2, 1, 3)
    assert m.false_accepts_per_hour == 3.0 and abs(m.miss_rate - 1 / 3) < 1e-9


@pytest.mark.slow
def test_reference_model_on_a_long_real_recording(shared_data, micro_speech_dir):
    from tinymlkit.data.speech_commands import load_background_noise
    from tinymlkit.runtime import ModelRunner

    root = shared_data / "speech_commands_v0.02_test_dev"
    clips = [(p, w) for w in ("yes", "no") for p in sorted((root / w).glob("*.wav"))[:12]]
    clips += [(p, "unknown") for p in sorted((root / "_unknown_").glob("*.wav"))[:12]]
    noise = load_background_noise(root)
    rec = make_long_recording(clips, noise, seconds=90, keywords=("yes", "no"), snr_db=20, seed=1)
    assert len(rec.events) >= 12 and rec.seconds == 90
    labels = ("silence", "unknown", "yes", "no")
    runner = ModelRunner(micro_speech_dir / "micro_speech_quantized.tflite")
    times, scores = stream_scores(runner, rec.audio, every_frames=5)
    assert scores.dtype == np.uint8 and scores.shape == (len(times), 4)
    assert np.all(np.diff(times) == 100)  # every 5 frames of 20 ms
    m = match_detections(detect(times, scores, labels, RecognizerConfig()), rec.events, rec.seconds)
    assert m.hits >= len(rec.events) // 2, m  # the reference model finds most real keywords in a stream
    sweep = threshold_sweep(times, scores, labels, rec, RecognizerConfig(), [120, 200, 250])
    fa = [s.false_accepts for _, s in sweep]
    misses = [s.misses for _, s in sweep]
    assert fa == sorted(fa, reverse=True) and misses == sorted(misses)  # the trade-off moves one way
