"""``tinymlkit kws run|evaluate|predict``: the keyword-spotting track from the command line."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..errors import printable
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
    src.add_argument("--data", type=Path, action="append", metavar="DIR",
                     help="a folder in Speech Commands layout (WORD/SPEAKER_nohash_N.wav); repeat to mix several")
    src.add_argument("--synthetic", action="store_true", help="the offline text-to-speech set (the default)")
    p.add_argument("--words", default="yes,no", help="comma-separated keywords (default: yes,no)")
    p.add_argument("--model", default="tiny_conv", choices=["tiny_conv", "ds_cnn", "ds_cnn_tiny"],
                   help="architecture: tiny_conv (micro_speech's), ds_cnn (Nano class: 1.3 M MACs, ~16 KB), "
                        "ds_cnn_tiny (the main job's: micro_speech's size, ~0.3 M MACs, ~11 KB, ~9 KB arena)")
    p.add_argument("--epochs", type=int, help="largest number of epochs (default 40; 4 with --fast)")
    p.add_argument("--fast", action="store_true", help="small data and few epochs; still runs every step")
    p.add_argument("--seed", type=int, default=1234, help="random seed (default 1234)")
    p.add_argument("--out", type=Path, required=True, help="run folder for models, config.json, metrics.json, plots")
    p.add_argument("--sketch", type=Path, help="sketch folder to write the deployment files into")
    p.add_argument("--init", type=Path, metavar="RUN",
                   help="start from the model of a previous run folder (fine-tuning); its data is mixed in")
    p.add_argument("--no-init-data", action="store_true", help="with --init: do not mix in that run's data")
    p.add_argument("--lr", type=float, help="initial learning rate (default 0.003; 0.001 with --init)")
    p.add_argument("--real-eval", type=Path, action="append", metavar="DIR",
                   help="also score the int8 model on real clips in this folder (Speech Commands layout); repeatable")
    p.add_argument("--copies", type=int, help="augmented copies of each training clip (default 3; 1 with --fast)")
    p.add_argument("--unknown-share", type=float, metavar="PCT",
                   help="training clips of other words, as %% of keyword clips (default 300; may exceed 100)")
    p.add_argument("--silence-share", type=float, metavar="PCT",
                   help="training silence clips, as %% of keyword clips (default 50)")
    p.add_argument("--background-volume", type=float, metavar="V",
                   help="largest noise amplitude mixed into a training word, 0..1 (default 0.1)")
    p.add_argument("--background-frequency", type=float, metavar="F",
                   help="share of training words that get noise, 0..1 (default 0.8)")
    p.add_argument("--patience", type=int, help="epochs without a better validation balanced accuracy before "
                                                "stopping (default 10; 4 with --fast)")
    p.add_argument("--no-balance", action="store_true", help="do not weight classes by their size in the loss")
    p.add_argument("--no-perturb", action="store_true", help="no speed/vocal-tract/room perturbation of words")
    p.add_argument("--mask", nargs="?", const="default", metavar="T,TW,F,FW",
                   help="SpecAugment: mask T stretches of up to TW frames and F bands of up to FW channels of "
                        "each training word's features (alone: 2,6,2,6)")
    p.add_argument("--teacher", type=Path, metavar="RUN",
                   help="distil: train on soft targets from the model of this run folder (same words)")
    p.add_argument("--distill-alpha", type=float, metavar="A",
                   help="with --teacher: weight of the true label in each target, 0..1 (default 0.5)")
    p.add_argument("--distill-temperature", type=float, metavar="T",
                   help="with --teacher: softening of the teacher's probabilities (default 2)")
    p.add_argument("--threads", type=int, metavar="N", help="cap TensorFlow's threads (shared machines)")
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

    p = ks.add_parser("download", help="only a task's part of Speech Commands (words + unknown sample + noise)",
                      description="Stream the Speech Commands v0.02 archive and keep only the chosen words, a "
                                  "share of the other words (for unknown) and the background noise: a few hundred "
                                  "MB instead of 3.4 GB. Run again after an interruption to finish.")
    p.add_argument("--words", default="yes,no", help="comma-separated words kept whole (default: yes,no)")
    p.add_argument("--unknown-share", type=float, default=0.1, metavar="S",
                   help="share 0..1 of every other word's clips kept for 'unknown' (default 0.1)")
    p.add_argument("--out", type=Path, help="dataset folder (default: datasets/speech_commands_subset/data)")
    p.set_defaults(func=_download)


def _share(name: str, value: float | None, high: float | None = None) -> float | None:
    from ..errors import KitError

    if value is None:
        return None
    if not value >= 0 or (high is not None and value > high):
        raise KitError(f"--{name} {value}: give a number from 0 to {high if high is not None else 'any'}")
    return value


def _mask(text: str | None) -> Any:
    """``--mask``: None (off), "default" (``MaskConfig()``) or four whole numbers T,TW,F,FW."""
    from ..audio.masking import MaskConfig
    from ..errors import KitError

    if text is None:
        return None
    if text == "default":
        return MaskConfig()
    parts = text.split(",")
    if len(parts) != 4 or not all(p.strip().isdigit() for p in parts):
        raise KitError(f"--mask {text!r}: give four whole numbers T,TW,F,FW (time masks, widest in frames, "
                       "frequency masks, widest in channels), such as 2,6,2,6")
    return MaskConfig(*[int(p) for p in parts])


def _run(args: argparse.Namespace) -> int:
    from ..errors import KitError
    from ..pipelines.kws import format_summary, run_kws

    words = [w.strip() for w in args.words.split(",") if w.strip()]
    if not words:
        raise KitError(f"--words {args.words!r}: give at least one keyword")
    for flag, v in (("epochs", args.epochs), ("copies", args.copies), ("patience", args.patience),
                    ("threads", args.threads)):
        if v is not None and v < (0 if flag == "patience" else 1):
            raise KitError(f"--{flag} {v}: give a positive whole number")
    if args.lr is not None and not 0 < args.lr < 1:
        raise KitError(f"--lr {args.lr}: give a learning rate between 0 and 1, such as 0.001")
    mask = _mask(args.mask)
    distill = None
    if args.distill_alpha is not None or args.distill_temperature is not None:
        from ..train import DistillConfig

        if args.teacher is None:
            raise KitError("--distill-alpha and --distill-temperature need --teacher RUN")
        if args.distill_alpha is not None and not 0 <= args.distill_alpha <= 1:
            raise KitError(f"--distill-alpha {args.distill_alpha}: give a weight from 0 to 1")
        if args.distill_temperature is not None and not args.distill_temperature > 0:
            raise KitError(f"--distill-temperature {args.distill_temperature}: give a positive number")
        distill = DistillConfig(**{k: v for k, v in {"alpha": args.distill_alpha,
                                                     "temperature": args.distill_temperature}.items()
                                   if v is not None})
    overrides = {k: v for k, v in {
        "unknown_percentage": _share("unknown-share", args.unknown_share),
        "silence_percentage": _share("silence-share", args.silence_share),
        "background_volume": _share("background-volume", args.background_volume, 1.0),
        "background_frequency": _share("background-frequency", args.background_frequency, 1.0),
    }.items() if v is not None}
    r = run_kws(args.out, data=args.data, words=words, model=args.model, epochs=args.epochs, fast=args.fast,
                sketch=args.sketch, seed=args.seed, augment_copies=args.copies, task_overrides=overrides,
                balance_classes=not args.no_balance, patience=args.patience, init=args.init,
                learning_rate=args.lr, real_eval=args.real_eval, perturb=False if args.no_perturb else None,
                threads=args.threads, mix_init_data=not args.no_init_data, mask=mask, teacher=args.teacher,
                distill=distill)
    print(format_summary(r))
    return 0


def _board_input(args: argparse.Namespace, labels: tuple[str, ...], cfg: Any) -> Any:
    """The model's board input path: every clip reaches the model as the sketch feeds it."""
    from ..board_input import BoardInput
    from ..errors import KitError
    from ..runtime import ModelRunner

    runner = ModelRunner(args.model, backend=args.backend)
    if runner.num_outputs != len(labels):
        raise KitError(f"{args.model}: the model has {runner.num_outputs} outputs but {len(labels)} labels "
                       f"were given ({', '.join(labels)})")
    return BoardInput(cfg, runner, labels=labels)


