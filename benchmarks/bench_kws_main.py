"""The main job's wall time by step on the default (synthetic) data, and what it reached, on its own
test voices and on real speakers (../shared/data/speech_commands_v0.02_test_dev, where present),
beside the reference micro_speech model on the same real clips.

    python benchmarks/bench_kws_main.py [--fresh] [--repeats 1] [--threads N]

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
from _common import SHARED_DATA, median, write  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--fresh", action="store_true", help="remake the synthetic data set (timed)")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--model", default="ds_cnn_tiny", help="the main job's model (scripts/run_main.sh)")
    ap.add_argument("--threads", type=int, help="cap TensorFlow's threads")
    args = ap.parse_args()
    real = SHARED_DATA / "speech_commands_v0.02_test_dev"
    real_eval = real if real.is_dir() else None

    t_import = time.perf_counter()
    from tinymlkit.data.synth_speech import default_synth_dir
    from tinymlkit.pipelines.kws import run_kws

    runs = []
    for i in range(args.repeats):
        if args.fresh and default_synth_dir().exists():
            shutil.rmtree(default_synth_dir())
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            r = run_kws(Path(tmp) / "run", model=args.model, sketch=Path(tmp) / "sketch", progress=False,
                        real_eval=real_eval, threads=args.threads)
            total = time.perf_counter() - t0
        m = r.metrics
        real_m = m["real_eval"].get(str(real)) if real_eval else None
        runs.append({"total_s": round(total, 1), "steps_s": m["steps_seconds"],
                     "balanced_accuracy_test_voices": m["balanced_accuracy"], "per_class_test_voices": m["per_class"],
                     "real_speakers": None if real_m is None else {
                         k: real_m[k] for k in ("balanced_accuracy", "per_class", "unknown_false_accept_rate", "n")},
                     "accuracy": {k: m[k]["accuracy"] for k in ("keras", "float", "int8_litert", "int8_tflm") if k in m},
                     "balanced_accuracy": {k: m[k]["balanced_accuracy"] for k in ("float", "int8_tflm") if k in m},
                     "test_clips": m["keras"]["n"], "model_bytes_int8": m["model_bytes"]["int8"],
                     "arena_bytes": m["arena_bytes"], "tflm_vs_litert": m["tflm_vs_litert"],
                     "epochs_run": m["train"]["epochs_run"]})
    reference = None
    if real_eval:
        from tinymlkit.evaluate import score_folder

        ref = SHARED_DATA / "tflite_micro_reference" / "micro_speech" / "micro_speech_quantized.tflite"
        rm = score_folder(ref, real, ("silence", "unknown", "yes", "no"))
        reference = {k: rm[k] for k in ("balanced_accuracy", "per_class", "unknown_false_accept_rate", "n")}
        for r in runs:
            print(f"real speakers: kit {r['real_speakers']['balanced_accuracy']:.3f} (unknown "
                  f"{r['real_speakers']['per_class']['unknown']:.3f}) | reference micro_speech "
                  f"{reference['balanced_accuracy']:.3f} (unknown {reference['per_class']['unknown']:.3f})")
    write("kws_main", {"model": args.model, "fresh_data": args.fresh, "reference_micro_speech_real": reference,
                       "median_total_s": median([r["total_s"] for r in runs]),
                       "import_s": round(time.perf_counter() - t_import - sum(r["total_s"] for r in runs), 1),
                       "runs": runs})


if __name__ == "__main__":
    main()
