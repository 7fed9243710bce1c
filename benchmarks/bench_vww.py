"""Person-detector figures: time per epoch, transfer vs scratch, float vs int8-on-TFLM accuracy, memory.

    python benchmarks/bench_vww.py epoch    [--images 1000] [--epochs 4]
    python benchmarks/bench_vww.py transfer [--size 96] [--target 0.75] [--pretrain person] [--task person|shapes]
    python benchmarks/bench_vww.py accuracy [--epochs 20]       (a full synthetic run, with sketch export)
    python benchmarks/bench_vww.py all

Each writes benchmarks/results/vww_<part>.json. Times are medians over epochs after the first (the
first includes graph tracing, reported separately).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import median, write  # noqa: E402


def bench_epoch(images: int, epochs: int, alpha: float = 0.25, size: int = 96, channels: int = 1) -> dict[str, Any]:
    """Seconds per epoch of MobileNetV1 on ``images`` synthetic images with the kit's fit()."""
    import keras

    from tinymlkit.config import TrainConfig
    from tinymlkit.data.synth_images import make_person_images
    from tinymlkit.models.mobilenet import mobilenet_v1
    from tinymlkit.train import fit
    from tinymlkit.vision.int8_input import normalize

    x, y = make_person_images(images, size, channels, seed=0)
    xv, yv = make_person_images(100, size, channels, seed=1)
    times: list[float] = []

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self.t0 = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            times.append(time.perf_counter() - self.t0)

    model = mobilenet_v1((size, size, channels), 2, alpha)
    cfg = TrainConfig(epochs=epochs, batch_size=32, learning_rate=0.001, patience=epochs)
    # fit() has no callback argument: time the epochs through Keras' own hook on the model.
    orig_fit = model.fit

    def timed_fit(*a: Any, **k: Any) -> Any:
        k["callbacks"] = [*k.get("callbacks", []), Timer()]
        return orig_fit(*a, **k)

    model.fit = timed_fit  # type: ignore[method-assign]
    fit(model, normalize(x), y, normalize(xv), yv, cfg, progress=False)
    later = times[1:] or times
    return {"alpha": alpha, "input": [size, size, channels], "images": images, "batch_size": 32,
            "epoch_seconds": [round(t, 2) for t in times], "first_epoch_s": round(times[0], 2),
            "median_epoch_s_after_first": round(median(later), 2),
            "median_s_per_1000_images": round(median(later) * 1000 / images, 2)}


def bench_transfer(size: int, target: float, epochs: int, pretrain: str, task: str) -> dict[str, Any]:
    """Epochs to a validation accuracy from a base pre-trained on another synthetic task vs from scratch."""
    from tinymlkit.pipelines.vww_lesson import transfer_vs_scratch

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        r = transfer_vs_scratch(Path(tmp), size=size, target=target, epochs=epochs, pretrain_task=pretrain,
                                target_task=task, progress=False)
        r["total_s"] = round(time.perf_counter() - t0, 1)
        r["pretrain"]["base"] = "(temporary)"
    return r


def bench_accuracy(epochs: int, size: int = 96) -> dict[str, Any]:
    """A full synthetic run: float vs int8 on TFLM on the test split, model bytes, arena, budget."""
    from tinymlkit.pipelines.vww import run_vww
    from tinymlkit.tflite_file import read_tflite

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        r = run_vww(Path(tmp) / "run", size=size, epochs=epochs, sketch=Path(tmp) / "sketch", progress=False)
        total = time.perf_counter() - t0
        names = sum(len(t.name) for t in read_tflite(Path(tmp) / "run" / "model_int8.tflite").tensors)
    m = r.metrics
    ref = {"model_bytes": 300_568, "arena_bytes_reported": 136 * 1024}
    return {"total_s": round(total, 1), "epochs_run": m["train"]["epochs_run"],
            "seconds_per_epoch": m["train"]["seconds_per_epoch"], "test_examples": m["task"]["test_examples"],
            "keras_accuracy": m["keras"]["accuracy"], "float_tflite_accuracy": m["float"]["accuracy"],
            **{f"{k}_accuracy": m[k]["accuracy"] for k in ("int8_tflm", "int8_litert") if k in m},
            "model": m["model"], "model_bytes": m["model_bytes"], "tensor_name_bytes": names,
            "arena_bytes": m["arena_bytes"], "budget": m["budget"], "reference_person_detect": ref,
            "input_conversion": m["input_conversion"], "steps_seconds": m["steps_seconds"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("part", choices=["epoch", "transfer", "accuracy", "all"])
    ap.add_argument("--images", type=int, default=1000)
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--size", type=int, default=96)
    ap.add_argument("--target", type=float, default=0.75, help="validation accuracy to reach (transfer)")
    ap.add_argument("--pretrain", default="person", choices=["person", "shapes"], help="pre-training task")
    ap.add_argument("--task", default="person", choices=["person", "shapes"], help="target task (transfer)")
    args = ap.parse_args()
    parts = {
        "epoch": lambda: bench_epoch(args.images, args.epochs or 4, size=args.size),
        "transfer": lambda: bench_transfer(args.size, args.target, args.epochs or 8, args.pretrain, args.task),
        "accuracy": lambda: bench_accuracy(args.epochs or 20, args.size),
    }
    for name, run in parts.items():
        if args.part in (name, "all"):
            # Other jobs on a shared 2-core machine slow training down: record the load with the figures.
            load_before = os.getloadavg()
            result = run()
            write(f"vww_{name}", {**result, "load_average_1min": {"before": round(load_before[0], 2),
                                                                  "after": round(os.getloadavg()[0], 2)}})


if __name__ == "__main__":
    main()
