"""``tinymlkit vww run|evaluate|predict|get-base`` and ``tinymlkit data vww-coco|wake-vision``: the person-detector track."""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

from .common import add_config_or_labels, data_subparsers, int_in, labels_and_config, print_json
from ..vision.int8_input import DEFAULT_NORMALIZATION, NORMALIZATIONS

__all__ = ["register"]


def _fraction(text: str) -> float:
    v = float(text)
    if not 0.0 <= v < 1.0:
        raise argparse.ArgumentTypeError(f"{text}: give a fraction of the image area, e.g. 0.005 for 0.5 %")
    return v


def _alpha(text: str) -> float:
    """An argparse type: a MobileNetV1 width multiplier from 0.1 to 1.0."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(v) or not 0.1 <= v <= 1.0:
        raise argparse.ArgumentTypeError(f"{text}: give a width multiplier from 0.1 to 1.0")
    return v


def register(sub: Any) -> None:
    """Add the ``vww`` command and ``data vww-coco``."""
    vww = sub.add_parser("vww", help="visual wake words (person detector): train, evaluate, predict",
                         description="Person detection with MobileNetV1, as the board runs it.")
    vs = vww.add_subparsers(dest="vww_command", metavar="STEP", required=True)

    p = vs.add_parser("run", help="images -> MobileNetV1 -> int8 -> TFLM check -> sketch files",
                      description="Train a person detector end to end and write its run folder.")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--data", type=Path, help="image folder: one sub-folder per label (non_person/, person/)")
    src.add_argument("--synthetic", action="store_true",
                     help="the offline drawn set: a pipeline smoke test (the default; it does not teach real people)")
    p.add_argument("--alpha", type=_alpha, default=0.25, help="MobileNetV1 width multiplier, 0.1 to 1.0 (default 0.25)")
    p.add_argument("--size", type=int_in(32, 640), default=96, help="input width and height in pixels, 32 to 640 (default 96)")
    p.add_argument("--grayscale", action="store_true", default=None, help="one input channel (the default)")
    p.add_argument("--rgb", dest="grayscale", action="store_false", help="three input channels")
    p.add_argument("--epochs", type=int, help="largest number of epochs (default 20; 3 with --fast)")
    p.add_argument("--fast", action="store_true", help="small data and few epochs; still runs every step")
    p.add_argument("--weights", default="none",
                   help="start: 'none' (scratch, default); 'person_detect' (the TFLM example's real person detector, "
                        "downloaded once; offline give PATH.tflite to a local copy); 'imagenet' (keras.applications, "
                        "needs the network once); or PATH to model.keras of an earlier run (transfer from its base)")
    p.add_argument("--real-eval", type=Path, metavar="DIR",
                   help="real photos (person/, non_person/, or sub-folders holding them) scored beside the test split")
    p.add_argument("--normalization", choices=sorted(NORMALIZATIONS), default=DEFAULT_NORMALIZATION,
                   help=f"pixels to model input in training (default {DEFAULT_NORMALIZATION}: pixel/127.5 - 1); "
                        "saved in config.json and used by evaluation, export and the virtual board")
    p.add_argument("--learning-rate", type=float, help="learning rate (default 0.001; 0.0005 from person_detect)")
    p.add_argument("--seed", type=int, default=1234, help="random seed (default 1234)")
    p.add_argument("--out", type=Path, required=True, help="run folder for models, config.json, metrics.json, plots")
    p.add_argument("--sketch", type=Path, help="sketch folder to write the deployment files into")
    p.set_defaults(func=_run)

    p = vs.add_parser("get-base", help="get person_detect.tflite, the real pretrained person detector",
                      description="Download the TFLM example's person_detect.tflite (Apache-2.0, 294 KB) once from "
                                  "the tflite-micro repository, SHA-256 checked, or take a local copy; `vww run "
                                  "--weights person_detect` then starts from it without the network.")
    p.add_argument("--from", dest="source", type=Path, metavar="FILE",
                   help="a local copy to check and keep instead of downloading")
    p.add_argument("--url", default=None, help="download from this address instead of the pinned upstream one")
    p.set_defaults(func=_get_base)

    p = vs.add_parser("evaluate", help="score a .tflite model on a labelled image folder",
                      description="Score a model on every image of a folder whose sub-folders are the labels, "
                                  "feeding it exactly as the board does.")
    p.add_argument("--model", type=Path, required=True, help="the .tflite model")
    p.add_argument("--data", type=Path, required=True, help="image folder, one sub-folder per label")
    add_config_or_labels(p, "non_person,person")
    p.add_argument("--backend", choices=["tflm", "litert"], help="interpreter (default: TFLM where installed)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_evaluate)

    p = vs.add_parser("predict", help="label and scores of image files",
                      description="Run a model on image files (JPEG, PNG, BMP); unreadable files are reported, "
                                  "the others still run.")
    p.add_argument("--model", type=Path, required=True, help="the .tflite model")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--config", type=Path, help="the run's config.json (default: config.json beside the model)")
    g.add_argument("--labels", help="comma-separated labels in output order, e.g. non_person,person")
    p.add_argument("--backend", choices=["tflm", "litert"], help="interpreter (default: TFLM where installed)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("images", nargs="+", type=Path, metavar="IMAGE", help="image files")
    p.set_defaults(func=_predict)

    ds = data_subparsers(sub)
    p = ds.add_parser("vww-coco", help="Visual Wake Words folders from COCO annotations and images",
                      description="Label COCO images person / non_person by the Visual Wake Words rule and write "
                                  "OUT/person/ and OUT/non_person/ at the model input size. From local files "
                                  "(--annotations and --images), or with --max-images N from the network: the "
                                  "annotation zip once (253 MB, resumable, SHA-256 checked) and only N images "
                                  "(half person), with per-image licences in OUT/attribution.csv.")
    p.add_argument("--annotations", type=Path, help="COCO instances JSON, e.g. instances_train2014.json")
    p.add_argument("--images", type=Path, help="folder of the COCO images, e.g. train2014/")
    p.add_argument("--max-images", type=int, help="download this many images (half person) instead of reading "
                                                  "local files")
    p.add_argument("--split", default="val2014", choices=["val2014", "train2014"],
                   help="with --max-images: the COCO 2014 split to draw from (default val2014)")
    p.add_argument("--seed", type=int, default=0, help="with --max-images: which images are drawn (default 0)")
    p.add_argument("--annotations-url", help="with --max-images: fetch the annotation zip from here instead "
                                             "(no checksum check)")
    p.add_argument("--images-url", help="with --max-images: fetch images from URL/SPLIT/FILE instead of COCO's server")
    p.add_argument("--out", type=Path, help="dataset folder to write (re-runs resume; required with --annotations; "
                                            "default with --max-images: datasets/vww/data/coco_SPLIT)")
    p.add_argument("--size", type=int, default=96, help="output width and height (default 96)")
    p.add_argument("--grayscale", action="store_true", help="write grayscale (default RGB; training converts)")
    p.add_argument("--min-area", type=_fraction, default=0.005,
                   help="person area must be more than this fraction of the image (default 0.005 = 0.5 %%)")
    p.add_argument("--area", choices=["box", "segmentation"], default="box",
                   help="measure the bounding box (paper, default) or the mask area (TF reference script)")
    p.add_argument("--no-crowd", action="store_true", help="ignore crowd annotations (iscrowd=1)")
    p.add_argument("--limit", type=int, help="only the first N images (by COCO id)")
    p.set_defaults(func=_vww_coco)

    p = ds.add_parser("wake-vision", help="a sample of N real Wake Vision photos (person / non_person)",
                      description="Fetch only N images from the Wake Vision parquet shards on Hugging Face (byte "
                                  "ranges of the row groups needed, not whole shards), strip EXIF/GPS, and write "
                                  "OUT/person/ and OUT/non_person/ with per-image attribution in OUT/attribution.csv. "
                                  "Re-runs resume and re-check the SHA-256 of every image already written.")
    p.add_argument("--max-images", type=int, required=True, help="how many images to fetch (balanced over labels)")
    p.add_argument("--split", default="validation",
                   help="Wake Vision split: validation (default; hand-checked labels), test, train_quality")
    p.add_argument("--out", type=Path, help="dataset folder (default: datasets/wake_vision/data/SPLIT)")
    p.add_argument("--index-url", help="parquet shard listing (JSON) to read instead of Hugging Face's")
    p.add_argument("--max-side", type=int_in(16, 4096), default=320, help="downscale so the longer side is at most this (default 320)")
    p.set_defaults(func=_wake_vision)


def _run(args: argparse.Namespace) -> int:
    from ..pipelines.vww import format_summary, run_vww

    r = run_vww(args.out, data=args.data, alpha=args.alpha, size=args.size,
                grayscale=args.grayscale is not False, epochs=args.epochs, fast=args.fast, weights=args.weights,
                sketch=args.sketch, seed=args.seed, real_eval=args.real_eval, normalization=args.normalization,
                learning_rate=args.learning_rate)
    print(format_summary(r))
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from ..config import VwwRunConfig
    from ..pipelines.vww import evaluate_folder

    labels, cfg = labels_and_config(args, VwwRunConfig())
    # The run's config carries its normalisation and input size: keep it (None: labels given, kit defaults).
    m = evaluate_folder(args.model, args.data, labels, backend=args.backend, progress=not args.json,
                        config=cfg if args.config is not None else None)
    m.update({"model": str(args.model), "data": str(args.data)})
    for s in m["skipped_files"]:
        print(f"skipped: {s['reason']}", file=sys.stderr)
    if args.json:
        print_json(m)
    else:
        print(f"{args.model} on {args.data} ({m['backend']}): accuracy {m['accuracy']:.3f}, "
              f"balanced accuracy {m['balanced_accuracy']:.3f}, n = {m['n']}")
        for lab, r in m["per_class"].items():
            print(f"  {lab:<12} recall {'-' if r is None else f'{r:.3f}'}  ({m['support'][lab]} images)")
    return 0


def _predict(args: argparse.Namespace) -> int:
    from ..config import VwwRunConfig, load_run_config
    from ..errors import KitError
    from ..pipelines.vww import predict_files

    labels: tuple[str, ...] | None = None
    cfg: VwwRunConfig | None = None
    if args.labels:
        labels = tuple(s.strip() for s in args.labels.split(",") if s.strip())
    else:
        cfg_path = args.config or (args.model.parent / "config.json")
        if args.config is not None or cfg_path.is_file():
            loaded = load_run_config(cfg_path)
            if not isinstance(loaded, VwwRunConfig):
                raise KitError(f"{cfg_path}: a '{loaded.kind}' config, but this command needs a 'vww' one")
            cfg = loaded
    results = predict_files(args.model, args.images, labels, backend=args.backend, config=cfg)
    bad = [r for r in results if "error" in r]
    if args.json:
        print_json({"predictions": results})
    else:
        for r in results:
            if "error" in r:
                print(f"error: {r['error']}", file=sys.stderr)
            else:
                others = "  ".join(f"{k} {v:.2f}" for k, v in r["scores"].items())
                print(f"{r['file']}: {r['label']}   [{others}]")
    return 2 if bad else 0


def _vww_coco(args: argparse.Namespace) -> int:
    from ..data.vww_coco import build_vww_folder
    from ..errors import KitError

    if args.max_images is not None:
        if args.annotations is not None or args.images is not None:
            raise KitError("--max-images downloads from COCO; give either it or --annotations and --images")
        return _vww_coco_fetch(args)
    missing = [f for f, v in (("--annotations", args.annotations), ("--images", args.images), ("--out", args.out))
               if v is None]
    if missing:
        raise KitError(f"data vww-coco needs {', '.join(missing)} (local COCO files), or --max-images N to download "
                       "N images")
    rep = build_vww_folder(args.annotations, args.images, args.out, args.size, args.size,
                           1 if args.grayscale else 3, args.min_area, args.area, not args.no_crowd, args.limit)
    for f, reason in rep.skipped:
        print(f"skipped: {reason}", file=sys.stderr)
    print(f"{rep.out_dir}: wrote {rep.written['person']} person and {rep.written['non_person']} non_person images"
          f" ({rep.already_there} already there, {len(rep.skipped)} skipped); rule and counts in vww_manifest.json")
    return 0


def _vww_coco_fetch(args: argparse.Namespace) -> int:
    import dataclasses

    from ..data.vww_coco_fetch import COCO_2014_ANNOTATIONS, fetch_vww_coco

    remote = COCO_2014_ANNOTATIONS
    if args.annotations_url:
        remote = dataclasses.replace(remote, url=args.annotations_url, sha256=None, size=None)
    if args.limit is not None:
        from ..errors import KitError

        raise KitError("--limit works on local files; with --max-images the number is --max-images")
    rep = fetch_vww_coco(args.max_images, out=args.out, split=args.split, annotations=remote,
                         images_url=args.images_url, size=args.size, channels=1 if args.grayscale else 3,
                         min_area=args.min_area, area_source=args.area, include_crowd=not args.no_crowd,
                         seed=args.seed)
    for line in rep.failed:
        print(f"skipped: {line}", file=sys.stderr)
    print(f"{rep.out}: {rep.chosen['person']} person and {rep.chosen['non_person']} non_person images drawn from COCO "
          f"{args.split} ({rep.downloaded} downloaded, {rep.already_there} already in {rep.cache}, {len(rep.failed)} "
          f"failed); licences in {rep.out / 'attribution.csv'}")
    return 0


def _get_base(args: argparse.Namespace) -> int:
    from ..files import atomic_write_bytes
    from ..models.person_detect_base import (PERSON_DETECT_SHA256, PERSON_DETECT_URL, download_person_detect,
                                             person_detect_cache_file, read_person_detect_weights)

    dest = person_detect_cache_file()
    if args.source is not None:
        read_person_detect_weights(args.source)  # refuses anything that is not the MobileNetV1 detector
        if not dest.is_file():
            atomic_write_bytes(dest, args.source.read_bytes())
        path = dest
    else:
        # Another address may serve another build of the file: the architecture check below still applies.
        path = download_person_detect(dest, url=args.url or PERSON_DETECT_URL,
                                      sha256=None if args.url else PERSON_DETECT_SHA256)
        read_person_detect_weights(path)
    print(f"person_detect.tflite (TFLM example, Apache-2.0) is in {path}; `tinymlkit vww run --weights person_detect` "
          "starts from it")
    return 0


def _wake_vision(args: argparse.Namespace) -> int:
    from ..data.wake_vision import WAKE_VISION_INDEX_URL, fetch_wake_vision

    rep = fetch_wake_vision(args.max_images, out=args.out, split=args.split,
                            index_url=args.index_url or WAKE_VISION_INDEX_URL, max_side=args.max_side)
    for what in rep.skipped:
        print(f"skipped: {what}", file=sys.stderr)
    print(f"{rep.out}: {rep.written} new and {rep.already_there} already there "
          f"({rep.counts.get('person', 0)} person, {rep.counts.get('non_person', 0)} non_person); "
          f"{rep.bytes_fetched:,} bytes fetched; attribution in {rep.out / 'attribution.csv'}")
    return 0
