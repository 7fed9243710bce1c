"""Wake Vision (Banbury et al. 2024, arXiv:2405.00892): a sample of N real person / non_person photos.

Wake Vision is published on Hugging Face (``Harvard-Edge/Wake-Vision``) as parquet shards of a few
hundred MB each; every row holds one encoded photo (``image``: ``{bytes, path}``), its file name and
a ``person`` label (1 person, 0 none). Labels are CC BY 4.0; the photos come from Open Images, listed
as CC BY 2.0 (verify per image: Open Images makes no warranty).

:func:`fetch_wake_vision` fetches only what N images need: a parquet file keeps its table of contents
(the footer) at the end, so the kit reads the footer, then the label column of one row group at a
time, and only for row groups that hold wanted rows, their image column, each over HTTP byte ranges.
Photos are decoded, orientation applied, downscaled, and saved with no metadata (EXIF/GPS gone) as
``OUT/person/*.jpg`` and ``OUT/non_person/*.jpg``. ``OUT/wake_vision_manifest.json`` lists every
image written with its SHA-256, shard and row; a re-run verifies those checksums, skips rows already
done and continues (resume). ``OUT/attribution.csv`` and ``OUT/DATASET_CARD.md`` keep per-image
attribution.
"""
from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from ..errors import KitError
from ..files import atomic_write_text

__all__ = [
    "WAKE_VISION_REPO",
    "WAKE_VISION_INDEX_URL",
    "WAKE_VISION_LABELS",
    "Shard",
    "WakeVisionReport",
    "HttpRangeFile",
    "list_shards",
    "fetch_wake_vision",
    "find_real_photos",
]

WAKE_VISION_REPO = "Harvard-Edge/Wake-Vision"
"""The dataset's Hugging Face repository."""
WAKE_VISION_INDEX_URL = f"https://datasets-server.huggingface.co/parquet?dataset={WAKE_VISION_REPO}"
"""Hugging Face's listing of the dataset's parquet shards (JSON: parquet_files with split, url, size)."""
WAKE_VISION_LABELS = ("non_person", "person")
"""Folder names for person = 0 and person = 1."""
_IMAGE_LICENCE = "CC BY 2.0 (Open Images; verify per image: https://storage.googleapis.com/openimages/web/factsfigures_v7.html)"
_LABEL_LICENCE = "CC BY 4.0 (Wake Vision labels)"
_MANIFEST = "wake_vision_manifest.json"


class WakeVisionError(KitError):
    """The listing or a shard could not be had, or is not what Wake Vision publishes."""


@dataclasses.dataclass(frozen=True)
class Shard:
    """One parquet file of the dataset."""

    split: str
    """Wake Vision split (train_quality, validation, test, ...)."""
    url: str
    """Where it is."""
    size: int | None
    """Size in bytes from the listing (checked against the server's)."""


@dataclasses.dataclass
class WakeVisionReport:
    """What :func:`fetch_wake_vision` did."""

    out: Path
    """Dataset folder."""
    written: int = 0
    """Images written by this call."""
    already_there: int = 0
    """Images from earlier calls whose checksum still matches."""
    counts: dict[str, int] = dataclasses.field(default_factory=dict)
    """Images in the folder now, per label."""
    bytes_fetched: int = 0
    """Bytes this call downloaded (footers, label columns, image columns)."""
    skipped: list[str] = dataclasses.field(default_factory=list)
    """Rows or files passed over, with the reason."""


def _open(url: str, headers: dict[str, str] | None = None, timeout: float = 60.0) -> Any:
    req = urllib.request.Request(url, headers={"User-Agent": "tinymlkit", **(headers or {})})
    # A fresh opener reads the proxy settings now (as data.download does).
    return urllib.request.build_opener().open(req, timeout=timeout)