def _evaluate(args: argparse.Namespace) -> int:
    from ..config import KwsRunConfig
    from ..evaluate import headline, score_folder

    labels, cfg = labels_and_config(args, KwsRunConfig())
    bi = _board_input(args, labels, cfg)
    metrics = score_folder(bi, args.data, labels, cfg.audio, progress=not args.json)  # type: ignore[union-attr]
    for s in metrics["skipped_files"]:
        print(f"skipped: {printable(s)}", file=sys.stderr)
    metrics = {"model": str(args.model), **metrics}
    if args.json:
        print_json(metrics)
    else:
        print(f"{args.model} on {args.data} ({bi.runner.backend}):")
        print("  " + headline(metrics))
        for lab, r in metrics["per_class"].items():
            print(f"  {lab:<12} recall {'-' if r is None else f'{r:.3f}'}  ({metrics['support'][lab]} clips)")
    return 0


def _predict(args: argparse.Namespace) -> int:
    import numpy as np

    from ..audio.augment import loudest_window
    from ..audio.wav import read_wav
    from ..config import KwsRunConfig
    from ..errors import KitError

    labels, cfg = labels_and_config(args, KwsRunConfig())
    bi = _board_input(args, labels, cfg)
    a = cfg.audio  # type: ignore[union-attr]
    results, errors = [], []
    for path in args.wavs:
        # One bad file is reported on its own line; the others are still scored.
        try:
            x, _ = read_wav(path, a.sample_rate, allow_resample=args.resample)
        except (KitError, OSError) as e:
            text = str(e) if isinstance(e, KitError) else f"{path}: {e.strerror or e}"
            errors.append({"file": str(path), "error": text})
            continue
        clip, start = loudest_window(x, a.clip_samples)
        scores = bi.probabilities(bi.run(bi.clip_to_input(clip)))
        best = int(np.argmax(scores))
        results.append({"file": str(path), "label": labels[best], "score": float(scores[best]),
                        "scores": {lab: float(s) for lab, s in zip(labels, scores)},
                        "window_start_s": start / a.sample_rate})
    if args.json:
        print_json({"backend": bi.runner.backend, "predictions": results, "errors": errors})
    else:
        for r in results:
            others = "  ".join(f"{k} {v:.2f}" for k, v in r["scores"].items())
            print(f"{printable(r['file'])}: {r['label']} ({r['score']:.2f})   [{others}]")
    for e in errors:
        print(f"tinymlkit: error: {printable(e['error'])}", file=sys.stderr)
    return 2 if errors else 0


def _download(args: argparse.Namespace) -> int:
    from ..data.speech_commands_subset import download_speech_commands_subset

    from ..errors import KitError

    words = [w.strip() for w in args.words.split(",") if w.strip()]
    if not words:
        raise KitError(f"--words {args.words!r}: give at least one keyword, e.g. --words yes,no")
    out = download_speech_commands_subset(args.out, words=words, unknown_share=args.unknown_share)
    print(f"Speech Commands subset ({', '.join(words)} + {args.unknown_share:g} of the other words + noise) "
          f"is in {out}")
    print(f"Train on it with: tinymlkit kws run --data {out} --words {','.join(words)} --out runs/real")
    return 0
