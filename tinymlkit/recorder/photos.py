"""Own photos from the laptop's webcam, through the same local page server as the keyword recorder.

Kept photos land as ``OUT/LABEL/OWNER_N.png``, the image-folder layout ``vww run --data`` and
``load_real_photos`` read (one sub-folder per label). Every upload is decoded and re-encoded from its
pixels alone (:func:`tinymlkit.vision.image_io.save_image`): no EXIF, no GPS, no camera name or time
is ever written, whatever the upload carried. Files are written create-only and atomically, so a photo
is never overwritten and a stopped server leaves only whole files. Uploads that are not a PNG or JPEG
image, are too large, or name a label the session does not have are refused and nothing is written.
"""
from __future__ import annotations

import dataclasses
import io
import re
import threading
import warnings
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from ..errors import KitError
from ..files import ensure_folder
from ..vision.image_io import MIN_SIDE, image_from_bytes, save_image
from .photo_page import PHOTO_PAGE
from .server import LocalServer, UploadRefused, check_speaker, check_word, new_speaker_id

__all__ = ["PhotoSession", "PhotoServer", "PERSON_HINTS", "MAX_SIDE", "MAX_UPLOAD_BYTES", "MAX_UPLOAD_SIDE",
           "MAX_SIDE_LIMIT", "DEFAULT_PHOTO_LABELS", "decode_upload", "check_owner"]

DEFAULT_PHOTO_LABELS = ("person", "non_person")
"""Labels the page asks for by default (the person detector's folders), in the order it shows them."""

MAX_SIDE = 640
"""Default longest side (pixels) of a saved photo; larger uploads are scaled down to it."""

MAX_SIDE_LIMIT = 1920
"""Largest ``max_side`` a session may ask for (a still that size still fits in MAX_UPLOAD_BYTES as a PNG)."""

MAX_UPLOAD_SIDE = 4096
"""Largest width or height an upload may have; anything bigger is refused before it is decoded."""

MAX_UPLOAD_BYTES = 16 * 1024 * 1024
"""Largest upload (bytes) read at all: above the largest PNG of a MAX_SIDE_LIMIT still (1920 x 1920 RGBA,
14.7 MB uncompressed); the page's PNGs of a 640-pixel still are about 1 MB at most."""

PERSON_HINTS = {
    "person": "A person in view: you, or someone who agreed, whole or in part, near or far, in different "
              "places and light in the room.",
    "non_person": "The same room with nobody in it: the places where people would be, empty, from this camera.",
}
"""What counts for each label of the person detector, shown under the label on the page."""

_FORMATS = ("PNG", "JPEG")


def check_owner(owner: str) -> str:
    """An owner id usable in photo file names (lower-case letters and digits); KitError otherwise."""
    try:
        return check_speaker(owner)
    except KitError:
        raise KitError(f"--owner {owner!r}: use 1-32 lower-case letters or digits (it starts every photo's "
                       "file name)") from None


def decode_upload(data: bytes, max_side: int = MAX_SIDE) -> Image.Image:
    """An uploaded PNG or JPEG as 8-bit RGB or L pixels, longest side at most ``max_side``; UploadRefused if bad.

    The size is read from the header first, so an image too large to hold is refused before it is
    decoded; EXIF orientation is applied, then the metadata plays no further part.
    """
    if not data:
        raise UploadRefused("the upload is empty (0 bytes); send a PNG or JPEG photo")
    if len(data) > MAX_UPLOAD_BYTES:
        raise UploadRefused(f"the upload is {len(data):,} bytes; at most {MAX_UPLOAD_BYTES:,} are accepted", 413)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                fmt, (w, h) = probe.format, probe.size
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError,
            Image.DecompressionBombWarning):
        raise UploadRefused("the upload is not an image (send a PNG or JPEG photo)") from None
    if fmt not in _FORMATS:
        raise UploadRefused(f"the upload is a {fmt} image; send a PNG or JPEG photo")
    if max(w, h) > MAX_UPLOAD_SIDE:
        raise UploadRefused(f"the upload is {w}x{h} pixels; at most {MAX_UPLOAD_SIDE} pixels a side are accepted",
                            413)
    try:
        img = image_from_bytes(data, "the upload", min_side=MIN_SIDE)
    except KitError as e:
        raise UploadRefused(str(e)) from None
    if max(img.size) > max_side:
        img = img.copy()
        img.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return img