class HttpRangeFile(io.RawIOBase):
    """A read-only, seekable file over HTTP byte ranges (what pyarrow needs to read a remote parquet)."""

    def __init__(self, url: str, size: int | None = None, block: int = 1 << 20, timeout: float = 60.0) -> None:
        super().__init__()
        self.url, self.timeout, self.block = url, timeout, block
        self.fetched = 0
        self._pos = 0
        self._buf_start, self._buf = 0, b""
        real = self._server_size()
        if size is not None and real != size:
            raise WakeVisionError(f"{url}: the server has {real} bytes, the listing says {size}; the shard changed "
                                  "since it was listed, run again to read a fresh listing")
        self.size = real

    def _get(self, start: int, end: int) -> tuple[bytes, str | None]:
        try:
            with _open(self.url, {"Range": f"bytes={start}-{end}"}, self.timeout) as resp:
                if resp.status != 206:
                    raise WakeVisionError(f"{self.url}: the server does not answer byte-range requests (status "
                                          f"{resp.status}); the kit will not download whole shards of ~500 MB")
                data = resp.read()
                self.fetched += len(data)
                return data, resp.headers.get("Content-Range")
        except urllib.error.URLError as e:
            raise WakeVisionError(f"{self.url}: {getattr(e, 'reason', e)}") from None

    def _server_size(self) -> int:
        _, rng = self._get(0, 0)
        if not rng or "/" not in rng or rng.rsplit("/", 1)[1] == "*":
            raise WakeVisionError(f"{self.url}: no total size in the answer's Content-Range ({rng!r})")
        return int(rng.rsplit("/", 1)[1])

    def readable(self) -> bool:
        """Always True."""
        return True

    def seekable(self) -> bool:
        """Always True."""
        return True

    def tell(self) -> int:
        """Current position."""
        return self._pos

    def seek(self, offset: int, whence: int = 0) -> int:
        """Move the position (no request is made until a read)."""
        base = {0: 0, 1: self._pos, 2: self.size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def read(self, n: int = -1) -> bytes:
        """Up to ``n`` bytes from the position (all the rest for -1), fetched in blocks of at least 1 MB."""
        if n is None or n < 0:
            n = self.size - self._pos
        n = min(n, self.size - self._pos)
        if n <= 0:
            return b""
        lo, hi = self._pos, self._pos + n
        if not (self._buf_start <= lo and hi <= self._buf_start + len(self._buf)):
            end = min(self.size, max(hi, lo + self.block)) - 1
            self._buf, _ = self._get(lo, end)
            self._buf_start = lo
        out = self._buf[lo - self._buf_start:hi - self._buf_start]
        self._pos += len(out)
        return out

    def readinto(self, b: Any) -> int:
        """Read into a buffer (io.RawIOBase protocol)."""
        data = self.read(len(b))
        b[:len(data)] = data
        return len(data)


def list_shards(index_url: str = WAKE_VISION_INDEX_URL, split: str = "validation") -> list[Shard]:
    """The parquet shards of one split, from the dataset server's JSON listing."""
    try:
        with _open(index_url, timeout=30.0) as resp:
            listing = json.loads(resp.read().decode("utf-8"))
    except (urllib.error.URLError, OSError, TimeoutError) as e:
        raise WakeVisionError(
            f"{index_url}: could not read the Wake Vision shard listing ({getattr(e, 'reason', e)}). It needs the "
            "network (huggingface.co). Offline: train on your own photos (--data DIR with person/ and non_person/), "
            "or on the synthetic set, which is only a pipeline smoke test") from None
    except ValueError as e:
        raise WakeVisionError(f"{index_url}: the listing is not JSON ({e})") from None
    files = listing.get("parquet_files") if isinstance(listing, dict) else None
    if not isinstance(files, list):
        raise WakeVisionError(f"{index_url}: no 'parquet_files' list in the answer")
    shards = [Shard(str(f.get("split")), str(f["url"]), int(f["size"]) if f.get("size") is not None else None)
              for f in files if isinstance(f, dict) and "url" in f]
    chosen = [s for s in shards if s.split == split]
    if not chosen:
        raise WakeVisionError(f"{index_url}: no shards for split {split!r}; splits listed: "
                              f"{sorted({s.split for s in shards})}")
    return chosen


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _load_manifest(out: Path) -> dict[str, Any]:
    p = out / _MANIFEST
    if not p.is_file():
        return {"images": []}
    try:
        m = json.loads(p.read_text())
        if not isinstance(m.get("images"), list):
            raise ValueError("no images list")
        return m
    except ValueError as e:
        raise WakeVisionError(f"{p}: damaged manifest ({e}); move it away to start this folder again") from None


def _save_photo(image_bytes: bytes, name: str, max_side: int) -> bytes:
    """Decode (orientation applied), downscale, re-encode as JPEG with no metadata at all."""
    from PIL import Image

    from ..vision.image_io import encode_image, image_from_bytes

    img = image_from_bytes(image_bytes, name)
    if max(img.size) > max_side:
        scale = max_side / max(img.size)
        img = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))),
                         Image.Resampling.LANCZOS)
    return encode_image(img, "JPEG", quality=90)


