"""Feature extraction throughput: micro features, librosa log-mel and WAV reading, in clips per second.

    python benchmarks/bench_features.py [--clips 500] [--repeats 5]

Uses the real Speech Commands clips in ../shared/data when present, else synthetic noise clips.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SHARED_DATA, median, write  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--clips", type=int, default=500)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()

    from tinymlkit.audio.features import log_mel, micro_features
    from tinymlkit.audio.wav import load_clip

    folder = SHARED_DATA / "speech_commands_v0.02_test_dev" / "yes"
    files = sorted(folder.glob("*.wav"))[: args.clips] if folder.is_dir() else []
    source = str(folder) if files else "synthetic noise (no ../shared/data)"
    if files:
        clips = [load_clip(f) for f in files]
    else:
        rng = np.random.default_rng(0)
        clips = [rng.standard_normal(16000).astype(np.float32) * 0.1 for _ in range(args.clips)]
    micro_features(clips[0])  # load TensorFlow and the op once, outside the timing

    def rate(fn, items) -> float:
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            for c in items:
                fn(c)
            times.append(time.perf_counter() - t0)
        return len(items) / median(times)

    results = {"clips": len(clips), "source": source, "repeats": args.repeats,
               "micro_features_clips_per_s": round(rate(micro_features, clips), 1),
               "librosa_log_mel_clips_per_s": round(rate(log_mel, clips), 1)}
    if files:
        results["wav_read_clips_per_s"] = round(rate(load_clip, files), 1)
    write("features", results)


if __name__ == "__main__":
    main()
