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


def write(name: str, data: dict[str, Any]) -> Path:
    """Write results/NAME.json and print it."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    data = {"benchmark": name, "machine": machine(), **data}
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=2) + "\n")
    print(json.dumps(data, indent=2))
    print(f"written to {path}")
    return path