@dataclasses.dataclass
class PhotoSession:
    """What one photo session writes: which labels, how many photos each, whose, where, how large."""

    out: Path
    """Dataset folder (one sub-folder per label)."""
    labels: tuple[str, ...]
    """Labels to photograph, in the order the page shows them."""
    owner: str
    """Owner id put at the start of every file name."""
    takes: int = 20
    """Photos wanted per label (the page moves on when a label has them; more can still be kept)."""
    max_side: int = MAX_SIDE
    """Longest side of a saved photo in pixels; larger stills are scaled down."""
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock, repr=False)
    """Serialises saves, so two quick clicks never pick the same number."""

    page = PHOTO_PAGE
    """The photo page."""
    endpoint = "/api/photo"
    """Where the page posts a kept photo."""
    key = "label"
    """Query parameter naming the label of a photo."""

    def describe(self) -> dict[str, Any]:
        """Labels with what counts for each, owner, photos wanted, counts and folder, for the page."""
        hints = {lab: PERSON_HINTS.get(lab, f"A photo of {lab.replace('_', ' ')}.") for lab in self.labels}
        return {"labels": list(self.labels), "hints": hints, "owner": self.owner, "takes": self.takes,
                "counts": self.counts(), "out": str(self.out), "max_side": self.max_side}

    def check_length(self, length: int) -> None:
        """Refuse a missing, empty or too large body before reading it."""
        if length <= 0:
            raise UploadRefused(f"a photo upload needs a body; Content-Length says {length}", 411 if length < 0
                                else 400)
        if length > MAX_UPLOAD_BYTES:
            raise UploadRefused(f"the upload is {length:,} bytes; at most {MAX_UPLOAD_BYTES:,} are accepted", 413)

    def numbers(self, label: str) -> list[int]:
        """Photo numbers already taken for this label and owner (any image ending)."""
        folder = self.out / label
        pat = re.compile(rf"^{re.escape(self.owner)}_(\d+)\.(?:png|jpe?g|bmp)$", re.IGNORECASE)
        if not folder.is_dir():
            return []
        return sorted(int(m.group(1)) for f in folder.iterdir() if (m := pat.match(f.name)))

    def counts(self) -> dict[str, int]:
        """Photos saved so far per label (this owner's)."""
        return {lab: len(self.numbers(lab)) for lab in self.labels}

    def save(self, label: str, data: bytes) -> Path:
        """Check one uploaded photo and write its pixels as the next free PNG; never overwrites."""
        if label not in self.labels:
            raise UploadRefused(f"label {label!r} is not one of this session's labels {list(self.labels)}")
        img = decode_upload(data, self.max_side)
        with self.lock:
            ensure_folder(self.out / label)
            n = max(self.numbers(label), default=-1) + 1
            while True:
                path = self.out / label / f"{self.owner}_{n}.png"
                try:
                    return save_image(img, path)
                except FileExistsError:  # made by another program meanwhile: take the next number
                    n += 1


class PhotoServer(LocalServer):
    """Serve the photo page for one session on 127.0.0.1."""

    session: PhotoSession

    def __init__(self, out: str | Path, labels: tuple[str, ...] | list[str] = DEFAULT_PHOTO_LABELS,
                 owner: str | None = None, takes: int = 20, max_side: int = MAX_SIDE, port: int = 0,
                 verbose: bool = False) -> None:
        labels = tuple(check_word(lab, "label") for lab in labels)
        if not labels:
            raise KitError("give at least one label to photograph")
        dup = sorted({lab for lab in labels if labels.count(lab) > 1})
        if dup:
            raise KitError(f"--labels: {', '.join(dup)} given more than once")
        if takes < 1:
            raise KitError(f"--takes {takes}: give a positive number")
        if not 32 <= max_side <= MAX_SIDE_LIMIT:
            raise KitError(f"--max-side {max_side}: give 32 to {MAX_SIDE_LIMIT} pixels")
        session = PhotoSession(Path(out), labels, check_owner(owner or new_speaker_id()), takes, max_side)
        self._listen(session, port, verbose)
