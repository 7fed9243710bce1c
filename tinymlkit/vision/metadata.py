"""What a photo says about where and when it was taken: read its EXIF (GPS included), for the privacy lesson."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from PIL import ExifTags, Image

__all__ = ["read_metadata", "demo_exif_with_gps"]

_GPS_IFD = 0x8825


def read_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """EXIF tags by name, with the GPS block decoded into its own dict ({} for a clean file)."""
    with Image.open(Path(path)) as img:
        exif = img.getexif()
        out: dict[str, Any] = {ExifTags.TAGS.get(k, hex(k)): v for k, v in exif.items() if k != _GPS_IFD}
        gps = exif.get_ifd(_GPS_IFD)
        if gps:
            out["GPSInfo"] = {ExifTags.GPSTAGS.get(k, hex(k)): v for k, v in gps.items()}
    return out


def demo_exif_with_gps(lat: float, lon: float, make: str = "ExamplePhone", when: str = "2026:11:22 10:30:00") -> Image.Exif:
    """EXIF like a phone writes: maker, time and a GPS position (degrees, minutes, seconds), to attach to a demo image."""
    def dms(v: float) -> tuple[float, float, float]:
        v = abs(v)
        d, m = int(v), int((v - int(v)) * 60)
        return (float(d), float(m), round((v - d - m / 60) * 3600, 2))

    exif = Image.Exif()
    exif[0x010F] = make  # Make
    exif[0x0132] = when  # DateTime
    exif[_GPS_IFD] = {1: "N" if lat >= 0 else "S", 2: dms(lat), 3: "E" if lon >= 0 else "W", 4: dms(lon)}
    return exif
