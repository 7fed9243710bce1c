"""Offline synthetic image sets: drawn figures and shapes, so the vision track runs with no download.

Two tasks, both drawn with Pillow from a seed (the same seed gives the same pixels):

- ``person`` / ``non_person``: a stylised figure (head, torso, arms, legs, in random pose, size,
  place and colours) on a cluttered indoor-like background, against the same backgrounds with
  look-alike clutter only (balls, lamps on poles, tables, boxes). It exists to run every step of the
  pipeline; a model trained on it does not detect real people (see ``datasets/vww/README.md``).
- ``shapes`` (circle, bar, triangle, cross): a different task with the same kind of
  pictures, for the transfer-learning lesson: pre-train a base on one task, learn a small set of the
  other from that base, and measure the epochs saved.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from ..vision.image_io import save_image
from ..vision.preprocess import to_channels

__all__ = [
    "PERSON_LABELS",
    "SHAPE_LABELS",
    "make_person_images",
    "make_shape_images",
    "write_image_folder",
]

PERSON_LABELS = ("non_person", "person")
"""Labels of the synthetic person task, in model output order."""

SHAPE_LABELS = ("circle", "bar", "triangle", "cross")
"""Labels of the synthetic pre-training task."""

_SUPER = 2  # draw at twice the size, then shrink: smooth edges like a camera's


def _color(rng: np.random.Generator, lo: int = 0, hi: int = 256) -> tuple[int, int, int]:
    return tuple(int(v) for v in rng.integers(lo, hi, 3))  # type: ignore[return-value]


def _luma(c: tuple[int, int, int]) -> float:
    return 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]


def _contrasting(rng: np.random.Generator, im: Image.Image, box: tuple[float, float, float, float],
                 min_diff: float = 60.0) -> tuple[int, int, int]:
    """A colour whose brightness differs from the scene under ``box``: random colours often vanish in gray."""
    x0, y0, x1, y1 = (int(min(max(v, 0), im.width - 1)) for v in box)
    patch = np.asarray(im.crop((x0, y0, max(x1, x0 + 1), max(y1, y0 + 1))), dtype=np.float32).reshape(-1, 3)
    bg = float(_luma(tuple(patch.mean(axis=0))))  # type: ignore[arg-type]
    c = _color(rng)
    for _ in range(30):
        if abs(_luma(c) - bg) >= min_diff:
            break
        c = _color(rng)
    else:  # rare: fall back to the darkest or brightest end
        c = (15, 15, 15) if bg > 128 else (240, 240, 240)
    return c


def _background(rng: np.random.Generator, s: int) -> Image.Image:
    """A room-like scene: two-tone gradient wall and floor, a few large flat patches, sensor noise."""
    top, bottom = np.array(_color(rng, 40, 230)), np.array(_color(rng, 20, 200))
    t = np.linspace(0.0, 1.0, s)[:, None, None]
    horizon = rng.uniform(0.45, 0.8)
    img = np.where(t < horizon, top * (0.8 + 0.2 * t), bottom * (0.7 + 0.3 * t))
    img = np.broadcast_to(img, (s, s, 3)).astype(np.float32)
    im = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "RGB")
    d = ImageDraw.Draw(im)
    for _ in range(int(rng.integers(1, 4))):
        x0, y0 = rng.integers(-s // 4, s, 2)
        w, h = rng.integers(s // 6, s // 2, 2)
        d.rectangle([int(x0), int(y0), int(x0 + w), int(y0 + h)], fill=_color(rng, 30, 230))
    return im


def _clutter(d: ImageDraw.ImageDraw, rng: np.random.Generator, s: int, n: int) -> None:
    """Objects that share parts with a figure (round heads, long limbs, boxes) but are not one."""
    for _ in range(n):
        kind = int(rng.integers(0, 5))
        cx, cy = (int(v) for v in rng.integers(0, s, 2))
        r = int(rng.integers(s // 20, s // 6))
        col = _color(rng)
        if kind == 0:  # ball
            d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=col)
        elif kind == 1:  # box
            d.rectangle([cx - r, cy - r // 2, cx + r, cy + r], fill=col)
        elif kind == 2:  # lamp: a disc on a pole (head-on-a-stick look-alike)
            pole = int(rng.integers(s // 6, s // 2))
            d.line([cx, cy, cx, cy + pole], fill=col, width=max(2, r // 3))
            d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=_color(rng))
        elif kind == 3:  # table: a top on two legs
            d.rectangle([cx - 2 * r, cy - r // 4, cx + 2 * r, cy], fill=col)
            for lx in (cx - 2 * r + r // 3, cx + 2 * r - r // 3):
                d.line([lx, cy, lx, cy + 2 * r], fill=col, width=max(2, r // 4))
        else:  # sticks
            a = rng.uniform(0, math.pi)
            L = int(rng.integers(s // 8, s // 3))
            d.line([cx, cy, int(cx + L * math.cos(a)), int(cy + L * math.sin(a))], fill=col, width=max(2, r // 3))


def _figure(im: Image.Image, rng: np.random.Generator, s: int) -> None:
    """A standing person: head, torso, two arms and two legs in a random pose."""
    h = rng.uniform(0.35, 0.95) * s  # body height
    cx = rng.uniform(0.15, 0.85) * s
    feet = rng.uniform(0.55, 1.1) * s
    top = feet - h
    head_r = 0.09 * h
    neck = top + 2 * head_r
    hip = top + 0.55 * h
    tw = 0.13 * h
    d = ImageDraw.Draw(im)
    box = (cx - 0.3 * h, top, cx + 0.3 * h, feet)
    skin, shirt, trousers = _contrasting(rng, im, box), _contrasting(rng, im, box), _contrasting(rng, im, box)
    limb = max(2, int(0.06 * h))
    for side in (-1, 1):  # legs
        fx = cx + side * rng.uniform(0.02, 0.18) * h
        d.line([int(cx + side * tw * 0.4), int(hip), int(fx), int(feet)], fill=trousers, width=limb)
    d.rounded_rectangle([int(cx - tw), int(neck), int(cx + tw), int(hip)], radius=int(tw * 0.5), fill=shirt)
    for side in (-1, 1):  # arms: from the shoulder at a random angle
        ang = rng.uniform(-0.35, 1.2) * math.pi / 2
        L = 0.38 * h
        sx, sy = cx + side * tw * 0.9, neck + 0.05 * h
        ex, ey = sx + side * L * math.sin(max(ang, 0.1)), sy + L * math.cos(ang)
        d.line([int(sx), int(sy), int(ex), int(ey)], fill=shirt if rng.random() < 0.5 else skin, width=limb)
    d.ellipse([int(cx - head_r), int(top), int(cx + head_r), int(top + 2 * head_r)], fill=skin)


def _shape(im: Image.Image, rng: np.random.Generator, s: int, kind: int) -> None:
    r = rng.uniform(0.18, 0.4) * s
    cx, cy = rng.uniform(r, s - r), rng.uniform(r, s - r)
    col = _contrasting(rng, im, (cx - r, cy - r, cx + r, cy + r))
    d = ImageDraw.Draw(im)
    if kind == 0:
        d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=col)
    elif kind == 1:  # a thick bar at any angle (no rectangle class: the backgrounds are full of them)
        a = rng.uniform(0, math.pi)
        dx, dy = r * math.cos(a), r * math.sin(a)
        d.line([cx - dx, cy - dy, cx + dx, cy + dy], fill=col, width=max(3, int(r * 0.35)))
    elif kind == 2:
        a0 = rng.uniform(0, 2 * math.pi)
        d.polygon([(cx + r * math.cos(a0 + k * 2 * math.pi / 3), cy + r * math.sin(a0 + k * 2 * math.pi / 3))
                   for k in range(3)], fill=col)
    else:
        w = max(2, int(r * 0.45))
        d.line([cx - r, cy, cx + r, cy], fill=col, width=w)
        d.line([cx, cy - r, cx, cy + r], fill=col, width=w)


def _finish(im: Image.Image, rng: np.random.Generator, size: int, channels: int, noise: float) -> np.ndarray:
    im = im.resize((size, size), Image.Resampling.BILINEAR)
    a = np.asarray(im, dtype=np.float32)
    a = a * rng.uniform(0.6, 1.2) + rng.normal(0.0, noise, a.shape)  # exposure and sensor noise
    return to_channels(np.clip(np.rint(a), 0, 255).astype(np.uint8), channels)


def make_person_images(n: int, size: int = 96, channels: int = 1, seed: int = 0,
                       noise: float = 6.0) -> tuple[np.ndarray, np.ndarray]:
    """n images (half person) as uint8 (n, size, size, channels) and labels (0 non_person, 1 person)."""
    rng = np.random.default_rng(seed)
    y = np.arange(n, dtype=np.int32) % 2
    rng.shuffle(y)
    x = np.empty((n, size, size, channels), dtype=np.uint8)
    s = size * _SUPER
    for i in range(n):
        im = _background(rng, s)
        d = ImageDraw.Draw(im)
        _clutter(d, rng, s, int(rng.integers(1, 5)))
        if y[i]:
            _figure(im, rng, s)
            _clutter(d, rng, s, int(rng.integers(0, 2)))  # something may stand in front
        x[i] = _finish(im, rng, size, channels, noise)
    return x, y


def make_shape_images(n: int, size: int = 96, channels: int = 1, seed: int = 0,
                      noise: float = 6.0) -> tuple[np.ndarray, np.ndarray]:
    """n images of one large shape each (labels index SHAPE_LABELS), on the same kind of backgrounds."""
    rng = np.random.default_rng(seed + 10_007)  # never the person task's stream
    y = np.arange(n, dtype=np.int32) % len(SHAPE_LABELS)
    rng.shuffle(y)
    x = np.empty((n, size, size, channels), dtype=np.uint8)
    s = size * _SUPER
    for i in range(n):
        im = _background(rng, s)
        _shape(im, rng, s, int(y[i]))
        x[i] = _finish(im, rng, size, channels, noise)
    return x, y


def write_image_folder(x: np.ndarray, y: np.ndarray, labels: tuple[str, ...], out_dir: str | os.PathLike[str],
                       prefix: str = "synth") -> list[Path]:
    """Save images as ``out_dir/<label>/<prefix>_<i>.png`` (never overwriting) for the folder loader."""
    out_dir = Path(out_dir)
    written = []
    for i, (img, lab) in enumerate(zip(x, y)):
        written.append(save_image(img, out_dir / labels[int(lab)] / f"{prefix}_{i:05d}.png"))
    return written
