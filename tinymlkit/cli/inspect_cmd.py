"""``tinymlkit inspect`` and ``tinymlkit check-sketch``: know a model, and a sketch, before flashing."""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

__all__ = ["register"]


def register(sub: Any) -> None:
    """Add the ``inspect`` and ``check-sketch`` commands."""
    from ..targets import TARGETS

    p = sub.add_parser(
        "inspect", help="ops, parameters, MACs, arena, flash and board fit of a .tflite model",
        description="Read a .tflite model with the TFLite schema, measure its tensor arena on the TFLM "
                    "interpreter, and report ops, parameters, multiply-accumulates, memory, and whether it "
                    "fits a board with an estimated latency.")
    p.add_argument("model", type=Path, metavar="MODEL.tflite", help="the model to inspect")
    p.add_argument("--target", choices=sorted(TARGETS), help="board to check the fit and latency on")
    p.add_argument("--json", action="store_true", help="print one JSON object (keys: see docs/inspect.md)")
    p.add_argument("--no-arena", action="store_true", help="skip measuring the arena on TFLM")
    p.set_defaults(func=_inspect)

    c = sub.add_parser(
        "check-sketch", help="check a sketch folder against its model before flashing",
        description="Report, one line each, every mismatch between a sketch and its model: ops missing "
                    "from the resolver or a resolver too small, arena too small, labels, input shape or "
                    "quantisation that disagree, model bytes that differ from the .tflite, op versions newer "
                    "than the pinned Arduino TFLM library runs. Exit status 1 when anything is wrong.")
    c.add_argument("sketch", type=Path, metavar="SKETCH_DIR", help="folder holding the sketch's .ino")
    c.add_argument("--model", type=Path, help="check against this .tflite (default: the one model_settings.h names)")
    c.add_argument("--config", type=Path, help="with --fix: the run's config.json (default: from the export manifest)")
    c.add_argument("--fix", action="store_true",
                   help="regenerate the generated files (model_data, model_settings.h, model_ops.h) from the model "
                        "and config, then check again; hand-written files are never changed")
    c.add_argument("--force", action="store_true",
                   help="with --fix: also replace generated files edited by hand, keeping a backup NAME.bak-<time>")
    c.add_argument("--json", action="store_true", help="print the findings as one JSON object")
    c.set_defaults(func=_check)


def _inspect(args: argparse.Namespace) -> int:
    from ..inspect import format_report, inspect_model

    report = inspect_model(args.model, target=args.target, measure=not args.no_arena)
    print(json.dumps(report.to_json(), indent=2) if args.json else format_report(report))
    return 0


def _check(args: argparse.Namespace) -> int:
    from ..export.checks import check_sketch, fix_sketch
    from ..errors import KitError

    if args.fix:
        written = fix_sketch(args.sketch, model=args.model, config=args.config, force=args.force)
        if not args.json:
            print(f"regenerated {', '.join(p.name for p in written)} in {args.sketch}")
    elif args.force:
        raise KitError("--force only goes with --fix")
    report = check_sketch(args.sketch, model=args.model)
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        for f in report.findings:
            print(f.format())
        n = len(report.errors)
        print(f"{args.sketch}: {'OK, nothing wrong found' if report.ok else f'{n} problem(s) found'}"
              + (f" (checked against {report.model})" if report.model else ""))
    return 0 if report.ok else 1
