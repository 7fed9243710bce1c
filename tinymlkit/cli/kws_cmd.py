"""``tinymlkit kws run|evaluate|predict``: the keyword-spotting track from the command line."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from .common import add_config_or_labels, labels_and_config, print_json

__all__ = ["register"]


def register(sub: Any) -> None:
    """Add the ``kws`` command and its sub-commands."""
    kws = sub.add_parser("kws", help="keyword spotting: train, evaluate, predict",
                         description="Keyword spotting with micro features, as the board computes them.")
    ks = kws.add_subparsers(dest="kws_command", metavar="STEP", required=True)

    p = ks.add_parser("run", help="data -> train -> int8 -> TFLM check -> sketch files",
                      description="Train a keyword model end to end and write its run folder.")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--data", type=Path, help="a folder in Speech Commands layout (WORD/SPEAKER_nohash_N.wav)")
    src.add_argument("--synthetic", action="store_true", help="the offline text-to-speech set (the default)")
    p.add_argument("--words", default="yes,no", help="comma-separated keywords (default: yes,no)")
    p.add_argument("--model", default="tiny_conv", choices=["tiny_conv", "ds_cnn"], help="architecture")
    p.add_argument("--epochs", type=int, help="largest number of epochs (default 40; 4 with --fast)")
    p.add_argument("--fast", action="store_true", help="small data and few epochs; still runs every step")
    p.add_argument("--seed", type=int, default=1234, help="random seed (default 1234)")
    p.add_argument("--out", type=Path, required=True, help="run folder for models, config.json, metrics.json, plots")
    p.add_argument("--sketch", type=Path, help="sketch folder to write the deployment files into")
    p.set_defaults(func=_run)

    p = ks.add_parser("evaluate", help="score a .tflite model on a labelled folder",
                      description="Score a model on a folder in Speech Commands layout. Words not among the "
                                  "labels count as unknown where the labels have one; _silence_ counts as silence.")
    p.add_argument("--model", type=Path, required=True, help="the .tflite model")
    p.add_argument("--data", type=Path, required=True, help="folder in Speech Commands layout")
    add_config_or_labels(p, "silence,unknown,yes,no")
    p.add_argument("--backend", choices=["tflm", "litert"], help="interpreter (default: TFLM where installed)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_evaluate)

    p = ks.add_parser("predict", help="label and scores of WAV files",
                      description="Run a model on WAV files; a file longer than a clip is cut to its loudest second.")
    p.add_argument("--model", type=Path, required=True, help="the .tflite model")
    add_config_or_labels(p, "silence,unknown,yes,no")
    p.add_argument("--resample", action="store_true", help="accept other sample rates and resample them")
    p.add_argument("--backend", choices=["tflm", "litert"], help="interpreter (default: TFLM where installed)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("wavs", nargs="+", type=Path, metavar="WAV", help="16 kHz mono 16-bit WAV files")
    p.set_defaults(func=_predict)


def _run(args: argparse.Namespace) -> int:
    from ..pipelines.kws import format_summary, run_kws

    words = [w.strip() for w in args.words.split(",") if w.strip()]
    r = run_kws(args.out, data=args.data, words=words, model=args.model, epochs=args.epochs, fast=args.fast,
                sketch=args.sketch, seed=args.seed)
    print(format_summary(r))
    return 0


def _runner(args: argparse.Namespace, labels: tuple[str, ...]) -> Any:
    from ..errors import KitError
    from ..runtime import ModelRunner

    runner = ModelRunner(args.model, backend=args.backend)
    if runner.num_outputs != len(labels):
        raise KitError(f"{args.model}: the model has {runner.num_outputs} outputs but {len(labels)} labels "
                       f"were given ({', '.join(labels)})")
    return runner


def _evaluate(args: argparse.Namespace) -> int:
    import numpy as np

    from ..audio.features import micro_features
    from ..config import KwsRunConfig
    from ..data.speech_commands import clip_for, label_items
    from ..errors import KitError
    from ..evaluate import score_runner

    labels, cfg = labels_and_config(args, KwsRunConfig())
    runner = _runner(args, labels)
    a = cfg.audio  # type: ignore[union-attr]
    items, skipped = label_items(args.data, labels, a.sample_rate)
    for s in skipped:
        print(f"skipped: {s}", file=sys.stderr)
    if not items:
        raise KitError(f"{args.data}: no clips to score for labels {list(labels)}")
    from tqdm.auto import tqdm

    x = np.stack([micro_features(clip_for(p, a.sample_rate, a.clip_samples), a)
                  for p, _ in tqdm(items, desc="features", unit="clip", leave=False, disable=args.json)])
    y = np.array([i for _, i in items])
    metrics, _ = score_runner(runner, x, y, labels, progress=not args.json)
    metrics.update({"model": str(args.model), "data": str(args.data), "backend": runner.backend,
                    "skipped": len(skipped)})
    if args.json:
        print_json(metrics)
    else:
        print(f"{args.model} on {args.data} ({runner.backend}): accuracy {metrics['accuracy']:.3f}, "
              f"balanced accuracy {metrics['balanced_accuracy']:.3f}, n = {metrics['n']}")
        for lab, r in metrics["per_class"].items():
            print(f"  {lab:<12} recall {'-' if r is None else f'{r:.3f}'}  ({metrics['support'][lab]} clips)")
    return 0


def _predict(args: argparse.Namespace) -> int:
    import numpy as np

    from ..audio.augment import loudest_window
    from ..audio.features import micro_features
    from ..audio.wav import read_wav
    from ..config import KwsRunConfig

    labels, cfg = labels_and_config(args, KwsRunConfig())
    runner = _runner(args, labels)
    a = cfg.audio  # type: ignore[union-attr]
    results = []
    for path in args.wavs:
        x, _ = read_wav(path, a.sample_rate, allow_resample=args.resample)
        clip, start = loudest_window(x, a.clip_samples)
        scores = runner.predict(micro_features(clip, a)[None])[0]
        best = int(np.argmax(scores))
        results.append({"file": str(path), "label": labels[best], "score": float(scores[best]),
                        "scores": {lab: float(s) for lab, s in zip(labels, scores)},
                        "window_start_s": start / a.sample_rate})
    if args.json:
        print_json({"backend": runner.backend, "predictions": results})
    else:
        for r in results:
            others = "  ".join(f"{k} {v:.2f}" for k, v in r["scores"].items())
            print(f"{r['file']}: {r['label']} ({r['score']:.2f})   [{others}]")
    return 0
