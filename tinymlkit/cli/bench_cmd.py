"""``tinymlkit bench``: the board's own timing of its model, beside the kit's estimate."""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from .common import int_in, seconds

__all__ = ["register"]


def register(sub: Any) -> None:
    """Add the ``bench`` command."""
    from ..board.bench import DEFAULT_RUNS, MAX_RUNS
    from ..targets import TARGETS

    b = sub.add_parser(
        "bench", help="time the model on a board (micros()) and print it beside inspect's estimate",
        description="Ask the kit sketch running on the board (kws or person_detection) to time its next "
                    "inferences and the feature or pixel step before each, with the board's microsecond timer, "
                    "and print the figures. With --model, inspect's latency estimate for that model is printed "
                    "beside them. The virtual board answers with the kit's estimate, marked as such.")
    b.add_argument("--port", required=True, help="serial port (see 'tinymlkit ports') or a virtual board's path")
    b.add_argument("--model", type=Path, metavar="M.tflite", help="the model the sketch runs, for the estimate")
    b.add_argument("--target", choices=sorted(TARGETS), default="nano33ble", help="board of the estimate")
    b.add_argument("--runs", type=int_in(1, MAX_RUNS), default=DEFAULT_RUNS,
                   help=f"inferences to time (default {DEFAULT_RUNS})")
    b.add_argument("--timeout", type=seconds, default=60.0,
                   help="seconds to wait for each answer (default 60; a person detector takes ~1 s per inference)")
    b.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    b.set_defaults(func=_bench)


def _bench(args: argparse.Namespace) -> int:
    from ..board.bench import bench, format_timing

    estimate: dict[str, Any] | None = None
    if args.model is not None:  # read the model first: a bad path fails before the board is asked
        from ..inspect import inspect_model
        from ..targets import get_target

        t = get_target(args.target)
        macs = inspect_model(args.model, measure=False).macs
        low, high = t.latency_range_ms(macs)
        estimate = {"model": str(args.model), "target": t.name, "macs": macs,
                    "latency_ms": round(t.latency_ms(macs), 3),
                    "latency_range_ms": [round(low, 3), round(high, 3)], "cycles_per_mac": t.cycles_per_mac,
                    "cycles_per_mac_range": [t.cycles_per_mac_low, t.cycles_per_mac_high],
                    "clock_hz": t.clock_hz, "source": t.cycles_per_mac_source}
    report = bench(args.port, runs=args.runs, timeout=args.timeout)
    if args.json:
        print(json.dumps({
            "port": report.port,
            "board": [{"step": tm.step_name.lower(), "estimate": tm.is_estimate, "runs": tm.runs,
                       "min_us": tm.min_us, "median_us": tm.median_us, "max_us": tm.max_us, "mean_us": tm.mean_us,
                       "clock_hz": tm.clock_hz, "note": tm.note} for tm in report.timings],
            "estimate": estimate}, indent=2))
        return 0
    what = ("the virtual board's ESTIMATE (no board measured anything)" if report.estimated
            else "measured on the board with micros()")
    print(f"{args.port}: {what}")
    for tm in report.timings:
        print(format_timing(tm))
    if estimate is not None:
        inference = report.step("INFERENCE")
        print(f"inspect's estimate for {args.model} on {estimate['target']}: {estimate['latency_ms']:,.1f} ms "
              f"(range {estimate['latency_range_ms'][0]:,.1f} to {estimate['latency_range_ms'][1]:,.1f} ms) = "
              f"{estimate['macs']:,} MACs x {estimate['cycles_per_mac']:g} cycles/MAC / "
              f"{estimate['clock_hz'] / 1e6:g} MHz")
        if inference is not None and not inference.is_estimate and estimate["latency_ms"] > 0:
            ratio = inference.median_us / 1000 / estimate["latency_ms"]
            inside = estimate["latency_range_ms"][0] <= inference.median_us / 1000 <= estimate["latency_range_ms"][1]
            cpm = inference.median_us * 1e-6 * inference.clock_hz / estimate["macs"] if estimate["macs"] else 0.0
            print(f"  the board took {ratio:.2f}x the estimate ({cpm:.2f} cycles/MAC), "
                  f"{'inside' if inside else 'OUTSIDE'} the estimate's range")
    return 0
