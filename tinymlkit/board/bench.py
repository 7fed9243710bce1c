"""Timing from the board: ask a running model sketch how long its steps take (the BENCH command).

The model sketches time every inference and the feature or pixel step before it with ``micros()``.
Asked to BENCH, a sketch times the next ``runs`` inferences and answers with one TIMING frame per
step (fastest, median, slowest, mean), then STATUS DONE. The virtual board answers the same request
with the kit's estimate, marked as an estimate, so the path can be tried without a board.
"""
from __future__ import annotations

import dataclasses
import time

from ..errors import KitError
from . import protocol as p
from .link import BoardLink, BoardTimeout, board_text, check_count, check_seconds

__all__ = ["BenchReport", "DEFAULT_RUNS", "MAX_RUNS", "bench", "format_timing"]

DEFAULT_RUNS = 20
"""Inferences timed when the request does not say."""
MAX_RUNS = 10_000
"""Most inferences one request may ask for (a person detector takes about a second each)."""


@dataclasses.dataclass(frozen=True)
class BenchReport:
    """What a board answered to BENCH."""

    port: str
    """Serial port."""
    timings: tuple[p.Timing, ...]
    """One per timed step, in the order the board sent them (note text made safe to print)."""
    logs: tuple[str, ...]
    """Log lines the board sent meanwhile."""

    @property
    def estimated(self) -> bool:
        """True if any figure is an estimate rather than a measurement (the virtual board)."""
        return any(t.is_estimate for t in self.timings)

    def step(self, name: str) -> p.Timing | None:
        """The timing of a step by name ('INFERENCE', 'FEATURES', 'PIXELS'), if the board sent it."""
        return next((t for t in self.timings if t.step_name == name.upper()), None)


def bench(port: str, runs: int = DEFAULT_RUNS, timeout: float = 60.0) -> BenchReport:
    """Ask the sketch on ``port`` to time ``runs`` inferences; returns its TIMING answers.

    ``timeout`` bounds the wait for each frame; the whole request may take ``runs`` inferences longer.
    """
    check_count(runs, "--runs", allow_none=False)
    if runs > MAX_RUNS:
        raise KitError(f"--runs {runs}: give at most {MAX_RUNS}")
    timeout = float(check_seconds(timeout, "--timeout", allow_none=False))  # type: ignore[arg-type]
    op = p.COMMANDS["BENCH"]
    timings: list[p.Timing] = []
    logs: list[str] = []
    with BoardLink(port) as link:
        link.command("STOP")
        link.command("BENCH", runs)
        started = time.monotonic()
        for msg in link.messages(timeout):
            if isinstance(msg, p.Timing):
                timings.append(dataclasses.replace(msg, note=board_text(msg.note)))
            elif isinstance(msg, p.LogLine):
                logs.append(msg.text)
            elif isinstance(msg, p.BoardError):
                if msg.code == p.ERROR_CODES["UNKNOWN_COMMAND"]:
                    raise KitError(f"{port}: the sketch on the board does not know BENCH ({msg.text}); flash a model "
                                   "sketch from this kit's arduino_sketches/ (kws or person_detection)")
                raise KitError(f"{port}: the board could not BENCH: {msg.code_name}: {msg.text}")
            elif isinstance(msg, p.Status) and msg.op == op and msg.state != p.STATUS_STATES["STARTED"]:
                if msg.state != p.STATUS_STATES["DONE"]:
                    raise KitError(f"{port}: the board stopped the BENCH request before it finished")
                if not timings:
                    raise KitError(f"{port}: the board finished BENCH without sending any timing")
                return BenchReport(port, tuple(timings), tuple(logs))
    waited = time.monotonic() - started
    raise BoardTimeout(f"{port}: no answer to BENCH for {timeout:g} s (after {waited:.0f} s, "
                       f"{len(timings)} timing frame(s)). Is a kit model sketch (kws or person_detection) running? "
                       "A slow model needs a longer --timeout.")


def _ms(us: int) -> str:
    return f"{us / 1000:,.2f} ms"


def format_timing(t: p.Timing) -> str:
    """One line for a TIMING answer, saying plainly whether it was measured or estimated."""
    step = t.step_name.lower()
    if t.is_estimate:
        return (f"  {step:<10} {_ms(t.median_us)}  (range {_ms(t.min_us)} to {_ms(t.max_us)})  "
                f"ESTIMATE, not measured: {t.note}")
    return (f"  {step:<10} median {_ms(t.median_us)}  (min {_ms(t.min_us)}, max {_ms(t.max_us)}, "
            f"mean {_ms(t.mean_us)}; {t.runs} runs at {t.clock_hz / 1e6:g} MHz)  measured on the board"
            + (f": {t.note}" if t.note else ""))
