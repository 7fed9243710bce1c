"""The main job's wall time by step on the default (synthetic) data, and what it reached.

    python benchmarks/bench_kws_main.py [--fresh] [--repeats 1]

--fresh deletes the synthetic set first, so its generation is timed too (as on a new machine).
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import median, write  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--fresh", action="store_true", help="remake the synthetic data set (timed)")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--model", default="tiny_conv")
    args = ap.parse_args()

    t_import = time.perf_counter()
    from tinymlkit.data.synth_speech import default_synth_dir
    from tinymlkit.pipelines.kws import run_kws

    runs = []
    for i in range(args.repeats):
        if args.fresh and default_synth_dir().exists():
            shutil.rmtree(default_synth_dir())
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            r = run_kws(Path(tmp) / "run", model=args.model, sketch=Path(tmp) / "sketch", progress=False)
            total = time.perf_counter() - t0
        m = r.metrics
        runs.append({"total_s": round(total, 1), "steps_s": m["steps_seconds"],
                     "accuracy": {k: m[k]["accuracy"] for k in ("keras", "float", "int8_litert", "int8_tflm") if k in m},
                     "balanced_accuracy": {k: m[k]["balanced_accuracy"] for k in ("float", "int8_tflm") if k in m},
                     "test_clips": m["keras"]["n"], "model_bytes_int8": m["model_bytes"]["int8"],
                     "arena_bytes": m["arena_bytes"], "tflm_vs_litert": m["tflm_vs_litert"],
                     "epochs_run": m["train"]["epochs_run"]})
    write("kws_main", {"model": args.model, "fresh_data": args.fresh,
                       "median_total_s": median([r["total_s"] for r in runs]),
                       "import_s": round(time.perf_counter() - t_import - sum(r["total_s"] for r in runs), 1),
                       "runs": runs})


if __name__ == "__main__":
    main()
