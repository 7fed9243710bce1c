"""Real speech: train on ../shared/data/speech_commands_v0.02_test_dev (speaker-disjoint re-split),
yes/no + silence + unknown, and score the kit's model and the reference micro_speech model on the
same test speakers.

    python benchmarks/bench_kws_real.py [--model tiny_conv|ds_cnn] [--epochs 40]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SHARED_DATA, write  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default="tiny_conv", choices=["tiny_conv", "ds_cnn"])
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--copies", type=int, default=4, help="augmented copies of each training clip")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--unknown", type=float, default=10.0, help="unknown clips as %% of keyword clips")
    ap.add_argument("--silence", type=float, default=10.0, help="silence clips as %% of keyword clips")
    ap.add_argument("--patience", type=int, default=10)
    args = ap.parse_args()
    data = SHARED_DATA / "speech_commands_v0.02_test_dev"
    if not data.is_dir():
        sys.exit(f"skipped: {data} is absent (it ships only with the project's ../shared folder)")

    from tinymlkit.data.speech_commands import build_dataset
    from tinymlkit.evaluate import score_runner
    from tinymlkit.pipelines.kws import prepare_features, run_kws
    from tinymlkit.runtime import ModelRunner

    with tempfile.TemporaryDirectory() as tmp:
        r = run_kws(Path(tmp) / "run", data=data, model=args.model, epochs=args.epochs, seed=args.seed,
                    augment_copies=args.copies, progress=False, patience=args.patience,
                    task_overrides={"unknown_percentage": args.unknown, "silence_percentage": args.silence})
    m = r.metrics
    # The same test clips (same seed, same split), scored with the reference model.
    cfg = r.config
    ds = build_dataset(data, cfg.task, seed=args.seed, validate=False)
    x_te, y_te = prepare_features(ds, cfg, "testing", 1, args.seed, progress=False)
    ref = SHARED_DATA / "tflite_micro_reference" / "micro_speech" / "micro_speech_quantized.tflite"
    ref_metrics, _ = score_runner(ModelRunner(ref), x_te, y_te, cfg.labels)
    write(f"kws_real_{args.model}", {
        "settings": {"epochs": args.epochs, "copies": args.copies, "unknown_percentage": args.unknown,
                     "silence_percentage": args.silence, "patience": args.patience, "balanced_class_weights": True},
        "data": str(data), "split": m["task"]["split_method"], "counts": m["task"]["counts"],
        "kit_model": args.model, "epochs_run": m["train"]["epochs_run"], "train_seconds": m["train"]["seconds"],
        "kit_float_balanced_accuracy": m["float"]["balanced_accuracy"],
        "kit_int8_tflm_balanced_accuracy": m.get("int8_tflm", m["int8_litert"])["balanced_accuracy"],
        "kit_int8_tflm_per_class": m.get("int8_tflm", m["int8_litert"])["per_class"],
        "kit_model_bytes_int8": m["model_bytes"]["int8"], "kit_arena_bytes": m["arena_bytes"],
        "reference_micro_speech_balanced_accuracy": ref_metrics["balanced_accuracy"],
        "reference_per_class": ref_metrics["per_class"], "test_clips": int(len(y_te)),
    })


if __name__ == "__main__":
    main()
