"""Keyword spotting on a long recording, as the board does it: the metrics a product is judged by.

The board never sees neat one-second clips: it hears a continuous stream, computes a feature frame
every 20 ms, and runs the model on the latest 49 frames. This module builds a long test recording
(keywords at known times in background noise), runs the frontend over it in one pass (its noise and
gain state carried along, as on the board), scores each window, and counts false accepts per hour
and misses for a recognizer's decisions.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .audio.augment import mix_at_snr, random_noise_segment
from .audio.features import frontend_to_float, frontend_uint16
from .audio.wav import load_clip
from .config import AudioFrontendConfig, RecognizerConfig
from .recognizer import CommandRecognizer, scores_to_uint8
from .runtime import ModelRunner

__all__ = ["Event", "LongRecording", "make_long_recording", "stream_scores", "match_detections", "StreamMetrics",
           "detect", "threshold_sweep", "window_ends"]


@dataclasses.dataclass(frozen=True)
class Event:
    """A keyword placed in the recording."""

    label: str
    """The word."""
    start_s: float
    """Where its clip starts, in seconds."""
    duration_s: float = 1.0
    """Length of its clip."""


@dataclasses.dataclass
class LongRecording:
    """A synthetic test stream and what is in it."""

    audio: np.ndarray
    """Samples, float32."""
    sample_rate: int
    """Samples per second."""
    events: list[Event]
    """The keywords and where they are (non-keyword words are not listed)."""

    @property
    def seconds(self) -> float:
        """Length in seconds."""
        return len(self.audio) / self.sample_rate


def make_long_recording(clips: Sequence[tuple[Path, str]], noise: Sequence[np.ndarray], seconds: float,
                        keywords: Sequence[str], snr_db: float = 10.0, gap_s: tuple[float, float] = (1.5, 4.0),
                        sample_rate: int = 16000, seed: int = 0) -> LongRecording:
    """Lay clips end to end with random gaps over continuous background noise, at a signal-to-noise ratio."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sample_rate)
    bed = np.zeros(n, dtype=np.float32)
    speech = np.zeros(n, dtype=np.float32)
    events: list[Event] = []
    t = rng.uniform(*gap_s)
    order = rng.permutation(len(clips))
    k = 0
    while t + 1.0 < seconds and len(clips):
        path, label = clips[int(order[k % len(clips)])]
        k += 1
        start = int(t * sample_rate)
        clip = load_clip(path, sample_rate, sample_rate)
        speech[start:start + len(clip)] += clip
        if label in keywords:
            events.append(Event(label, start / sample_rate))
        t += 1.0 + rng.uniform(*gap_s)
    if noise:
        bed = random_noise_segment(noise[int(rng.integers(len(noise)))], n, rng)
    mixed = mix_at_snr(speech, bed, snr_db) if noise else speech
    return LongRecording(mixed, sample_rate, events)


def window_ends(n_frames: int, window: int, every_frames: int) -> list[int]:
    """Frame counts after which the model runs: when the window is first full, then every ``every_frames``.

    The sketches' rule (feature_window.h); the window ending at count ``e`` holds frames ``e - window`` to ``e - 1``.
    """
    return list(range(window, n_frames + 1, max(1, every_frames)))


def stream_scores(runner: ModelRunner, audio: np.ndarray, cfg: AudioFrontendConfig = AudioFrontendConfig(),
                  every_frames: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Scores of the model on the latest clip-length window, every ``every_frames`` feature frames.

    Returns (time in ms at the end of each window, uint8 scores 0..255 per label), the numbers the
    sketch's recognizer works on.
    """
    feats = frontend_to_float(frontend_uint16(audio, cfg), cfg)
    win = cfg.num_frames
    ends = window_ends(len(feats), win, every_frames)
    if not ends:
        return np.zeros((0,), np.int64), np.zeros((0, runner.num_outputs), np.uint8)
    x = np.stack([feats[e - win:e] for e in ends])
    if runner.output_dtype == np.int8:  # the board's rule: int8 score + 128 (scale 1/256, zero point -128)
        scores = scores_to_uint8(runner.predict_raw(x))
    else:
        scores = np.clip(np.round(runner.predict(x) * 255), 0, 255).astype(np.uint8)
    times = np.array([cfg.window_size_ms + (e - 1) * cfg.window_stride_ms for e in ends], dtype=np.int64)
    return times, scores


@dataclasses.dataclass(frozen=True)
class StreamMetrics:
    """How a recognizer did on a long recording."""

    hits: int
    """Keywords detected with the right label while (or just after) they were spoken."""
    misses: int
    """Keywords never detected."""
    false_accepts: int
    """Detections with no matching keyword, or the wrong label."""
    hours: float
    """Length of the recording in hours."""

    @property
    def miss_rate(self) -> float:
        """Share of keywords missed."""
        total = self.hits + self.misses
        return self.misses / total if total else 0.0

    @property
    def false_accepts_per_hour(self) -> float:
        """False accepts scaled to one hour of audio."""
        return self.false_accepts / self.hours if self.hours else 0.0


def match_detections(detections: Sequence[tuple[int, str]], events: Sequence[Event], seconds: float,
                     tolerance_ms: int = 750) -> StreamMetrics:
    """Match (time_ms, label) detections to events: a hit lies within the clip or ``tolerance_ms`` after it."""
    used = [False] * len(events)
    false = 0
    for t_ms, label in detections:
        match = None
        for i, e in enumerate(events):
            start, end = e.start_s * 1000, (e.start_s + e.duration_s) * 1000 + tolerance_ms
            if not used[i] and e.label == label and start <= t_ms <= end:
                match = i
                break
        if match is None:
            false += 1
        else:
            used[match] = True
    hits = sum(used)
    return StreamMetrics(hits, len(events) - hits, false, seconds / 3600)


def detect(times_ms: np.ndarray, scores: np.ndarray, labels: Sequence[str], cfg: RecognizerConfig,
           ignore: Sequence[str] = ("silence", "unknown")) -> list[tuple[int, str]]:
    """Run the sketch's command recognizer over streamed scores; the (time_ms, label) it reports."""
    rec = CommandRecognizer(cfg, len(labels), ignore=[i for i, lab in enumerate(labels) if lab in ignore])
    out = []
    for t, s in zip(times_ms, scores):
        d = rec.process(int(t), s)
        if d.is_new:
            out.append((int(t), labels[d.top_index]))
    return out


def threshold_sweep(times_ms: np.ndarray, scores: np.ndarray, labels: Sequence[str], recording: LongRecording,
                    cfg: RecognizerConfig, thresholds: Sequence[int]) -> list[tuple[int, StreamMetrics]]:
    """False accepts per hour and misses as the detection threshold moves (the product's trade-off curve)."""
    return [(th, match_detections(detect(times_ms, scores, labels, dataclasses.replace(cfg, detection_threshold=th)),
                                  recording.events, recording.seconds))
            for th in thresholds]
