"""Keyword accuracy per recording condition and per speaker, on real speakers (notebook 03's bias section).

Speech Commands has no speaker descriptions, so clips are grouped by what their samples show: speech
level (dBFS), estimated SNR, clipping; and by speaker (how spread per-speaker accuracy is, the worst
speakers). Silence clips are left out of the groups. int8 models on TFLM:

* ``--train synthetic`` (default): the main job's model (offline text-to-speech set only), scored on every
  real clip of ../shared/data/speech_commands_v0.02_test_dev (none was heard in training: big groups);
* ``--train real``: tiny_conv trained on that folder's speaker-disjoint re-split, scored on its held-out
  speakers (as bench_kws_real.py; the groups are small).

The reference micro_speech model is scored on the same clips and grouped the same way.

    python benchmarks/bench_kws_bias.py [--train synthetic|real] [--seed 1234] [--epochs 40] [--threads 1]

Writes benchmarks/results/kws_bias_<train>.json.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SHARED_DATA, write  # noqa: E402


def _print(name: str, r: dict) -> None:
    print(f"{name}: {r['n_spoken']} spoken clips")
    for key in ("level", "snr", "clipping"):
        for g, m in r[key].items():
            rec = "  ".join(f"{k} {v:.2f}" for k, v in m["per_class"].items() if v is not None)
            print(f"  {key:<8} {g:<16} n {m['n']:>5}  balanced {m['balanced_accuracy']:.3f}  ({rec})")
    sp = r["speakers"]
    print(f"  speakers {sp['speakers']} ({sp['with_enough_clips']} with >= {sp['min_clips']} clips), "
          f"accuracy percentiles {sp['accuracy_percentiles']}, worst {sp['worst']}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", default="synthetic", choices=["synthetic", "real"])
    ap.add_argument("--model", default="tiny_conv", choices=["tiny_conv", "ds_cnn"])
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--min-speaker-clips", type=int, default=8)
    args = ap.parse_args()
    data = SHARED_DATA / "speech_commands_v0.02_test_dev"
    ref = SHARED_DATA / "tflite_micro_reference" / "micro_speech" / "micro_speech_quantized.tflite"
    if not data.is_dir():
        sys.exit(f"skipped: {data} is absent (it ships only with the project's ../shared folder)")

    import numpy as np

    from tinymlkit.evaluate import headline, score_folder
    from tinymlkit.pipelines.kws import run_kws
    from tinymlkit.pipelines.kws_groups import SplitPredictions, held_out_real_speakers, predict_split, scores_by_condition

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        run = run_kws(Path(tmp) / "run", data=data if args.train == "real" else None, model=args.model,
                      epochs=args.epochs, seed=args.seed, progress=False, threads=args.threads)
        kit_bytes = (run.out / "model_int8.tflite").read_bytes()
    cfg = run.config
    preds = {}
    if args.train == "real":
        ds = held_out_real_speakers(data, cfg)
        preds["kit"] = predict_split(kit_bytes, ds, cfg)
        preds["reference"] = predict_split(ref.read_bytes(), ds, cfg)
        scored_on = f"held-out speakers of {data} ({ds.split_method})"
    else:
        for name, model in (("kit", kit_bytes), ("reference", ref.read_bytes())):
            m = score_folder(model, data, cfg.labels, cfg.audio, details=True)
            preds[name] = SplitPredictions(tuple(Path(f) for f in m["files"]), np.array(m["true"]),
                                           np.array(m["predicted"]), tuple(cfg.labels), m["backend"])
        scored_on = f"every clip of {data}"
    out = {}
    for name, p in preds.items():
        r = scores_by_condition(p, cfg, min_speaker_clips=args.min_speaker_clips)
        from tinymlkit.evaluate import classification_metrics

        overall = classification_metrics(p.y_true, p.y_pred, cfg.labels)
        print(f"{name}: {headline(overall)}")
        _print(name, r)
        out[name] = {"overall": {k: overall[k] for k in ("balanced_accuracy", "per_class", "unknown_false_accept_rate",
                                                          "n")}, "backend": p.backend, **r}
    write(f"kws_bias_{args.train}" + ("" if args.model == "tiny_conv" else f"_{args.model}"),
          {"train": args.train, "trained_on": run.metrics["trained_on"], "scored_on": scored_on,
           "settings": vars(args), "wall_s": round(time.perf_counter() - t0, 1), **out})


if __name__ == "__main__":
    main()
