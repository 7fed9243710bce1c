"""Pixels (0..255) to the model's input values: the normalisation, and the exact int8 conversion.

A kit-trained model sees ``x = pixel * mul + add`` (its *normalisation*, stored in the run config);
an int8 model then wants ``q = round(x / scale) + zero_point`` with its own input scale and zero
point. Computed in floating point, that rule is fragile: with MobileNet's normalisation
(pixel / 127.5 - 1) and the scale 1/127.5 every pixel lands exactly on a rounding tie, and the float32
scale's tiny error decides the tie differently for dark and bright pixels.

The kit's rule, the same on the board:

1. The model's float32 scale stands for the simplest fraction that rounds to it (1/127.5 is stored
   as 0.0078431377..., which stands for 2/255): :func:`rational_scale`.
2. With exact rational arithmetic, ``q = floor(x / scale + 1/2) + zero_point`` (ties go up),
   saturated to -128..127.
3. Since a pixel has only 256 values, the result is a 256-entry table, generated into the sketch's
   ``model_settings.h``; the board looks each pixel up, so it matches Python bit for bit.

For ``person_detect.tflite`` (scale 1/127.5, zero point -1, inputs in -1..1) this gives pixel - 128.
"""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

__all__ = [
    "NORMALIZATIONS",
    "DEFAULT_NORMALIZATION",
    "normalization_terms",
    "normalize",
    "rational_scale",
    "pixel_to_int8_table",
    "pixels_to_int8",
    "render_pixel_table_c",
]

NORMALIZATIONS: dict[str, tuple[Fraction, Fraction]] = {
    "minus_one_to_one": (Fraction(2, 255), Fraction(-1)),
    "zero_to_one": (Fraction(1, 255), Fraction(0)),
    "raw": (Fraction(1), Fraction(0)),
}
"""Name -> (mul, add): x = pixel * mul + add. 'minus_one_to_one' is MobileNet's pixel / 127.5 - 1."""

DEFAULT_NORMALIZATION = "minus_one_to_one"
"""The kit's models use MobileNet's range, which ImageNet weights expect and person_detect.tflite uses."""


def normalization_terms(name: str) -> tuple[Fraction, Fraction]:
    """(mul, add) of a named normalisation, exact; ValueError listing the known names."""
    try:
        return NORMALIZATIONS[name]
    except KeyError:
        raise ValueError(f"unknown image normalisation {name!r}; known: {sorted(NORMALIZATIONS)}") from None


def normalize(pixels: np.ndarray, name: str = DEFAULT_NORMALIZATION) -> np.ndarray:
    """uint8 pixels to the float32 values a float model is trained on."""
    mul, add = normalization_terms(name)
    return (np.asarray(pixels, dtype=np.float32) * np.float32(float(mul)) + np.float32(float(add))).astype(np.float32)


def _simplest_between(lo: Fraction, hi: Fraction) -> Fraction:
    """The fraction with the smallest denominator in [lo, hi] (0 < lo <= hi), by continued fractions."""
    fl = math.floor(lo)
    if fl == lo:
        return Fraction(fl)
    if fl + 1 <= hi:
        return Fraction(fl + 1)
    return fl + 1 / _simplest_between(1 / (hi - fl), 1 / (lo - fl))


def rational_scale(scale: float) -> Fraction:
    """The simplest fraction that rounds to the same float32 as ``scale`` (the value the converter meant)."""
    s = np.float32(scale)
    if not np.isfinite(s) or s <= 0:
        raise ValueError(f"a quantisation scale must be positive and finite, got {scale!r}")
    below = np.nextafter(s, np.float32(0), dtype=np.float32)
    above = np.nextafter(s, np.float32(np.inf), dtype=np.float32)
    exact = Fraction(float(s))
    lo = (Fraction(float(below)) + exact) / 2
    hi = (exact + Fraction(float(above))) / 2
    return _simplest_between(lo, hi)


def pixel_to_int8_table(scale: float, zero_point: int, normalization: str = DEFAULT_NORMALIZATION) -> np.ndarray:
    """int8[256]: the model's input value for each pixel value, by the exact rule in the module text."""
    mul, add = normalization_terms(normalization)
    s = rational_scale(scale)
    table = np.empty(256, dtype=np.int8)
    for p in range(256):
        q = math.floor((p * mul + add) / s + Fraction(1, 2)) + int(zero_point)
        table[p] = min(127, max(-128, q))
    return table


def pixels_to_int8(pixels: np.ndarray, table: np.ndarray) -> np.ndarray:
    """uint8 pixels to int8 model input through a table from :func:`pixel_to_int8_table`."""
    t = np.asarray(table, dtype=np.int8)
    if t.shape != (256,):
        raise ValueError(f"the pixel table must have 256 entries, got shape {t.shape}")
    return t[np.asarray(pixels, dtype=np.uint8)]


def render_pixel_table_c(table: np.ndarray, name: str = "kPixelToInt8") -> str:
    """C/C++ source of the table, for the sketch's generated ``model_settings.h``."""
    t = np.asarray(table, dtype=np.int8)
    rows = [", ".join(f"{int(v):4d}" for v in t[i:i + 16]) for i in range(0, 256, 16)]
    body = ",\n    ".join(rows)
    return (f"// Pixel (0..255) to the model's int8 input: exact rounding of the model's own scale and zero point.\n"
            f"constexpr int8_t {name}[256] = {{\n    {body}}};\n")
