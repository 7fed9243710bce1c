"""``tinymlkit export``: write a model's deployment files into a sketch folder."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["register"]


def register(sub: Any) -> None:
    """Add the ``export`` command."""
    p = sub.add_parser("export", help="write model_data.cc/.h, model_settings.h and model_ops.h into a sketch",
                       description="Generate a sketch's deployment files from an int8 model and its config.json.")
    p.add_argument("--model", type=Path, required=True, help="the full-int8 .tflite model")
    p.add_argument("--config", type=Path, required=True, help="the run's config.json")
    p.add_argument("--sketch", type=Path, required=True, help="the sketch folder (created if missing)")
    p.add_argument("--force", action="store_true",
                   help="replace generated files that were edited by hand (or not written by the kit), keeping "
                        "a backup NAME.bak-<time> of each")
    p.set_defaults(func=_export)


def _export(args: argparse.Namespace) -> int:
    from ..export.write import export_model

    r = export_model(args.model, args.config, args.sketch, force=args.force)
    print(f"wrote {', '.join(p.relative_to(args.sketch).as_posix() for p in r.files)} into {args.sketch}")
    for b in r.backups:
        print(f"  kept your edited version as {b.name}")
    print(f"  model {r.model_bytes} bytes; arena {r.arena_size} bytes declared"
          + (f" (TFLM measured {r.arena_measured})" if r.arena_measured else " (not measured: no TFLM here)"))
    print(f"  ops registered: {', '.join(r.ops)}")
    return 0
