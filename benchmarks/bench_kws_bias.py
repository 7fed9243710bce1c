"""Real speakers: a synthetic-trained and a real-trained model side by side, and accuracy per recording condition.

Both of notebook 03's measured tables. Per seed, two tiny_conv models are trained (int8 on TFLM):

* the main job's model, on the offline text-to-speech set only;
* a model on the real clips of ../shared/data/speech_commands_v0.02_test_dev (its speaker-disjoint re-split).

**Side by side**: both, and the reference micro_speech model, are scored on the same held-out real speakers
(the test split of that folder, which neither kit model heard).

**Per condition** (speech level in dBFS, estimated SNR, clipping; silence clips left out) and **per speaker**
(spread of per-speaker accuracy, the worst speakers): the synthetic-trained model and the reference on every
real clip of the folder (big groups), and the real-trained model on its held-out speakers (small groups).

    python benchmarks/bench_kws_bias.py [--seeds 1234] [--epochs 40] [--threads 1] [--min-speaker-clips 8]

Writes benchmarks/results/kws_bias.json (medians over seeds for the side-by-side table).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SHARED_DATA, short_metrics, write  # noqa: E402


def _print_groups(name: str, r: dict) -> None:
    print(f"{name}: {r['n_spoken']} spoken clips")
    for key in ("level", "snr", "clipping"):
        for g, m in r[key].items():
            rec = "  ".join(f"{k} {v:.2f}" for k, v in m["per_class"].items() if v is not None)
            print(f"  {key:<8} {g:<16} n {m['n']:>5}  balanced {m['balanced_accuracy']:.3f}  ({rec})")
    sp = r["speakers"]
    print(f"  speakers {sp['speakers']} ({sp['with_enough_clips']} with >= {sp['min_clips']} clips), "
          f"accuracy percentiles {sp['accuracy_percentiles']}, worst {sp['worst']}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", default="1234", help="comma-separated seeds; medians are reported")
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--min-speaker-clips", type=int, default=8)
    args = ap.parse_args()
    data = SHARED_DATA / "speech_commands_v0.02_test_dev"
    ref = SHARED_DATA / "tflite_micro_reference" / "micro_speech" / "micro_speech_quantized.tflite"
    if not data.is_dir():
        sys.exit(f"skipped: {data} is absent (it ships only with the project's ../shared folder)")

    import numpy as np

    from tinymlkit.evaluate import classification_metrics, headline, score_folder
    from tinymlkit.pipelines.kws import run_kws
    from tinymlkit.pipelines.kws_groups import (SplitPredictions, held_out_real_speakers, predict_split,
                                                scores_by_condition, side_by_side)

    runs = []
    groups: dict = {}
    for seed in [int(s) for s in args.seeds.split(",")]:
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            synth = run_kws(Path(tmp) / "synthetic", data=None, epochs=args.epochs, seed=seed, progress=False,
                            threads=args.threads)
            real = run_kws(Path(tmp) / "real", data=data, epochs=args.epochs, seed=seed, progress=False,
                           threads=args.threads)
            models = {"synthetic-trained": (synth.out / "model_int8.tflite").read_bytes(),
                      "real-trained": (real.out / "model_int8.tflite").read_bytes(),
                      "reference micro_speech": ref.read_bytes()}
        cfg = real.config
        sbs = side_by_side(models, data, cfg)
        run = {"seed": seed, "held_out_clips": sbs["_clips"], "split": sbs["_split"],
               **{k: short_metrics(sbs[k]) for k in models}}
        for k in models:
            print(f"seed {seed} {k:<24} held-out speakers: {headline(sbs[k])}", flush=True)
        if not groups:  # conditions and speakers: first seed only (the groups need clips, not seeds)
            for name in ("synthetic-trained", "reference micro_speech"):
                m = score_folder(models[name], data, cfg.labels, cfg.audio, details=True)
                p = SplitPredictions(tuple(Path(f) for f in m["files"]), np.array(m["true"]), np.array(m["predicted"]),
                                     tuple(cfg.labels), m["backend"])
                r = scores_by_condition(p, cfg, min_speaker_clips=args.min_speaker_clips)
                groups[f"{name}, every real clip"] = {"overall": short_metrics(classification_metrics(p.y_true, p.y_pred,
                                                                                             cfg.labels)), **r}
                _print_groups(f"{name}, every real clip", r)
            p = predict_split(models["real-trained"], held_out_real_speakers(data, cfg), cfg)
            r = scores_by_condition(p, cfg, min_speaker_clips=4)
            groups["real-trained, held-out speakers"] = {
                "overall": short_metrics(classification_metrics(p.y_true, p.y_pred, cfg.labels)), **r}
            _print_groups("real-trained, held-out speakers", r)
        run["wall_s"] = round(time.perf_counter() - t0, 1)
        runs.append(run)
    names = ("synthetic-trained", "real-trained", "reference micro_speech")
    summary = {k: {"median_balanced_accuracy": statistics.median(r[k]["balanced_accuracy"] for r in runs),
                   "balanced_per_seed": [r[k]["balanced_accuracy"] for r in runs],
                   "median_recall": {c: statistics.median(r[k]["per_class"][c] for r in runs)
                                     for c in runs[0][k]["per_class"]},
                   "median_unknown_false_accept_rate": statistics.median(r[k]["unknown_false_accept_rate"] for r in runs)}
               for k in names}
    for k, s in summary.items():
        print(f"median {k:<24} balanced {s['median_balanced_accuracy']:.3f} per seed {s['balanced_per_seed']} "
              f"recall {s['median_recall']}")
    write("kws_bias", {"data": str(data), "settings": vars(args), "side_by_side": summary, "runs": runs,
                       "by_condition": groups})


if __name__ == "__main__":
    main()
