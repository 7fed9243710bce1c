"""Timing the named steps of a pipeline run, for its summary, metrics.json and the benchmarks."""
from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator

from ..tf_quiet import drop_known_tf_noise

__all__ = ["StepTimer"]


class StepTimer:
    """Use as ``with steps("train"): ...``; wall seconds per step end up in ``seconds``."""

    def __init__(self, track: str, quiet: bool = False) -> None:
        self.track = track
        self.quiet = quiet
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        """Time one step (and say it started, unless quiet)."""
        t0 = time.perf_counter()
        if not self.quiet:
            print(f"[{self.track}] {name} ...", file=sys.stderr, flush=True)
        with drop_known_tf_noise():
            yield
        self.seconds[name] = round(time.perf_counter() - t0, 2)
