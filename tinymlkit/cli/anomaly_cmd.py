"""``tinymlkit anomaly run|score|export`` and ``tinymlkit data machine-sounds``."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..errors import KitError
from .common import data_subparsers, print_json

__all__ = ["register"]


def register(sub: Any) -> None:
    """Add the ``anomaly`` command group and ``data machine-sounds``."""
    p = sub.add_parser("anomaly", help="machine-sound anomaly detection (autoencoder, AUC, int8 on TFLM, sketch)",
                       description="Train an autoencoder on normal machine sound, score faults by reconstruction "
                                   "error (ROC AUC), check the int8 model on TFLM and write the live sketch's files.")
    s = p.add_subparsers(dest="anomaly_command", metavar="ACTION", required=True)

    r = s.add_parser("run", help="data -> train -> int8 -> TFLM AUC -> sketch files")
    r.add_argument("--data", type=Path, help="a machine-type folder in the DCASE layout (train/, test/); "
                                             "default: the SYNTHETIC machine sounds, made once")
    r.add_argument("--out", type=Path, required=True, help="run folder for the model, config.json, metrics.json")
    r.add_argument("--sketch", type=Path, help="also write the generated files into this sketch folder "
                                               "(e.g. arduino_sketches/anomaly)")
    r.add_argument("--epochs", type=int, help="training epochs (default 30, fast 4)")
    r.add_argument("--seed", type=int, default=1234, help="seed (default 1234)")
    r.add_argument("--fast", action="store_true", help="small data and few epochs (tests, CI)")
    r.add_argument("--json", action="store_true", help="print metrics.json instead of the summary")
    r.set_defaults(func=_run)

    c = s.add_parser("score", help="score WAV recordings (or a DCASE-layout test folder) with an int8 model")
    c.add_argument("--model", type=Path, required=True, help="model_int8.tflite of a run")
    c.add_argument("--config", type=Path, required=True, help="config.json of the same run (front end, threshold)")
    c.add_argument("--data", type=Path, help="a machine-type folder: scores its test/ clips and reports the AUC")
    c.add_argument("wavs", nargs="*", type=Path, help="recordings to score (16 kHz, 16-bit)")
    c.add_argument("--json", action="store_true", help="print JSON")
    c.set_defaults(func=_score)

    e = s.add_parser("export", help="write a run's generated files into the anomaly sketch")
    e.add_argument("--model", type=Path, required=True, help="model_int8.tflite of a run")
    e.add_argument("--config", type=Path, required=True, help="config.json of the same run")
    e.add_argument("--sketch", type=Path, required=True, help="sketch folder (arduino_sketches/anomaly)")
    e.set_defaults(func=_export)

    ds = data_subparsers(sub)
    m = ds.add_parser("machine-sounds", help="make the SYNTHETIC machine-sound set, or download a real one",
                      description="Without --download: make the synthetic normal/faulty machine sounds (offline). "
                                  "With --download MACHINE: fetch the DCASE 2020 Task 2 development data of one "
                                  "machine type from Zenodo (licence CC BY-NC-SA 4.0; see "
                                  "datasets/machine_sounds/README.md).")
    m.add_argument("--download", metavar="MACHINE",
                   help="fan, pump, slider, valve (MIMII) or ToyCar, ToyConveyor (ToyADMOS)")
    m.add_argument("--from-captures", type=Path, metavar="DATASET",
                   help="copy clips captured from the board (DATASET/normal, DATASET/anomaly) into the layout")
    m.add_argument("--machine", default="my_machine", help="machine-type folder name for --from-captures")
    m.add_argument("--out", type=Path, help="folder to make or download into")
    m.add_argument("--fast", action="store_true", help="the small synthetic set of fast mode")
    m.set_defaults(func=_data)


def _run(args: argparse.Namespace) -> int:
    from ..anomaly.run import format_summary, run_anomaly

    if args.epochs is not None and args.epochs < 1:
        raise KitError(f"--epochs {args.epochs}: give at least 1")
    res = run_anomaly(args.out, data=args.data, fast=args.fast, sketch=args.sketch, epochs=args.epochs,
                      seed=args.seed, progress=not args.json)
    if args.json:
        print_json(res.metrics)
    else:
        print(format_summary(res))
        if res.sketch_files:
            print(f"sketch files written to {res.sketch_files[0].parent}")
    return 0


def _score(args: argparse.Namespace) -> int:
    from ..anomaly.config import load_anomaly_config
    from ..anomaly.run import score_files
    from ..anomaly.scoring import roc_auc
    from ..data.machine_sounds import list_machine_clips

    cfg = load_anomaly_config(args.config)
    if not args.model.is_file():
        raise KitError(f"{args.model}: no such model file")
    if args.data is None and not args.wavs:
        raise KitError("give WAV files to score, or --data MACHINE_FOLDER")
    paths = list(args.wavs)
    labels: list[int] = []
    if args.data is not None:
        clips = list_machine_clips(args.data)
        paths += list(clips.test)
        labels = list(clips.test_labels)
    rows = score_files(args.model, cfg, paths)
    result: dict[str, Any] = {"threshold": cfg.scoring.threshold, "files": rows}
    if labels:
        scored = rows[len(args.wavs):]
        ok = [(r["score"], y) for r, y in zip(scored, labels) if "score" in r]
        if len({y for _, y in ok}) == 2:
            result["auc"] = roc_auc([y for _, y in ok], [s for s, _ in ok])
    if args.json:
        print_json(result)
    else:
        for r in rows:
            if "error" in r:
                print(f"{r['file']}: not scored: {r['error']}")
            else:
                print(f"{r['file']}: score {r['score']:.4g} {'ANOMALY' if r['anomaly'] else 'normal'}")
        if "auc" in result:
            print(f"AUC on {args.data}: {result['auc']:.3f}")
    return 2 if any("error" in r for r in rows) else 0


def _export(args: argparse.Namespace) -> int:
    from ..anomaly.config import load_anomaly_config
    from ..anomaly.sketch import export_anomaly_sketch

    cfg = load_anomaly_config(args.config)
    files = export_anomaly_sketch(args.model, cfg, args.sketch, args.config)
    print("wrote " + ", ".join(f.name for f in files) + f" into {args.sketch}")
    return 0


def _data(args: argparse.Namespace) -> int:
    from ..data.machine_sounds import download_machine_sounds, make_machine_sounds

    if args.from_captures is not None:
        from ..data.machine_sounds import from_captures

        if args.out is None:
            raise KitError("--from-captures needs --out DIR (where the DCASE-layout copy goes)")
        folder = from_captures(args.from_captures, args.out, args.machine)
        print(f"captured clips are in {folder} (train/ and test/)")
    elif args.download:
        folder = download_machine_sounds(args.download, args.out)
        print(f"{args.download} development data is in {folder}")
    else:
        from ..anomaly.run import FAST_MACHINES, FULL_MACHINES

        folder = make_machine_sounds(args.out, FAST_MACHINES if args.fast else FULL_MACHINES, progress=True)
        print(f"SYNTHETIC machine sounds are in {folder}")
    return 0
