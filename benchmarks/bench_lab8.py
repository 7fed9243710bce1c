"""Lab 8 (anomaly detection): what the graded (fast) run's solution reaches, over training seeds.

    python benchmarks/bench_lab8.py [--seeds 1,2,3]

Uses the lab's own settings (labs/source/lab8_anomaly_detection, fast mode): the same clips, the same
autoencoder, int8 on TFLM, scored as the kit's sketch scores (``clip_scores_runner``); the threshold is the 90th
percentile of the validation clips' scores (10 % false alarms asked). Reports the AUC on the lab's 40 test clips
and on held-out clips of the same machines (clip numbers the lab does not use, as many as its hidden test),
and the false-alarm rate on the held-out normal clips. Writes benchmarks/results/lab8.json.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import median, write  # noqa: E402

# The lab's fast-mode settings (setup cell setup-03 of the notebook).
CLIPS = dict(train=30, validation=20, test_normal=10, test_faulty=10)
HELD_OUT = (20, 15, 90000)  # normal and faulty clips per machine, first clip number (not the hidden test's)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seeds", default="1,2,3", help="comma-separated training seeds (the lab uses 8)")
    args = ap.parse_args()

    import dataclasses

    import numpy as np

    from tinymlkit.anomaly.config import ANOMALY_AUDIO, AutoencoderConfig
    from tinymlkit.anomaly.scoring import choose_threshold, clip_scores_runner, roc_auc
    from tinymlkit.data.machine_sounds import MachineSoundConfig
    from tinymlkit.grading.labs import anomaly_lab_set, machine_clip_frames
    from tinymlkit.runtime import ModelRunner

    machines = MachineSoundConfig(machine_ids=2, seconds=1.0)
    base = AutoencoderConfig(hidden_units=64, hidden_layers=2, epochs=10, learning_rate=0.003)
    held = machine_clip_frames(machines, *HELD_OUT)
    runs = []
    for seed in (int(s) for s in args.seeds.split(",")):
        t0 = time.perf_counter()
        data = anomaly_lab_set(machines, dataclasses.replace(base, seed=seed), **CLIPS)
        runner = ModelRunner(data["model_int8"].tobytes(), backend="tflm")
        score = lambda frames: clip_scores_runner(runner, list(frames), ANOMALY_AUDIO, 5)  # noqa: E731
        val, test, hold = score(data["validation_frames"]), score(data["test_frames"]), score(held["frames"])
        threshold = choose_threshold(val, 0.9)
        run = {"seed": seed, "auc_test": round(roc_auc(data["test_labels"], test), 4),
               "auc_held_out": round(roc_auc(held["labels"], hold), 4),
               "false_alarms_held_out": round(float(np.mean(hold[held["labels"] == 0] > threshold)), 4),
               "detected_held_out": round(float(np.mean(hold[held["labels"] == 1] > threshold)), 4),
               "seconds": round(time.perf_counter() - t0, 1)}
        print(run, flush=True)
        runs.append(run)
    summary = {k: median([r[k] for r in runs]) for k in ("auc_test", "auc_held_out", "false_alarms_held_out")}
    summary["min_auc_held_out"] = min(r["auc_held_out"] for r in runs)
    print("median:", summary)
    write("lab8", {"settings": {"clips": CLIPS, "held_out": HELD_OUT, "autoencoder": dataclasses.asdict(base)},
                   "runs": runs, "summary": summary})


if __name__ == "__main__":
    main()
