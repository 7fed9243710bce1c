"""Keyword models on real speakers, beside the reference micro_speech model on the same clips.

Two set-ups, both yes/no + silence + unknown, int8 on TFLM:

* ``--train real`` (default): train on ../shared/data/speech_commands_v0.02_test_dev with its
  speaker-disjoint re-split; kit and reference are scored on the same held-out test speakers.
* ``--train synthetic``: the main job's set-up (offline text-to-speech set only; add ``--model ds_cnn_tiny``
  for the main job's model), scored on every real clip of that folder (none of them was heard in training).

``--model ds_cnn`` is the Nano-class DS-CNN and ``ds_cnn_tiny`` the main job's (``tinymlkit.models.kws``);
``--filters/--blocks/--stride`` build other DS-CNN shapes.

    python benchmarks/bench_kws_real.py [--train real|synthetic] [--model tiny_conv|ds_cnn|ds_cnn_tiny]
        [--seeds 1234,1,2] [--epochs 40] [--copies N] [--unknown PCT] [--silence PCT] [--patience N] [--no-perturb]
        [--threads N] [--synth main|plain] [--mask [T,TW,F,FW]]
        [--filters N] [--blocks N] [--stride F,C] [--keep DIR] [--teacher RUN] [--alpha A] [--temperature T]
        [--no-balance] [--tag NAME]

Prints one line per seed and writes benchmarks/results/kws_real_<train>_<model>[_<tag>].json with the
median over seeds.
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", default="real", choices=["real", "synthetic"])
    ap.add_argument("--model", default="tiny_conv", choices=["tiny_conv", "ds_cnn", "ds_cnn_tiny"])
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--copies", type=int, help="augmented copies of each training clip (run_kws default)")
    ap.add_argument("--seeds", default="1234", help="comma-separated seeds; the median is reported")
    ap.add_argument("--unknown", type=float, help="training unknown clips as %% of keyword clips (run_kws default)")
    ap.add_argument("--silence", type=float, help="training silence clips as %% of keyword clips (run_kws default)")
    ap.add_argument("--background-volume", type=float)
    ap.add_argument("--patience", type=int, default=10)
    ap.add_argument("--lr", type=float)
    ap.add_argument("--no-perturb", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--synth", default="main", choices=["main", "plain"],
                    help="with --train synthetic: the main job's set, or the plain one of before (20 words, "
                         "coloured noise only) to measure what the richer set brings")
    ap.add_argument("--mask", nargs="?", const="default", metavar="T,TW,F,FW",
                    help="SpecAugment masking of training features: time masks, widest (frames), frequency "
                         "masks, widest (channels); alone: MaskConfig's defaults")
    ap.add_argument("--filters", type=int, help="with --model ds_cnn: channels of every layer (ds_cnn's default)")
    ap.add_argument("--blocks", type=int, help="with --model ds_cnn: depthwise-separable blocks (ds_cnn's default)")
    ap.add_argument("--stride", help="with --model ds_cnn: first convolution's stride, frames,channels (2,2)")
    ap.add_argument("--keep", type=Path, metavar="DIR", help="keep each seed's run folder as DIR/seed<N>")
    ap.add_argument("--teacher", type=Path, metavar="RUN",
                    help="distil from this run folder's model (a --keep folder: its seed<N>, else its first seed)")
    ap.add_argument("--alpha", type=float, default=0.5, help="with --teacher: weight of the true label")
    ap.add_argument("--temperature", type=float, default=2.0, help="with --teacher: softening of its probabilities")
    ap.add_argument("--no-balance", action="store_true", help="no class weights in the loss")
    ap.add_argument("--tag", default="", help="suffix of the results file, to keep one lever's figures apart")
    args = ap.parse_args()
    data = SHARED_DATA / "speech_commands_v0.02_test_dev"
    ref = SHARED_DATA / "tflite_micro_reference" / "micro_speech" / "micro_speech_quantized.tflite"
    if not data.is_dir():
        sys.exit(f"skipped: {data} is absent (it ships only with the project's ../shared folder)")

    from tinymlkit.audio.masking import MaskConfig
    from tinymlkit.data.synth_speech import SynthSpeechConfig
    from tinymlkit.evaluate import score_folder, score_runner
    from tinymlkit.pipelines.kws import draw_dataset, prepare_features, run_kws
    from tinymlkit.runtime import ModelRunner
    from tinymlkit.train import DistillConfig

    mask = None
    if args.mask:
        mask = MaskConfig() if args.mask == "default" else MaskConfig(*[int(v) for v in args.mask.split(",")])
    overrides = {k: v for k, v in {"unknown_percentage": args.unknown, "silence_percentage": args.silence,
                                   "background_volume": args.background_volume}.items() if v is not None}
    runs = []
    reference = None
    for seed in [int(s) for s in args.seeds.split(",")]:
        t0 = time.perf_counter()
        keras_model = None
        shape_args = {k: v for k, v in {"filters": args.filters, "blocks": args.blocks,
                                        "strides": tuple(int(v) for v in args.stride.split(",")) if args.stride
                                        else None}.items() if v}
        if shape_args:
            if args.model != "ds_cnn":
                sys.exit("--filters, --blocks and --stride are for --model ds_cnn")
            from tinymlkit.config import KwsRunConfig
            from tinymlkit.models.kws import ds_cnn
            from tinymlkit.train import limit_threads, set_seed

            limit_threads(args.threads)
            set_seed(seed)
            keras_model = ds_cnn(KwsRunConfig().audio.feature_shape, 4, **shape_args)
        with tempfile.TemporaryDirectory() as tmp:
            folder = args.keep / f"seed{seed}" if args.keep else Path(tmp) / "run"
            teacher = None
            if args.teacher:
                own = args.teacher / f"seed{seed}"
                others = sorted(args.teacher.glob("seed*/model.keras"))
                teacher = (own if own.is_dir() else args.teacher if (args.teacher / "model.keras").is_file()
                           else others[0].parent if others else args.teacher)
            r = run_kws(folder, data=data if args.train == "real" else None, model=args.model,
                        epochs=args.epochs, seed=seed, augment_copies=args.copies, progress=False,
                        patience=args.patience, task_overrides=overrides, learning_rate=args.lr,
                        perturb=False if args.no_perturb else None, threads=args.threads,
                        real_eval=data if args.train == "synthetic" else None,
                        synth=SynthSpeechConfig() if args.synth == "plain" else None, mask=mask,
                        keras_model=keras_model, teacher=teacher,
                        distill=DistillConfig(args.alpha, args.temperature), balance_classes=not args.no_balance)
            m = r.metrics
            if args.train == "real":
                kit = m.get("int8_tflm", m["int8_litert"])
                if reference is None:  # the same test clips (same split), scored by the reference model
                    ds = draw_dataset([data], r.config.task, seed=seed)
                    x_te, y_te = prepare_features(ds, r.config, "testing", 1, seed, progress=False)
                    reference, _ = score_runner(ModelRunner(ref), x_te, y_te, r.config.labels)
            else:
                kit = m["real_eval"][str(data)]
                if reference is None:
                    reference = score_folder(ref, data, r.config.labels, r.config.audio)
        run = {"seed": seed, "wall_s": round(time.perf_counter() - t0, 1), "kit": short_metrics(kit),
               "synthetic_test_split": short_metrics(m.get("int8_tflm", m["int8_litert"])),
               "epochs_run": m["train"]["epochs_run"], "best_epoch": m["train"]["best_epoch"],
               "train_seconds": m["train"]["seconds"], "steps_seconds": m["steps_seconds"],
               "training_examples": m["task"]["training_examples"], "counts": m["task"]["counts"],
               "model_bytes_int8": m["model_bytes"]["int8"], "arena_bytes": m["arena_bytes"]}
        runs.append(run)
        print(f"seed {seed}: kit balanced {kit['balanced_accuracy']:.3f} unknown "
              f"{kit['per_class']['unknown']:.3f} yes {kit['per_class']['yes']:.3f} no {kit['per_class']['no']:.3f} "
              f"({run['model_bytes_int8']} B model, {run['arena_bytes']} B arena, best epoch {run['best_epoch']}/"
              f"{run['epochs_run']}) | reference {reference['balanced_accuracy']:.3f} unknown "
              f"{reference['per_class']['unknown']:.3f} | {run['wall_s']} s", flush=True)
    med = lambda key: statistics.median(r["kit"][key] for r in runs)  # noqa: E731
    name = f"kws_real_{args.train}_{args.model}" + (f"_{args.tag}" if args.tag else "")
    write(name, {
        "train": args.train, "data": str(data), "kit_model": args.model,
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "median_kit_balanced_accuracy": med("balanced_accuracy"),
        "median_kit_unknown_recall": statistics.median(r["kit"]["per_class"]["unknown"] for r in runs),
        "reference_micro_speech": short_metrics(reference),
        "runs": runs,
    })


if __name__ == "__main__":
    main()
