"""Read image files safely (EXIF orientation applied, clear errors) and write them without metadata."""
from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import KitError
from ..files import atomic_write_bytes, save_new_file

__all__ = [
    "ImageError",
    "IMAGE_SUFFIXES",
    "MIN_SIDE",
    "open_image",
    "load_image",
    "image_from_bytes",
    "image_to_array",
    "strip_metadata",
    "encode_image",
    "save_image",
]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
"""File endings the kit reads as images (JPEG, PNG, BMP including palette BMPs)."""

MIN_SIDE = 8
"""Smallest width or height (pixels) the kit accepts: smaller images carry no usable content."""

# Pillow's decompression-bomb guard stays on; a single photo bigger than this is refused, not decoded.
_MAX_PIXELS = 100_000_000


class ImageError(KitError, ValueError):
    """A file that is not an image the kit can use; the message names the file and says what is wrong."""


def _to_rgb_or_l(img: Image.Image, name: str) -> Image.Image:
    """Bring any decoded mode to 8-bit 'L' (grayscale) or 'RGB', with correct scaling."""
    mode = img.mode
    if mode in ("L", "RGB"):
        return img
    if mode.startswith("I"):
        # 16-bit grayscale (PNG, TIFF): Pillow's convert('L') clips at 255, turning most of the
        # picture white; keep the high byte instead, which maps 0..65535 onto 0..255.
        a = np.asarray(img, dtype=np.int64)
        return Image.fromarray(np.clip(a >> 8, 0, 255).astype(np.uint8), "L")
    if mode == "F":
        raise ImageError(f"{name}: floating-point images are not supported; save it as an 8-bit PNG or JPEG")
    if mode in ("LA", "La"):
        return img.convert("L")  # transparency dropped: a camera has none
    if mode in ("1", "P", "PA", "RGBA", "RGBa", "RGBX", "CMYK", "YCbCr", "LAB", "HSV"):
        if mode == "P" and "transparency" in img.info:
            img = img.convert("RGBA")
        return img.convert("RGB")
    raise ImageError(f"{name}: unsupported pixel mode {mode!r}; save it as an 8-bit RGB or grayscale JPEG/PNG")


def _decode(fp: io.BytesIO | Path, name: str, min_side: int) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(fp) as img:
                if img.width * img.height > _MAX_PIXELS:
                    raise ImageError(f"{name}: {img.width}x{img.height} is too large to load "
                                     f"(more than {_MAX_PIXELS:,} pixels); downscale it first")
                img.load()  # decode now, so truncation shows up here and not later
                img = ImageOps.exif_transpose(img)
                img = _to_rgb_or_l(img, name)
                img.load()
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise ImageError(f"{name}: not an image Pillow can read (expected JPEG, PNG or BMP)") from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise ImageError(f"{name}: damaged or truncated image ({e}); re-export or re-download it") from None
    if img.width < min_side or img.height < min_side:
        raise ImageError(f"{name}: {img.width}x{img.height} pixels is too small; images need at least "
                         f"{min_side}x{min_side} pixels (the model input is a downscaled photo)")
    return img


def open_image(path: str | os.PathLike[str], min_side: int = MIN_SIDE) -> Image.Image:
    """Decode an image file fully into 8-bit 'RGB' or 'L', EXIF orientation applied; ImageError if bad."""
    path = Path(path)
    if not path.exists():
        raise ImageError(f"{path}: no such file")
    if path.is_dir():
        raise ImageError(f"{path}: is a folder, not an image file")
    if path.stat().st_size == 0:
        raise ImageError(f"{path}: the file is empty (0 bytes); copy or capture it again")
    return _decode(path, str(path), min_side)


def image_from_bytes(data: bytes, name: str = "<image bytes>", min_side: int = MIN_SIDE) -> Image.Image:
    """Decode an encoded image (JPEG, PNG, BMP) held in memory, as :func:`open_image` does for files."""
    if not data:
        raise ImageError(f"{name}: no data (0 bytes)")
    return _decode(io.BytesIO(data), name, min_side)


def image_to_array(img: Image.Image, channels: int | None = None) -> np.ndarray:
    """Pixels as uint8 (H, W, C); ``channels`` 1 or 3 converts (grayscale by the kit's integer rule)."""
    from .preprocess import to_channels

    a = np.asarray(img, dtype=np.uint8)
    if a.ndim == 2:
        a = a[:, :, None]
    return a if channels is None else to_channels(a, channels)


def load_image(path: str | os.PathLike[str], channels: int | None = None, min_side: int = MIN_SIDE) -> np.ndarray:
    """An image file as uint8 (H, W, C) with EXIF orientation applied; ImageError naming the file if bad."""
    return image_to_array(open_image(path, min_side=min_side), channels)


def strip_metadata(img: Image.Image) -> Image.Image:
    """A copy holding only the pixels: no EXIF (camera, GPS, time), no ICC profile, no text chunks."""
    if img.mode not in ("L", "RGB"):
        img = _to_rgb_or_l(img, "<image>")
    clean = Image.frombytes(img.mode, img.size, img.tobytes())
    clean.info = {}
    return clean


def _as_image(pixels: np.ndarray | Image.Image) -> Image.Image:
    if isinstance(pixels, Image.Image):
        return strip_metadata(pixels)
    a = np.asarray(pixels)
    if a.dtype != np.uint8:
        raise ValueError(f"pixels must be uint8, got {a.dtype}")
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim == 2:
        return Image.fromarray(a, "L")
    if a.ndim == 3 and a.shape[2] == 3:
        return Image.fromarray(a, "RGB")
    raise ValueError(f"pixels must be (H, W), (H, W, 1) or (H, W, 3), got shape {a.shape}")


def encode_image(pixels: np.ndarray | Image.Image, fmt: str = "PNG", quality: int = 92) -> bytes:
    """Encode pixels as PNG, JPEG or BMP bytes with no metadata at all."""
    img = _as_image(pixels)
    fmt = fmt.upper().replace("JPG", "JPEG")
    buf = io.BytesIO()
    if fmt == "JPEG":
        img.save(buf, "JPEG", quality=quality, exif=b"", icc_profile=None)
    elif fmt in ("PNG", "BMP"):
        img.save(buf, fmt)
    else:
        raise ValueError(f"unsupported image format {fmt!r}; use PNG, JPEG or BMP")
    return buf.getvalue()


def save_image(pixels: np.ndarray | Image.Image, path: str | os.PathLike[str], overwrite: bool = False,
               quality: int = 92) -> Path:
    """Write pixels atomically (format from the suffix), metadata stripped; never overwrites unless asked."""
    path = Path(path)
    suffix = path.suffix.lower()
    fmt = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".bmp": "BMP"}.get(suffix)
    if fmt is None:
        raise ImageError(f"{path}: unsupported file ending {suffix!r}; use .png, .jpg or .bmp")
    data = encode_image(pixels, fmt, quality=quality)
    return atomic_write_bytes(path, data) if overwrite else save_new_file(path, data)
