"""What Keras' tracing costs a short training run, with and without the training state built first.

    python benchmarks/bench_train_trace.py [--repeats 3] [--epochs 2]

Each measurement is a fresh Python process (TensorFlow's trace caches would otherwise carry over) that
compiles a model as ``tinymlkit.train.fit`` does (Adam on a cosine schedule, accuracy metric) and times its
first ``fit``: ``plain`` lets Keras create the optimizer's and metrics' variables inside its first trace (it
then traces the step a second time), ``built`` calls ``tinymlkit.train.build_training_state`` first.
Models: the kit's DS-CNN (filters 16, 49x40, 256 random examples) and MobileNetV1 0.25 at 96x96x1
(64 random examples), batch 32, validation on 32 examples. Runs alternate between the two modes.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import median, write  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

_CHILD = r"""
import json, sys, time
import numpy as np
from tinymlkit.tf_quiet import load_tensorflow
load_tensorflow()
import keras
from tinymlkit.train import build_training_state, set_seed
which, mode, epochs = sys.argv[1], sys.argv[2], int(sys.argv[3])
set_seed(0)
rng = np.random.default_rng(0)
if which == "ds_cnn":
    from tinymlkit.models.kws import ds_cnn
    model, n = ds_cnn((49, 40), 4, filters=16), 256
    x, y = rng.normal(size=(n, 49, 40)).astype("float32"), rng.integers(0, 4, n)
else:
    from tinymlkit.models.mobilenet import mobilenet_v1
    model, n = mobilenet_v1((96, 96, 1), 2, 0.25), 64
    x, y = rng.normal(size=(n, 96, 96, 1)).astype("float32"), rng.integers(0, 2, n)
schedule = keras.optimizers.schedules.CosineDecay(1e-3, decay_steps=100, alpha=0.05)
model.compile(optimizer=keras.optimizers.Adam(learning_rate=schedule), loss="sparse_categorical_crossentropy",
              metrics=["accuracy"])
traces = [0]
step = model.train_step
def counted(data):
    traces[0] += 1
    return step(data)
model.train_step = counted
t = time.perf_counter()
if mode == "built":
    build_training_state(model, x, y)
model.fit(x, y, batch_size=32, epochs=epochs, verbose=0, validation_data=(x[:32], y[:32]))
print(json.dumps({"seconds": time.perf_counter() - t, "traces": traces[0]}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=2)
    args = ap.parse_args()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
    results: dict[str, dict[str, list[float]]] = {}
    for model in ("ds_cnn", "mobilenet_v1_0.25"):
        for rep in range(args.repeats):
            for mode in (("plain", "built") if rep % 2 == 0 else ("built", "plain")):
                out = subprocess.run([sys.executable, "-c", _CHILD, model, mode, str(args.epochs)], env=env,
                                     capture_output=True, text=True, check=True)
                r = json.loads(out.stdout.strip().splitlines()[-1])
                slot = results.setdefault(model, {}).setdefault(mode, [])
                slot.append(round(r["seconds"], 2))
                results[model].setdefault(f"{mode}_traces", []).append(r["traces"])
                print(f"{model:20s} {mode:6s} {r['seconds']:6.1f} s  train-step traces {r['traces']}", flush=True)
    summary = {m: {"plain_median_s": median(v["plain"]), "built_median_s": median(v["built"]),
                   "ratio": round(median(v["plain"]) / median(v["built"]), 2), "runs": v}
               for m, v in results.items()}
    for m, s in summary.items():
        print(f"{m}: first fit ({args.epochs} epochs) {s['plain_median_s']:.1f} s -> {s['built_median_s']:.1f} s "
              f"({s['ratio']}x)")
    write("train_trace", {"epochs": args.epochs, "repeats": args.repeats, "results": summary,
                          "load_average": os.getloadavg()})


if __name__ == "__main__":
    main()
