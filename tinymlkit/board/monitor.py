"""Watch a board's inference results (label, score, latency) and log lines as they come.

The command line prints one line per result; in a notebook, ``monitor(port, plot=True)`` redraws a
figure of the scores over time as results arrive.
"""
from __future__ import annotations

import dataclasses
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..errors import KitError

if TYPE_CHECKING:
    import matplotlib.figure
from . import protocol as p
from .link import BoardLink, check_count, check_seconds, clean_message

__all__ = ["Result", "MonitorReport", "monitor", "format_result", "plot_results", "legend_names"]


@dataclasses.dataclass(frozen=True)
class Result:
    """One inference result as the monitor shows it."""

    host_time: float
    """Seconds since the monitor started (computer clock)."""
    board_ms: int
    """Board clock (millis()) at the inference."""
    label: str
    """Best label."""
    score: float
    """Its score 0..1 (the board's 0..255 / 255)."""
    latency_ms: float
    """Time the model took on the board."""
    scores: tuple[float, ...]
    """All scores 0..1, in label order."""
    top_index: int
    """Index of the best label."""


@dataclasses.dataclass
class MonitorReport:
    """Everything a monitor session received."""

    port: str
    """Serial port."""
    hello: p.Hello | None
    """Board info."""
    results: list[Result]
    """Inference results in order."""
    logs: list[str]
    """Log lines and board errors in order."""
    stats: p.ParserStats
    """What the reader received and dropped."""


def format_result(r: Result) -> str:
    """One line for the terminal."""
    return f"{r.host_time:8.2f} s  {r.label:<12} {r.score:5.2f}  latency {r.latency_ms:7.1f} ms"


def monitor(port: str, *, seconds: float | None = None, count: int | None = None,
            on_result: Callable[[Result], None] | None = None, on_log: Callable[[str], None] | None = None,
            plot: bool = False, plot_every: int = 5, start: bool = True, timeout: float = 10.0,
            hello_timeout: float = 5.0, labels: list[str] | tuple[str, ...] | None = None) -> MonitorReport:
    """Show results from the board on ``port`` for ``seconds`` or ``count`` results (None: until Ctrl-C).

    With ``start`` the board is asked to stream (START_INFERENCE); sketches that stream on their own
    ignore it. ``timeout`` is the longest wait for the next result. ``plot`` (in a notebook) redraws a
    figure of the scores every ``plot_every`` results, its legend naming ``labels`` (the model's labels
    in output order; without them, the names the board sent). A board error ends the session with a
    KitError (not also passed to ``on_log``, so it is shown once). Text from the board is made safe to
    print. A malformed frame is skipped.
    """
    seconds = check_seconds(seconds, "--seconds")
    count = check_count(count, "--count")
    timeout = check_seconds(timeout, "--timeout", allow_none=False)  # type: ignore[assignment]
    if isinstance(plot_every, bool) or not isinstance(plot_every, int) or plot_every < 1:
        raise KitError(f"plot_every {plot_every!r}: give a whole number of results, at least 1")
    results: list[Result] = []
    logs: list[str] = []
    t0 = time.monotonic()
    handle = None
    with BoardLink(port) as link:
        hello = link.hello(timeout=hello_timeout)
        if start:
            link.command("START_INFERENCE", count or 0)
        try:
            while True:
                if seconds is not None and time.monotonic() - t0 >= seconds:
                    break
                if count is not None and len(results) >= count:
                    break
                wait = timeout if seconds is None else min(timeout, max(0.05, seconds - (time.monotonic() - t0)))
                frame = link.read_frame(wait)
                if frame is None:
                    if seconds is not None and time.monotonic() - t0 >= seconds:
                        break
                    raise KitError(f"{port}: no inference result in {wait:g} s; is an inference sketch running "
                                   "(or the virtual board started with --model and --config)?")
                try:
                    msg = clean_message(p.decode_message(frame, port))
                except p.ProtocolError as e:
                    if not any(s.startswith("ignored a malformed frame") for s in logs):
                        text = f"ignored a malformed frame ({e})"
                        logs.append(text)
                        if on_log is not None:
                            on_log(text)
                    continue
                if isinstance(msg, p.InferenceResult):
                    scores = tuple(b / 255.0 for b in msg.scores)
                    r = Result(time.monotonic() - t0, msg.timestamp_ms, msg.label, msg.top_score / 255.0,
                               msg.latency_us / 1000.0, scores, msg.top_index)
                    results.append(r)
                    if on_result is not None:
                        on_result(r)
                    if plot and len(results) % plot_every == 0:
                        handle = _redraw(results, handle, labels)
                elif isinstance(msg, p.LogLine):
                    text = f"board: {msg.text}"
                    logs.append(text)
                    if on_log is not None:
                        on_log(text)
                elif isinstance(msg, p.BoardError):
                    # Raised, not logged as well: the caller shows it once.
                    text = f"board error {msg.code_name}: {msg.text}"
                    logs.append(text)
                    raise KitError(f"{port}: {text}")
        except KeyboardInterrupt:
            pass
        if plot and results:
            _redraw(results, handle, labels)
        return MonitorReport(port, hello, results, logs, link.parser.stats)


def legend_names(results: list[Result], labels: list[str] | tuple[str, ...] | None = None) -> list[str]:
    """A name for each score index: the given labels, else the name the board sent when it was the best."""
    n = max((len(r.scores) for r in results), default=len(labels or ()))
    names: list[str | None] = [None] * n
    for k, lab in enumerate(list(labels or [])[:n]):
        names[k] = str(lab)
    for r in results:
        if 0 <= r.top_index < n and names[r.top_index] is None and r.label:
            names[r.top_index] = r.label
    return [name if name is not None else f"output {k}" for k, name in enumerate(names)]


def plot_results(results: list[Result], labels: list[str] | tuple[str, ...] | None = None) -> "matplotlib.figure.Figure":
    """Figure: each label's score over time (top) and latency per inference (bottom); ``labels`` name the legend."""
    from ..plots import plot_scores_over_time

    names = legend_names(results, labels) if results else []
    scores = [(name, [r.scores[k] if k < len(r.scores) else 0.0 for r in results]) for k, name in enumerate(names)]
    return plot_scores_over_time([r.host_time for r in results], scores, [r.latency_ms for r in results])


def _redraw(results: list[Result], handle, labels=None):
    import matplotlib.pyplot as plt

    fig = plot_results(results, list(labels) if labels else None)
    try:
        from IPython.display import display

        if handle is None:
            handle = display(fig, display_id=True)
        else:
            handle.update(fig)
    except ImportError:  # outside IPython there is nowhere to redraw
        print("tinymlkit: live plotting needs a notebook (IPython)", file=sys.stderr)
    plt.close(fig)
    return handle
