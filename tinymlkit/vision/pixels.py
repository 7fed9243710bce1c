"""The camera pixel formats the sketches send: RGB565 and grayscale raw frames, and JPEG (Arducam).

RGB565 packs a pixel in 16 bits, RRRRRGGG GGGBBBBB. The OV7670/OV7675 cameras send the high byte
first ("big-endian"), which is the default here; pass ``byte_order="little"`` for a sketch that
stores the frame as native uint16_t on the Cortex-M (little-endian). Channels widen to 8 bits by
repeating their top bits (r8 = r5 << 3 | r5 >> 2), so full white stays 255 and black 0.
"""
from __future__ import annotations

import numpy as np

from .image_io import ImageError, image_from_bytes, image_to_array

__all__ = [
    "FRAME_FORMATS",
    "rgb565_to_rgb888",
    "rgb888_to_rgb565",
    "gray_frame",
    "decode_frame",
]

FRAME_FORMATS = ("rgb565", "gray8", "jpeg")
"""Frame encodings the kit decodes: raw RGB565, raw 8-bit grayscale, JPEG."""


def _check_size(data: bytes, expected: int, fmt: str, width: int, height: int, name: str) -> None:
    if len(data) != expected:
        raise ImageError(f"{name}: a {width}x{height} {fmt} frame has {expected} bytes, got {len(data)} "
                         "(frame cut short or wrong size/format set in the sketch)")


def rgb565_to_rgb888(data: bytes, width: int, height: int, byte_order: str = "big",
                     name: str = "<frame>") -> np.ndarray:
    """Raw RGB565 bytes to uint8 (height, width, 3)."""
    if byte_order not in ("big", "little"):
        raise ValueError(f"byte_order must be 'big' or 'little', got {byte_order!r}")
    _check_size(data, width * height * 2, "RGB565", width, height, name)
    v = np.frombuffer(data, dtype=">u2" if byte_order == "big" else "<u2").astype(np.uint16).reshape(height, width)
    r5 = (v >> 11) & 0x1F
    g6 = (v >> 5) & 0x3F
    b5 = v & 0x1F
    r = (r5 << 3) | (r5 >> 2)
    g = (g6 << 2) | (g6 >> 4)
    b = (b5 << 3) | (b5 >> 2)
    return np.stack([r, g, b], axis=2).astype(np.uint8)


def rgb888_to_rgb565(rgb: np.ndarray, byte_order: str = "big") -> bytes:
    """uint8 (H, W, 3) to raw RGB565 bytes (truncating each channel), as a camera would send them."""
    a = np.asarray(rgb, dtype=np.uint16)
    v = ((a[:, :, 0] >> 3) << 11) | ((a[:, :, 1] >> 2) << 5) | (a[:, :, 2] >> 3)
    return v.astype(">u2" if byte_order == "big" else "<u2").tobytes()


def gray_frame(data: bytes, width: int, height: int, name: str = "<frame>") -> np.ndarray:
    """Raw 8-bit grayscale bytes to uint8 (height, width, 1)."""
    _check_size(data, width * height, "grayscale", width, height, name)
    return np.frombuffer(data, dtype=np.uint8).reshape(height, width, 1).copy()


def decode_frame(data: bytes, fmt: str, width: int = 0, height: int = 0, byte_order: str = "big",
                 name: str = "<frame>") -> np.ndarray:
    """A frame in one of :data:`FRAME_FORMATS` to uint8 (H, W, C); JPEG carries its own size."""
    if fmt == "rgb565":
        return rgb565_to_rgb888(data, width, height, byte_order, name)
    if fmt == "gray8":
        return gray_frame(data, width, height, name)
    if fmt == "jpeg":
        img = image_from_bytes(data, name=name)
        if width and height and img.size != (width, height):
            raise ImageError(f"{name}: JPEG frame is {img.width}x{img.height}, expected {width}x{height}")
        return image_to_array(img)
    raise ValueError(f"unknown frame format {fmt!r}; known: {FRAME_FORMATS}")
