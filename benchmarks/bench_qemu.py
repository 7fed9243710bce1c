"""The TinyMLKit C++ checks on the emulated Cortex-M4: how many cases, and how long QEMU takes.

    python benchmarks/bench_qemu.py [--repeats 3]

Runs tests/test_qemu_m4.py (build with arm-none-eabi-g++, then every case of the sketch-conversion and
frame-codec drivers in one QEMU mps2-an386 process each) and reads the case counts and QEMU wall
times the test prints. The goal is under a minute of QEMU time, so CI can run it with the rest.
Quote the median; the figure moves with the load on the machine (QEMU's TCG is single-threaded).
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import median, write  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
LINE = re.compile(r"Cortex-M4 \(QEMU mps2-an386\) (.+?): (\d+) cases in ([\d.]+) s")


def main() -> int:
    """Run the M4 test module ``--repeats`` times; print and write the case counts and median times."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    runs: list[dict[str, float]] = []
    cases: dict[str, int] = {}
    totals = []
    for _ in range(args.repeats):
        t0 = time.monotonic()
        r = subprocess.run([sys.executable, "-m", "pytest", "tests/test_qemu_m4.py", "-q", "-s",
                            "-p", "no:cacheprovider"], cwd=ROOT, capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
        totals.append(time.monotonic() - t0)
        if r.returncode != 0:
            print(r.stdout[-3000:], r.stderr[-3000:])
            return 1
        found = {m.group(1): (int(m.group(2)), float(m.group(3))) for m in LINE.finditer(r.stdout)}
        if not found:
            print("the test printed no QEMU figures (skipped? arm-none-eabi-g++ or qemu-system-arm missing)")
            print(r.stdout[-2000:])
            return 1
        cases = {k: v[0] for k, v in found.items()}
        runs.append({k: v[1] for k, v in found.items()})
    qemu_s = {k: median([run[k] for run in runs]) for k in cases}
    write("qemu_m4", {
        "cases": cases, "cases_total": sum(cases.values()),
        "qemu_seconds_median": qemu_s, "qemu_seconds_total_median": round(sum(qemu_s.values()), 2),
        "pytest_wall_seconds_median": round(median(totals), 1), "repeats": args.repeats,
        "load_average_1min": os.getloadavg()[0],
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
