"""Camera frames between the protocol's pixel-format codes and pixels (through ``tinymlkit.vision.pixels``)."""
from __future__ import annotations

import numpy as np

from ..errors import KitError
from . import protocol as p

__all__ = ["vision_format", "decode_image", "encode_pixels", "camera_view"]

_VISION_FORMATS = {
    "GRAY8": ("gray8", "big"),
    "RGB565_BE": ("rgb565", "big"),
    "RGB565_LE": ("rgb565", "little"),
    "JPEG": ("jpeg", "big"),
}


def vision_format(code: int) -> tuple[str, str]:
    """(format, byte order) for ``tinymlkit.vision.pixels.decode_frame`` of a PIXEL_FORMATS code."""
    name = p.pixel_format_name(code)
    if name not in _VISION_FORMATS:
        raise p.ProtocolError(f"pixel format {name} carries no image")
    return _VISION_FORMATS[name]


def decode_image(width: int, height: int, pixel_format: int, data: bytes, name: str = "<frame>") -> np.ndarray:
    """A frame's bytes to uint8 pixels (H, W, C): C is 1 for grayscale, 3 otherwise."""
    from ..vision.pixels import decode_frame

    fmt, order = vision_format(pixel_format)
    return decode_frame(data, fmt, width, height, order, name=name)


def encode_pixels(rgb: np.ndarray, pixel_format: int) -> bytes:
    """RGB pixels (H, W, 3) to the bytes a camera of the given PIXEL_FORMATS code sends."""
    from ..vision.image_io import encode_image
    from ..vision.pixels import rgb888_to_rgb565
    from ..vision.preprocess import rgb_to_gray

    name = p.pixel_format_name(pixel_format)
    if name == "GRAY8":
        return rgb_to_gray(rgb).tobytes()
    if name in ("RGB565_BE", "RGB565_LE"):
        return rgb888_to_rgb565(rgb, "big" if name == "RGB565_BE" else "little")
    if name == "JPEG":
        return encode_image(rgb, "JPEG", quality=85)
    raise KitError(f"a camera cannot produce pixel format {name}")


def camera_view(rgb: np.ndarray, pixel_format: int) -> np.ndarray:
    """What the board holds after its camera sent ``rgb`` in ``pixel_format`` (RGB565 loses low bits)."""
    h, w = rgb.shape[:2]
    return decode_image(w, h, pixel_format, encode_pixels(rgb, pixel_format), name="virtual camera")
