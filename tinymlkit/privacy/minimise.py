"""Data minimisation, measured: how much detail simple on-device obfuscations remove, and what the detector keeps.

Before a frame is stored or sent, a device can throw detail away: shrink it, blur it, or pixelate it.
Each level of each obfuscation is applied to the 96x96 grayscale frames the person detector sees, the
detector (``person_detect.tflite`` on the TFLM interpreter, the board's runtime) is scored on the
result, and the detail left is measured as the frame's losslessly compressed size (PNG bytes: an upper
bound on the information an onlooker could still get from it). The trade-off is the principle of data
minimisation with numbers (keep only what the task needs; cf. arXiv 2101.07529).
"""
from __future__ import annotations

import dataclasses
import io
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import KitError

__all__ = ["OBFUSCATIONS", "DEFAULT_LEVELS", "obfuscate", "detail_bytes", "MinimisationRow", "minimisation_study"]

OBFUSCATIONS = ("downscale", "blur", "pixelate")
"""The on-device obfuscations studied."""

DEFAULT_LEVELS: dict[str, tuple[float, ...]] = {
    "downscale": (48, 32, 24, 16, 12, 8),   # side of the frame that is kept, pixels
    "blur": (1, 2, 3, 4, 6, 8),              # Gaussian radius, pixels
    "pixelate": (2, 4, 6, 8, 12, 16),        # block side, pixels
}
"""Strengths per obfuscation, from mild to strong."""


def _img(frame: np.ndarray) -> Any:
    from PIL import Image

    return Image.fromarray(np.asarray(frame, dtype=np.uint8).reshape(frame.shape[0], frame.shape[1]))


def obfuscate(frames: np.ndarray, kind: str, level: float) -> np.ndarray:
    """Frames (N, H, W, 1) uint8 with one obfuscation applied at one strength; same shape back."""
    from PIL import Image, ImageFilter

    frames = np.asarray(frames, dtype=np.uint8)
    if frames.ndim != 4 or frames.shape[3] != 1:
        raise KitError(f"expected grayscale frames (N, H, W, 1), got shape {frames.shape}")
    if kind not in OBFUSCATIONS:
        raise KitError(f"unknown obfuscation {kind!r}; choose one of {', '.join(OBFUSCATIONS)}")
    n, h, w, _ = frames.shape
    out = np.empty_like(frames)
    for i in range(n):
        im = _img(frames[i, :, :, 0])
        if kind == "downscale":  # what a lower-resolution capture keeps, shown back at the model's size
            side = max(1, int(level))
            im = im.resize((side, side), Image.Resampling.BILINEAR).resize((w, h), Image.Resampling.BILINEAR)
        elif kind == "blur":
            im = im.filter(ImageFilter.GaussianBlur(radius=float(level)))
        else:
            b = max(1, int(level))
            a = np.asarray(im, dtype=np.float64)
            hh, ww = (h + b - 1) // b * b, (w + b - 1) // b * b
            padded = np.pad(a, ((0, hh - h), (0, ww - w)), mode="edge")
            blocks = padded.reshape(hh // b, b, ww // b, b).mean(axis=(1, 3))
            im = _img(np.repeat(np.repeat(np.round(blocks), b, axis=0), b, axis=1)[:h, :w].astype(np.uint8))
        out[i, :, :, 0] = np.asarray(im, dtype=np.uint8)
    return out


def detail_bytes(frames: np.ndarray) -> float:
    """Median PNG size (bytes) of the frames: how much detail is left to look at."""
    sizes = []
    for f in np.asarray(frames, dtype=np.uint8):
        buf = io.BytesIO()
        _img(f[:, :, 0]).save(buf, format="PNG", optimize=True)
        sizes.append(len(buf.getvalue()))
    return float(np.median(sizes))


@dataclasses.dataclass(frozen=True)
class MinimisationRow:
    """The detector's scores and the detail left at one strength of one obfuscation."""

    kind: str
    """'none', or one of OBFUSCATIONS."""
    level: float
    """Strength (see DEFAULT_LEVELS); 0 for 'none'."""
    balanced_accuracy: float
    """Mean of the person and non-person recalls of the detector on the obfuscated frames."""
    person_recall: float
    """Share of person frames still detected."""
    non_person_recall: float
    """Share of non-person frames still called non-person."""
    detail_bytes: float
    """Median PNG size of the obfuscated frames."""


def _score(runner: Any, frames: np.ndarray, y: np.ndarray, person_index: int) -> tuple[float, float, float]:
    from ..vision.int8_input import pixel_to_int8_table, pixels_to_int8

    q = runner.input_quant
    table = pixel_to_int8_table(q.scale, q.zero_point)
    pred = np.array([int(np.argmax(runner.run_raw(pixels_to_int8(f, table)))) for f in frames])
    is_person = pred == person_index
    pr = float(np.mean(is_person[y == 1])) if np.any(y == 1) else float("nan")
    nr = float(np.mean(~is_person[y == 0])) if np.any(y == 0) else float("nan")
    return (pr + nr) / 2, pr, nr


def minimisation_study(frames: np.ndarray, labels: Sequence[int], model: str | os.PathLike[str] | bytes,
                       levels: dict[str, Sequence[float]] | None = None, person_index: int = 1,
                       backend: str | None = None) -> list[MinimisationRow]:
    """Score the detector on the frames as they are and under every obfuscation level (labels: 1 = person)."""
    from ..runtime import ModelRunner

    y = np.asarray(labels, dtype=int)
    runner = ModelRunner(model, backend=backend)
    if runner.input_quant is None:
        raise KitError("the study needs an int8 detector (int8 input), like person_detect.tflite")
    rows = [MinimisationRow("none", 0, *_score(runner, frames, y, person_index), detail_bytes(frames))]
    for kind, lv in (levels or DEFAULT_LEVELS).items():
        for level in lv:
            f = obfuscate(frames, kind, level)
            rows.append(MinimisationRow(kind, float(level), *_score(runner, f, y, person_index), detail_bytes(f)))
    return rows
