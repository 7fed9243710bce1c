"""Photo and camera-frame preprocessing: centre crop, resize to the model input, grayscale.

Two resizers, for two sources. Photos (datasets, a learner's pictures) go through Pillow's
antialiased bilinear filter, which averages over every source pixel when shrinking a large photo.
Camera frames (the sketches' 176x144 or 160x120 frames) go through :func:`resize_bilinear_int`, a
plain integer bilinear with 8-bit weights that the sketch's C++ computes bit for bit.

Grayscale is the ITU-R BT.601 luma in 16-bit fixed point, the rule Pillow's ``convert('L')`` uses:
``Y = (19595 R + 38470 G + 7471 B + 32768) >> 16``; the C++ side uses the same integers.
"""
from __future__ import annotations

import numpy as np
from PIL import Image

__all__ = [
    "GRAY_WEIGHTS",
    "rgb_to_gray",
    "to_channels",
    "center_crop_box",
    "center_crop",
    "preprocess_image",
    "resize_bilinear_int",
    "prepare_frame",
]

GRAY_WEIGHTS = (19595, 38470, 7471)
"""BT.601 luma weights of R, G, B in units of 1/65536 (they sum to 65536)."""


def rgb_to_gray(rgb: np.ndarray) -> np.ndarray:
    """uint8 (H, W, 3) to uint8 (H, W, 1) by the integer BT.601 rule (identical to Pillow's 'L')."""
    a = np.asarray(rgb)
    if a.ndim != 3 or a.shape[2] != 3:
        raise ValueError(f"expected (H, W, 3) RGB pixels, got shape {a.shape}")
    a = a.astype(np.uint32)
    wr, wg, wb = GRAY_WEIGHTS
    y = (wr * a[:, :, 0] + wg * a[:, :, 1] + wb * a[:, :, 2] + 32768) >> 16
    return y.astype(np.uint8)[:, :, None]


def to_channels(pixels: np.ndarray, channels: int) -> np.ndarray:
    """uint8 (H, W, C) with C in 1 or 3 to the requested channel count (grayscale or repeated gray)."""
    a = np.asarray(pixels, dtype=np.uint8)
    if a.ndim == 2:
        a = a[:, :, None]
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 (grayscale) or 3 (RGB), got {channels}")
    have = a.shape[2]
    if have == channels:
        return a
    if have == 3 and channels == 1:
        return rgb_to_gray(a)
    if have == 1 and channels == 3:
        return np.repeat(a, 3, axis=2)
    raise ValueError(f"cannot convert {have} channels to {channels}")


def center_crop_box(width: int, height: int, out_width: int, out_height: int) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of the largest centred box with the output's aspect ratio."""
    # Compare aspect ratios with integers: width/height against out_width/out_height.
    if width * out_height > height * out_width:  # source wider: keep full height
        w, h = (height * out_width) // out_height, height
    else:
        w, h = width, (width * out_height) // out_width
    w, h = max(w, 1), max(h, 1)
    left, top = (width - w) // 2, (height - h) // 2
    return left, top, left + w, top + h


def center_crop(pixels: np.ndarray, out_width: int, out_height: int) -> np.ndarray:
    """The largest centred crop of (H, W, ...) pixels with the aspect ratio out_width:out_height."""
    h, w = pixels.shape[:2]
    left, top, right, bottom = center_crop_box(w, h, out_width, out_height)
    return pixels[top:bottom, left:right]


def preprocess_image(img: Image.Image | np.ndarray, width: int, height: int, channels: int) -> np.ndarray:
    """A photo to the model's pixels: centre crop, antialiased bilinear resize, then grayscale if asked.

    Input is a decoded image (EXIF orientation already applied by ``image_io``) or uint8 pixels;
    output is uint8 (height, width, channels).
    """
    if not isinstance(img, Image.Image):
        a = np.asarray(img, dtype=np.uint8)
        img = Image.fromarray(a[:, :, 0] if a.ndim == 3 and a.shape[2] == 1 else a)
    if img.mode not in ("L", "RGB"):
        img = img.convert("RGB")
    box = center_crop_box(img.width, img.height, width, height)
    if box != (0, 0, img.width, img.height):
        # Crop first: resize(box=...) lets the filter reach past the box and bleed the cut-off edges in.
        img = img.crop(box)
    if img.size != (width, height):
        img = img.resize((width, height), Image.Resampling.BILINEAR)
    return to_channels(np.asarray(img, dtype=np.uint8), channels)


def _axis_weights(src: int, dst: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Left index, right index and 8-bit weight of the right neighbour, per output position.

    Pixel centres are aligned (half-pixel convention): output i samples source coordinate
    ((2i + 1) * src - dst) / (2 * dst), computed exactly in integers and clamped to the edges.
    """
    i = np.arange(dst, dtype=np.int64)
    num = (2 * i + 1) * src - dst
    den = 2 * dst
    num = np.maximum(num, 0)
    x0 = num // den
    frac = ((num - x0 * den) * 256) // den  # floor of the fraction in 1/256 steps
    x0 = np.minimum(x0, src - 1)
    x1 = np.minimum(x0 + 1, src - 1)
    return x0, x1, frac


def resize_bilinear_int(pixels: np.ndarray, out_width: int, out_height: int) -> np.ndarray:
    """Integer bilinear resize of uint8 (H, W, C) pixels, exactly as the sketches' C++ computes it.

    value = (sum of the four neighbours times their weights wx, wy in 1/256 steps + 32768) >> 16.
    Meant for camera frames, where the scale is at most about 2; use :func:`preprocess_image` for photos.
    """
    a = np.asarray(pixels, dtype=np.uint8)
    squeeze = a.ndim == 2
    if squeeze:
        a = a[:, :, None]
    h, w = a.shape[:2]
    x0, x1, fx = _axis_weights(w, out_width)
    y0, y1, fy = _axis_weights(h, out_height)
    a32 = a.astype(np.int64)
    fx = fx[None, :, None]
    fy = fy[:, None, None]
    top = a32[y0][:, x0] * (256 - fx) + a32[y0][:, x1] * fx
    bottom = a32[y1][:, x0] * (256 - fx) + a32[y1][:, x1] * fx
    out = ((top * (256 - fy) + bottom * fy + 32768) >> 16).astype(np.uint8)
    return out[:, :, 0] if squeeze else out


def prepare_frame(frame: np.ndarray, width: int, height: int, channels: int) -> np.ndarray:
    """A camera frame (uint8 H, W, C) to model pixels: centre crop, integer bilinear, grayscale if asked."""
    a = np.asarray(frame, dtype=np.uint8)
    if a.ndim == 2:
        a = a[:, :, None]
    # Grayscale first: the board converts each pixel as it arrives and keeps one byte per pixel.
    a = to_channels(a, channels)
    a = center_crop(a, width, height)
    if a.shape[:2] != (height, width):
        a = resize_bilinear_int(a, width, height)
    return a
