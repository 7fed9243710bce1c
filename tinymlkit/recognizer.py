"""Turn a stream of keyword scores into commands: average over a window, threshold, suppression.

This is the reference the sketch's C++ (``recognize_commands.h`` in the TinyMLKit Arduino library)
is tested against, decision for decision; the streaming lesson uses it on recorded audio.

The rule, with all arithmetic in integers so both sides agree exactly:

1. Scores arrive as int8 (the model's output, zero point -128) or uint8; int8 is shifted by +128 so
   every score is 0..255 (for a softmax output with scale 1/256 that is the probability x 256).
2. The result is kept with its time; results older than ``average_window_ms`` (``time - t >= window``)
   are dropped, and at most ``max_entries`` results are kept (the board's fixed buffer).
3. With fewer than ``minimum_count`` results in the window nothing is decided. Otherwise each label's
   average is ``sum // count`` and the top label is the first one with the highest average.
4. A new command is reported when the top label is not an ignored one (silence, unknown), its
   average reaches ``detection_threshold`` (>=), and ``suppression_ms`` have passed since the last
   report (any label): after a report the recognizer stays quiet for that long.
"""
from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Iterable, Sequence

import numpy as np

from .config import RecognizerConfig
from .errors import KitError

__all__ = ["MAX_ENTRIES", "Decision", "CommandRecognizer", "scores_to_uint8"]

MAX_ENTRIES = 64
"""Results the board keeps at most (``KIT_RECOGNIZER_MAX_ENTRIES`` in recognize_commands.h)."""


class RecognizerError(KitError, ValueError):
    """Scores or times the recognizer cannot use."""


@dataclasses.dataclass(frozen=True)
class Decision:
    """What the recognizer says after one inference."""

    time_ms: int
    """Time of the inference."""
    top_index: int
    """Label with the highest average (-1 when too few results are in the window)."""
    top_score: int
    """Its average score, 0..255 (0 when undecided)."""
    is_new: bool
    """True when this result reports a new command."""
    count: int
    """Results in the averaging window."""


def scores_to_uint8(scores: Sequence[int] | np.ndarray) -> np.ndarray:
    """Scores as uint8 0..255: int8 arrays are shifted by +128, uint8 arrays are kept."""
    a = np.asarray(scores)
    if a.dtype == np.int8:
        return (a.astype(np.int16) + 128).astype(np.uint8)
    if a.dtype == np.uint8:
        return a.copy()
    if a.size and (a.min() < 0 or a.max() > 255):
        raise RecognizerError(f"scores must be int8 or uint8 arrays (or ints 0..255), got values {a.min()}..{a.max()}")
    return a.astype(np.uint8)


class CommandRecognizer:
    """Averages scores over time and reports commands (see the module text for the exact rule)."""

    def __init__(self, cfg: RecognizerConfig, num_labels: int, ignore: Iterable[int] = (),
                 max_entries: int = MAX_ENTRIES) -> None:
        """Set up for ``num_labels`` scores per result; labels in ``ignore`` are never reported."""
        if num_labels < 1:
            raise RecognizerError(f"num_labels must be at least 1, got {num_labels}")
        if cfg.minimum_count < 1 or cfg.minimum_count > max_entries:
            raise RecognizerError(f"minimum_count {cfg.minimum_count} must be in 1..{max_entries}")
        self.cfg = cfg
        self.num_labels = num_labels
        self.ignore = frozenset(int(i) for i in ignore)
        self.max_entries = max_entries
        self._entries: deque[tuple[int, np.ndarray]] = deque()
        self._last_report_ms: int | None = None
        self._last_time: int | None = None

    def reset(self) -> None:
        """Forget every result and report."""
        self._entries.clear()
        self._last_report_ms = None
        self._last_time = None

    def process(self, time_ms: int, scores: Sequence[int] | np.ndarray) -> Decision:
        """Add one inference's scores at ``time_ms`` (never decreasing) and decide."""
        s = scores_to_uint8(scores)
        if s.shape != (self.num_labels,):
            raise RecognizerError(f"expected {self.num_labels} scores, got shape {s.shape}")
        time_ms = int(time_ms)
        if self._last_time is not None and time_ms < self._last_time:
            raise RecognizerError(f"time went backwards: {time_ms} ms after {self._last_time} ms")
        self._last_time = time_ms
        self._entries.append((time_ms, s.astype(np.uint32)))
        while len(self._entries) > self.max_entries:
            self._entries.popleft()
        while self._entries and time_ms - self._entries[0][0] >= self.cfg.average_window_ms:
            self._entries.popleft()
        count = len(self._entries)
        if count < self.cfg.minimum_count:
            return Decision(time_ms, -1, 0, False, count)
        total = np.zeros(self.num_labels, dtype=np.uint32)
        for _, e in self._entries:
            total += e
        avg = total // count
        top = int(np.argmax(avg))
        score = int(avg[top])
        quiet = self._last_report_ms is not None and time_ms - self._last_report_ms < self.cfg.suppression_ms
        is_new = top not in self.ignore and score >= self.cfg.detection_threshold and not quiet
        if is_new:
            self._last_report_ms = time_ms
        return Decision(time_ms, top, score, is_new, count)
