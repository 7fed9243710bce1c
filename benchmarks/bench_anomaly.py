"""Anomaly detection: AUC float vs int8 on TFLM, model and arena vs the Nano's budget, TFLM inference time.

    python benchmarks/bench_anomaly.py [--seeds 3] [--data MACHINE_DIR] [--epochs N]

Default data: the SYNTHETIC machine sounds (full set). Target (issue 18, MLPerf Tiny): AUC >= 0.85 in
int8 on TFLM on held-out data; model and arena within the Nano 33 BLE Sense budget (1 MB flash,
256 KB RAM). Quotes medians over seeds.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import median, write  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--data", type=Path, help="a DCASE-layout machine folder (default: synthetic)")
    ap.add_argument("--epochs", type=int)
    args = ap.parse_args()

    import numpy as np

    from tinymlkit.anomaly.run import run_anomaly
    from tinymlkit.runtime import ModelRunner
    from tinymlkit.targets import get_target

    runs = []
    for seed in range(1, args.seeds + 1):
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            r = run_anomaly(Path(tmp) / "run", data=args.data, seed=seed, epochs=args.epochs, progress=False)
            total = time.perf_counter() - t0
            runner = ModelRunner(Path(tmp) / "run" / "model_int8.tflite", backend="tflm")
            x = np.zeros(runner.input_shape[1:], dtype=np.int8)
            times = []
            for _ in range(5):
                t = time.perf_counter()
                for _ in range(200):
                    runner.run_raw(x)
                times.append((time.perf_counter() - t) / 200 * 1e6)
        m = r.metrics
        runs.append({"seed": seed, "total_s": round(total, 1), "auc": m["auc"], "pauc_0.1": m["pauc_0.1"],
                     "at_threshold": m["at_threshold"], "model_bytes_int8": m["model_bytes_int8"],
                     "arena_bytes_tflm": m["arena_bytes_tflm"], "parameters": m["parameters"],
                     "tflm_host_us_per_inference": round(median(times), 1), "steps_s": m["seconds"]})
        print(runs[-1], flush=True)
    nano = get_target("nano33ble")
    model_b = runs[0]["model_bytes_int8"]
    arena_b = runs[0]["arena_bytes_tflm"]
    auc8 = [r["auc"]["int8_tflm"] for r in runs]
    write("anomaly", {
        "data": r.metrics["data"],
        "synthetic": r.metrics["synthetic"],
        "median_auc_int8_tflm": median(auc8),
        "median_auc_float": median([r["auc"]["keras_float"] for r in runs]),
        "median_pauc_int8_tflm": median([r["pauc_0.1"]["int8_tflm"] for r in runs]),
        "target_auc": 0.85,
        "meets_target": median(auc8) >= 0.85,
        "model_bytes_int8": model_b,
        "arena_bytes_tflm": arena_b,
        "nano_flash_bytes": getattr(nano, "flash_bytes", None),
        "nano_ram_bytes": getattr(nano, "ram_bytes", None),
        "median_total_s": median([r["total_s"] for r in runs]),
        "runs": runs,
    })


if __name__ == "__main__":
    main()
