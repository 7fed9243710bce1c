"""MFCC and log-mel versus the board's micro features, on held-out real speakers (notebook 02's table).

The same model (tiny_conv by default) is trained on each front end's features of the same clips of
../shared/data/speech_commands_v0.02_test_dev, with its speaker-disjoint re-split (as bench_kws_real.py),
and scored int8 on TFLM on the held-out speakers. Also per front end: the model's size, arena and MACs on
its input shape, the kit's latency estimate on the Nano 33 BLE Sense, the front end's arithmetic per clip
(by formula) and its time per clip in Python on this machine.

    python benchmarks/bench_frontends.py [--seeds 1234,1,2] [--frontends micro,log_mel,mfcc] [--n-mfcc 10]
        [--model tiny_conv] [--epochs 40] [--copies 3] [--unknown 300] [--silence 50] [--threads 1]
        [--no-standardise] [--salt S] [--tag NAME]

Prints one line per seed and front end and writes benchmarks/results/frontends_<model>.json with the
median over seeds.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SHARED_DATA, write  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", default="1234,1,2", help="comma-separated seeds; the median is reported")
    ap.add_argument("--frontends", default="micro,log_mel,mfcc")
    ap.add_argument("--n-mfcc", type=int, default=10)
    ap.add_argument("--model", default="tiny_conv", choices=["tiny_conv", "ds_cnn"])
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--patience", type=int, default=10)
    ap.add_argument("--copies", type=int, default=3)
    ap.add_argument("--unknown", type=float, default=300.0)
    ap.add_argument("--silence", type=float, default=50.0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-standardise", action="store_true",
                    help="train on the raw feature values (no shift and scale by the training mean and spread)")
    ap.add_argument("--salt", default="", help="speaker-split salt: another salt holds out other speakers")
    ap.add_argument("--tag", default="", help="suffix of the results file")
    args = ap.parse_args()
    data = SHARED_DATA / "speech_commands_v0.02_test_dev"
    if not data.is_dir():
        sys.exit(f"skipped: {data} is absent (it ships only with the project's ../shared folder)")

    from tinymlkit.pipelines.kws_frontends import FrontendComparisonConfig, compare_frontends

    runs = []
    for seed in [int(s) for s in args.seeds.split(",")]:
        cfg = FrontendComparisonConfig(frontends=tuple(args.frontends.split(",")), n_mfcc=args.n_mfcc,
                                       model=args.model, epochs=args.epochs, patience=args.patience,
                                       copies=args.copies, unknown_percentage=args.unknown,
                                       silence_percentage=args.silence, seed=seed,
                                       standardise=not args.no_standardise, split_salt=args.salt)
        t0 = time.perf_counter()
        c = compare_frontends([data], cfg, threads=args.threads)
        c["seed"], c["wall_s"] = seed, round(time.perf_counter() - t0, 1)
        runs.append(c)
        for name, r in c["results"].items():
            m = r["int8"]
            rec = "  ".join(f"{k} {v:.2f}" for k, v in m["per_class"].items() if v is not None)
            print(f"seed {seed} {name:<8} {'x'.join(map(str, r['feature_shape']))}: balanced {m['balanced_accuracy']:.3f}"
                  f" ({rec}) | {r['model_bytes']} B model, {r['arena_bytes']} B arena, {r['macs']} MACs,"
                  f" {r['host_ms_per_clip']} ms/clip host | epochs {r['epochs_run']} ({r['train_seconds']} s)",
                  flush=True)
    names = list(runs[0]["results"])
    med = lambda f: {n: statistics.median(f(r["results"][n]) for r in runs) for n in names}  # noqa: E731
    first = runs[0]["results"]
    summary = {n: {"median_balanced_accuracy": round(med(lambda r: r["int8"]["balanced_accuracy"])[n], 4),
                   "balanced_per_seed": [round(r["results"][n]["int8"]["balanced_accuracy"], 4) for r in runs],
                   "median_recall": {k: round(statistics.median(r["results"][n]["int8"]["per_class"][k] for r in runs), 4)
                                     for k in first[n]["int8"]["per_class"]},
                   "median_unknown_false_accept_rate":
                       round(statistics.median(r["results"][n]["int8"]["unknown_false_accept_rate"] for r in runs), 4),
                   "feature_shape": first[n]["feature_shape"], "model_bytes": first[n]["model_bytes"],
                   "arena_bytes": first[n]["arena_bytes"], "macs": first[n]["macs"],
                   "latency_ms_estimate": first[n]["latency_ms"], "ops_per_clip": first[n]["ops_per_clip"],
                   "median_host_ms_per_clip": round(med(lambda r: r["host_ms_per_clip"])[n], 3),
                   "backend": first[n]["int8"]["backend"], "test_clips": first[n]["int8"]["n"]}
               for n in names}
    for n, s in summary.items():
        print(f"median {n:<8} balanced {s['median_balanced_accuracy']:.3f} per seed {s['balanced_per_seed']} "
              f"recall {s['median_recall']} host {s['median_host_ms_per_clip']} ms/clip")
    write(f"frontends_{args.model}" + (f"_{args.tag}" if args.tag else ""),
          {"data": str(data), "settings": vars(args), "split": runs[0]["split"], "counts": runs[0]["counts"],
           "summary": summary, "runs": runs})


if __name__ == "__main__":
    main()
