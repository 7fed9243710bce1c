"""Shared by the benchmark scripts: where results go, the machine they ran on, medians."""
from __future__ import annotations

import json
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
SHARED_DATA = Path(os.environ.get("TINYMLKIT_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    import numpy

    info = {"python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count(),
            "numpy": numpy.__version__, "when": time.strftime("%Y-%m-%d %H:%M:%S")}
    try:
        import tensorflow as tf

        info["tensorflow"] = tf.__version__
    except Exception:
        pass
    return info


def median(xs: list[float]) -> float:
    """Median, the figure we quote (these machines are noisy)."""
    return float(statistics.median(xs))


def short_metrics(m: dict[str, Any]) -> dict[str, Any]:
    """The figures of a ``classification_metrics`` dict a results file keeps: balanced accuracy, recall per class,
    false accepts on other words, clip count."""
    return {"balanced_accuracy": round(m["balanced_accuracy"], 4),
            "per_class": {k: (None if v is None else round(v, 4)) for k, v in m["per_class"].items()},
            "unknown_false_accept_rate": m.get("unknown_false_accept_rate"), "n": m["n"]}


def write(name: str, data: dict[str, Any]) -> Path:
    """Write results/NAME.json and print it."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    data = {"benchmark": name, "machine": machine(), **data}
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=2) + "\n")
    print(json.dumps(data, indent=2))
    print(f"written to {path}")
    return path