def _row_label(v: Any) -> int | None:
    try:
        k = int(v)
    except (TypeError, ValueError):
        return None
    return k if k in (0, 1) else None


def fetch_wake_vision(max_images: int, out: str | os.PathLike[str] | None = None, split: str = "validation",
                      index_url: str = WAKE_VISION_INDEX_URL, max_side: int = 320, progress: bool = True,
                      label_column: str = "person", image_column: str = "image",
                      name_column: str = "filename") -> WakeVisionReport:
    """Fetch ``max_images`` Wake Vision photos (half person, half not) into ``out``; resumes; see module text."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise WakeVisionError("reading Wake Vision's parquet shards needs pyarrow: pip install pyarrow") from None
    from ..files import claim_kit_folder, save_new_file
    from ..paths import dataset_dir

    if max_images < 1:
        raise WakeVisionError(f"--max-images {max_images}: give at least 1")
    if not 16 <= max_side <= 4096:
        raise WakeVisionError(f"--max-side {max_side}: give 16 to 4096 pixels")
    out = Path(out) if out is not None else dataset_dir("wake_vision") / split
    # Before any byte is fetched: a folder holding someone else's files is refused, never filled.
    claim_kit_folder(out, "the Wake Vision images")
    manifest = _load_manifest(out)
    rep = WakeVisionReport(out)
    entries: list[dict[str, Any]] = []
    for e in manifest["images"]:
        p = out / e["file"]
        if p.is_file() and _sha256(p.read_bytes()) == e["sha256"]:
            entries.append(e)
        else:
            rep.skipped.append(f"{p}: missing or changed since it was fetched (SHA-256 differs); fetched again")
    rep.already_there = len(entries)
    done = {(e["shard"], e["row"]) for e in entries}
    want = {1: max_images // 2, 0: max_images - max_images // 2}
    have = {k: sum(1 for e in entries if e["person"] == k) for k in (0, 1)}
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=max_images, initial=min(max_images, len(entries)), unit="img", desc="Wake Vision")

    def needed(k: int) -> bool:
        return have[k] < want[k]

    try:
        if needed(0) or needed(1):
            for shard in list_shards(index_url, split):
                if not (needed(0) or needed(1)):
                    break
                f = HttpRangeFile(shard.url, shard.size)
                try:
                    pf = pq.ParquetFile(f)
                    cols = pf.schema_arrow.names
                    for c in (label_column, image_column):
                        if c not in cols:
                            raise WakeVisionError(f"{shard.url}: no column {c!r} (columns: {cols}); not a Wake "
                                                  "Vision shard")
                    extra = [c for c in (name_column, "author", "license", "original_url", "landing_url")
                             if c in cols]
                    row0 = 0
                    for g in range(pf.num_row_groups):
                        if not (needed(0) or needed(1)):
                            break
                        n_rows = pf.metadata.row_group(g).num_rows
                        labels = pf.read_row_group(g, columns=[label_column]).column(0).to_pylist()
                        rows = []
                        for i, v in enumerate(labels):
                            k = _row_label(v)
                            if k is None or (shard.url, row0 + i) in done or not needed(k):
                                continue
                            rows.append((i, k))
                            have[k] += 1  # reserved; given back below if the photo is unusable
                        if rows:
                            table = pf.read_row_group(g, columns=[image_column, *extra])
                            images = table.column(image_column).to_pylist()
                            meta = {c: table.column(c).to_pylist() for c in extra}
                            for i, k in rows:
                                cell = images[i]
                                data = cell.get("bytes") if isinstance(cell, dict) else cell
                                src_name = str(meta.get(name_column, [None] * n_rows)[i] or f"row{row0 + i}")
                                try:
                                    if not data:
                                        raise KitError(f"{src_name}: no image bytes in the row")
                                    jpg = _save_photo(bytes(data), src_name, max_side)
                                except KitError as e:
                                    rep.skipped.append(f"{shard.url} row {row0 + i}: {e}")
                                    have[k] -= 1
                                    continue
                                stem = Path(src_name).stem.replace(os.sep, "_") or f"row{row0 + i}"
                                rel = f"{WAKE_VISION_LABELS[k]}/{stem}.jpg"
                                if (out / rel).exists():
                                    rel = f"{WAKE_VISION_LABELS[k]}/{stem}_{len(entries)}.jpg"
                                save_new_file(out / rel, jpg)
                                entry = {"file": rel, "sha256": _sha256(jpg), "person": k, "shard": shard.url,
                                         "row": row0 + i, "source_name": src_name}
                                entry.update({c: (None if meta[c][i] is None else str(meta[c][i]))
                                              for c in extra if c != name_column})
                                entries.append(entry)
                                done.add((shard.url, row0 + i))
                                rep.written += 1
                                if bar is not None:
                                    bar.update(1)
                            # Keep the manifest current: an interrupted run resumes from here.
                            _write_manifest(out, entries, split, index_url)
                        row0 += n_rows
                finally:
                    rep.bytes_fetched += f.fetched
    finally:
        if bar is not None:
            bar.close()
        _write_manifest(out, entries, split, index_url)
        _write_attribution(out, entries, split)
    rep.counts = {WAKE_VISION_LABELS[k]: sum(1 for e in entries if e["person"] == k) for k in (0, 1)}
    if rep.written + rep.already_there < max_images:
        rep.skipped.append(f"only {rep.written + rep.already_there} of {max_images} images could be had from split "
                           f"{split!r}")
    return rep


def _write_manifest(out: Path, entries: list[dict[str, Any]], split: str, index_url: str) -> None:
    atomic_write_text(out / _MANIFEST, json.dumps(
        {"dataset": WAKE_VISION_REPO, "split": split, "index_url": index_url, "labels_licence": _LABEL_LICENCE,
         "images_licence": _IMAGE_LICENCE, "images": entries}, indent=1) + "\n")


def _write_attribution(out: Path, entries: list[dict[str, Any]], split: str) -> None:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["file", "label", "source_name", "open_images_id", "author", "source_url", "image_licence",
                "label_licence", "shard", "row", "changes"])
    for e in entries:
        w.writerow([e["file"], WAKE_VISION_LABELS[e["person"]], e.get("source_name"),
                    Path(str(e.get("source_name") or "")).stem, e.get("author") or "",
                    e.get("original_url") or e.get("landing_url") or "",
                    e.get("license") or _IMAGE_LICENCE, _LABEL_LICENCE, e["shard"], e["row"],
                    "orientation applied, downscaled, re-encoded as JPEG, all metadata (EXIF/GPS) removed"])
    atomic_write_text(out / "attribution.csv", buf.getvalue())
    card = [
        f"# Wake Vision sample ({split} split): {len(entries)} images",
        "",
        f"Fetched by `tinymlkit data wake-vision` from the parquet shards of {WAKE_VISION_REPO} (Hugging Face).",
        "Wake Vision: Banbury et al., arXiv:2405.00892. Labels: CC BY 4.0. Images: Open Images, listed as CC BY 2.0;",
        "Open Images makes no warranty about each image's licence: check an image's source before you publish it.",
        "Changes: orientation applied, downscaled, re-encoded as JPEG, all metadata (EXIF, GPS) removed.",
        "",
        "Per-image attribution (also in attribution.csv):",
        "",
    ]
    for e in entries:
        who = e.get("author") or "author as recorded by Open Images for this id"
        card.append(f"- `{e['file']}`: Open Images {Path(str(e.get('source_name') or '')).stem}, {who}, "
                    f"{e.get('license') or 'CC BY 2.0'}")
    atomic_write_text(out / "DATASET_CARD.md", "\n".join(card) + "\n")


def find_real_photos(n: int = 60, out: str | os.PathLike[str] | None = None, progress: bool = True) -> Path:
    """A folder of labelled real photos for lessons: ../shared/data/people_smoke where it exists, else N
    Wake Vision photos (network), else a KitError saying what is missing and what to do."""
    from ..paths import project_root

    candidates = []
    root = project_root()
    if os.environ.get("TINYMLKIT_SHARED_DATA"):
        candidates.append(Path(os.environ["TINYMLKIT_SHARED_DATA"]) / "people_smoke")
    elif root is not None:
        candidates.append(root.parent / "shared" / "data" / "people_smoke")
    for c in candidates:
        if c.is_dir():
            return c
    try:
        return fetch_wake_vision(n, out=out, progress=progress).out
    except KitError as e:
        print(f"tinymlkit: {e}", file=sys.stderr)
        raise WakeVisionError(
            "no real photos here: the project's ../shared/data/people_smoke is absent (a fresh clone or Colab) and "
            "Wake Vision could not be fetched. Connect to the network and run again, or put your own photos in a "
            "folder with person/ and non_person/ sub-folders and pass its path") from None
