"""Visual Wake Words from COCO over the network: only the N images a learner asks for, not 13 GB.

COCO 2014 publishes its annotations as one zip (``annotations_trainval2014.zip``, 253 MB) and every
image at its own address (the ``coco_url`` of each image entry). :func:`fetch_vww_coco`:

1. downloads the annotation zip once (resumable, checked against the SHA-256 TensorFlow Datasets records),
   and reads ``instances_SPLIT.json`` out of it;
2. labels every image of the split by the Visual Wake Words rule (:func:`..vww_coco.vww_labels`);
3. draws N of them, half *person* and half *non_person*, in a seeded order that a re-run repeats
   (asking for more later adds images; it never swaps the ones already there);
4. downloads only those images (each written whole or not at all; its SHA-256 kept in a manifest and
   re-checked on the next run, which fetches a damaged file again); an image that fails is listed and
   skipped, the rest go on;
5. writes the usual ``OUT/person/`` and ``OUT/non_person/`` folder through
   :func:`..vww_coco.build_vww_folder` (pixels only: no EXIF) and ``OUT/attribution.csv`` with each
   image's Flickr licence, as COCO records it.

The downloads (zip, extracted JSON, the original JPEGs) stay in a cache folder the kit owns, so a re-run
resumes; delete that folder to get the space back.
"""
from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import os
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlparse

from ..errors import KitError, printable
from ..files import atomic_write_text, check_output_folder, claim_kit_folder, ensure_folder
from ..paths import dataset_dir
from ..vision.image_io import ImageError, image_from_bytes
from .download import RemoteFile, download, sha256_of
from .vww_coco import (NON_PERSON, PERSON, build_vww_folder, check_output_folder_for, file_name_inside, load_coco,
                       vww_labels)

__all__ = ["COCO_2014_ANNOTATIONS", "COCO_IMAGES_URL", "COCO_SPLITS", "CocoFetchReport", "fetch_vww_coco",
           "choose_balanced"]

COCO_2014_ANNOTATIONS = RemoteFile(
    url="http://images.cocodataset.org/annotations/annotations_trainval2014.zip",
    sha256="031296bbc80c45a1d1f76bf9a90ead27e94e99ec629208449507a4917a3bf009",
    size=252872794,
    unpacked_size=800_000_000,
)
"""COCO 2014 train/val annotations; size and SHA-256 as TensorFlow Datasets records them (url_checksums/coco.txt)."""
COCO_IMAGES_URL = "http://images.cocodataset.org"
"""Where COCO serves single images: ``{COCO_IMAGES_URL}/{split}/{file_name}`` (also each entry's ``coco_url``)."""
COCO_SPLITS = ("train2014", "val2014")
"""The 2014 splits VWW was built from (the paper trains on train2014 plus most of val2014)."""
_IMAGES_MANIFEST = "images_sha256.json"


@dataclasses.dataclass(frozen=True)
class CocoFetchReport:
    """What one :func:`fetch_vww_coco` call did."""

    out: Path
    """The labelled folder (``person/``, ``non_person/``, ``vww_manifest.json``, ``attribution.csv``)."""
    cache: Path
    """Where the zip, the extracted JSON and the original JPEGs are kept for re-runs."""
    chosen: dict[str, int]
    """Images drawn per label."""
    downloaded: int
    """Images fetched by this call."""
    already_there: int
    """Images found whole in the cache (checksum matched)."""
    failed: tuple[str, ...]
    """One line per image that could not be fetched or decoded (skipped; the rest went on)."""
    written: dict[str, int]
    """Images newly written to ``out`` per label."""


def choose_balanced(items: list[Any], n: int, seed: int = 0) -> list[Any]:
    """N items, half with ``.person`` true and half false (fewer if a side runs out), in a seeded stable order.

    Each item's rank is a hash of (seed, image id), so a larger N keeps every image a smaller N chose.
    """
    def rank(it: Any) -> str:
        return hashlib.sha256(f"{seed}:{it.image_id}".encode()).hexdigest()

    people = sorted((i for i in items if i.person), key=rank)
    others = sorted((i for i in items if not i.person), key=rank)
    want_p = min(len(people), n // 2 + n % 2)
    want_o = min(len(others), n - want_p)
    want_p = min(len(people), n - want_o)  # give the other side's shortfall to this one
    return sorted(people[:want_p] + others[:want_o], key=lambda i: i.image_id)


def _extract_member(archive: Path, member: str, dest: Path) -> None:
    """Copy one member of a zip to ``dest`` (whole or not at all)."""
    try:
        with zipfile.ZipFile(archive) as z:
            if member not in z.namelist():
                names = [n for n in z.namelist() if n.endswith(".json")][:8]
                raise KitError(f"{archive}: holds no {member} (JSON files in it: {', '.join(names) or 'none'}); "
                               "is it COCO's annotations_trainval2014.zip?")
            part = dest.with_name(dest.name + ".part")
            with z.open(member) as src, open(part, "wb") as f:
                while block := src.read(1 << 20):
                    f.write(block)
            os.replace(part, dest)
    except zipfile.BadZipFile as e:
        raise KitError(f"{archive}: not a readable zip ({e}); delete it and run again to download it anew") from None


def _subset(coco: dict[str, Any], ids: set[int], category_ids: set[Any]) -> dict[str, Any]:
    """The chosen images, their person annotations, the person category and the licence table."""
    return {
        "info": coco.get("info", {}),
        "licenses": coco.get("licenses", []),
        "images": [im for im in coco["images"] if im.get("id") in ids],
        "annotations": [a for a in coco["annotations"]
                        if isinstance(a, dict) and a.get("image_id") in ids and a.get("category_id") in category_ids],
        "categories": [c for c in coco["categories"] if c.get("id") in category_ids],
    }


def _load_sums(path: Path) -> dict[str, str]:
    try:
        sums = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
        return {str(k): str(v) for k, v in sums.items()} if isinstance(sums, dict) else {}
    except (ValueError, OSError):
        return {}  # a damaged list only means every cached image is checked by decoding again


def _fetch_image(url: str, dest: Path, timeout: float) -> str:
    """Download one image to ``dest`` and check that it decodes; its SHA-256."""
    download(RemoteFile(url, None, None), dest, progress=False, timeout=timeout, attempts=3)
    try:
        image_from_bytes(dest.read_bytes(), url)
    except ImageError as e:
        dest.unlink(missing_ok=True)  # the kit's own cache file: a server's error page is not an image
        raise KitError(str(e)) from None
    return sha256_of(dest)


def fetch_vww_coco(max_images: int, out: str | os.PathLike[str] | None = None, split: str = "val2014",
                   annotations: RemoteFile = COCO_2014_ANNOTATIONS, images_url: str | None = None,
                   cache: str | os.PathLike[str] | None = None, size: int = 96, channels: int = 3,
                   min_area: float = 0.005, area_source: str = "box", include_crowd: bool = True, seed: int = 0,
                   progress: bool = True, timeout: float = 60.0) -> CocoFetchReport:
    """Fetch N COCO images (half person) and write a Visual Wake Words folder; see the module docstring.

    ``images_url`` replaces the host part of each image's address (``{images_url}/{split}/{file_name}``);
    ``None`` uses each entry's ``coco_url``. Default ``out``: ``datasets/vww/data/coco_SPLIT``; default
    ``cache``: ``datasets/vww/data/coco_download``.
    """
    if split not in COCO_SPLITS:
        raise KitError(f"--split {printable(split)}: choose one of {', '.join(COCO_SPLITS)}")
    if isinstance(max_images, bool) or not isinstance(max_images, int) or max_images < 2:
        raise KitError(f"--max-images {max_images!r}: give at least 2 (half person, half non_person)")
    out = Path(out) if out is not None else dataset_dir("vww") / f"coco_{split}"
    cache = Path(cache) if cache is not None else dataset_dir("vww") / "coco_download"
    check_output_folder_for(out, size, size, channels)
    check_output_folder(cache, "COCO downloads", flag="--cache")
    claim_kit_folder(cache, "COCO downloads", flag="--cache")

    archive_name = PurePosixPath(urlparse(annotations.url).path).name or "annotations.zip"
    archive = download(annotations, cache / archive_name, progress=progress, timeout=timeout)
    instances = cache / f"instances_{split}.json"
    if not instances.is_file():
        _extract_member(archive, f"annotations/instances_{split}.json", instances)
    coco = load_coco(instances)
    items = vww_labels(coco, min_area, area_source, include_crowd, where=str(instances))
    chosen = choose_balanced(items, max_images, seed)
    if not chosen:
        raise KitError(f"{instances}: no images in the {split} split")
    ids = {i.image_id for i in chosen}
    person_ids = {c.get("id") for c in coco["categories"] if isinstance(c, dict) and c.get("name") == "person"}
    subset = _subset(coco, ids, person_ids)
    del coco
    subset_json = cache / f"vww_{split}_subset.json"
    atomic_write_text(subset_json, json.dumps(subset) + "\n")

    images_dir = ensure_folder(cache / split)
    sums_path = cache / f"{split}_{_IMAGES_MANIFEST}"
    sums = _load_sums(sums_path)
    failed: list[str] = []
    downloaded = already = 0
    entries = {im["id"]: im for im in subset["images"]}
    it: Any = chosen
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(chosen, desc=f"COCO {split} images", unit="img")
    try:
        for item in it:
            name = item.file_name
            if not file_name_inside(name):
                failed.append(f"{printable(name)}: file_name points outside the images folder; not fetched")
                continue
            dest = images_dir / name
            if dest.is_file() and sums.get(name) == sha256_of(dest):
                already += 1
                continue
            dest.unlink(missing_ok=True)  # damaged or unlisted: fetch it again
            entry = entries[item.image_id]
            url = (f"{images_url.rstrip('/')}/{split}/{name}" if images_url
                   else str(entry.get("coco_url") or f"{COCO_IMAGES_URL}/{split}/{name}"))
            try:
                sums[name] = _fetch_image(url, dest, timeout)
                downloaded += 1
            except KitError as e:
                failed.append(str(e))
    finally:
        atomic_write_text(sums_path, json.dumps(sums, indent=0, sort_keys=True) + "\n")

    rep = build_vww_folder(subset_json, images_dir, out, size, size, channels, min_area, area_source,
                           include_crowd, progress=progress)
    _write_attribution(out, subset, chosen, split)
    counts = {PERSON: sum(i.person for i in chosen), NON_PERSON: sum(not i.person for i in chosen)}
    return CocoFetchReport(out, cache, counts, downloaded, already, tuple(failed), dict(rep.written))


def _write_attribution(out: Path, subset: dict[str, Any], chosen: list[Any], split: str) -> None:
    """``OUT/attribution.csv``: each image's Flickr licence and addresses, as COCO's annotation file records them."""
    licences = {lic.get("id"): lic for lic in subset.get("licenses", []) if isinstance(lic, dict)}
    images = {im["id"]: im for im in subset["images"]}
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["file", "label", "coco_file", "coco_id", "image_licence", "licence_url", "flickr_url", "coco_url",
                "labels_licence", "changes"])
    for item in chosen:
        im = images[item.image_id]
        lic = licences.get(im.get("license"), {})
        w.writerow([f"{PERSON if item.person else NON_PERSON}/{Path(item.file_name).stem}.png",
                    PERSON if item.person else NON_PERSON, f"{split}/{item.file_name}", item.image_id,
                    lic.get("name", "unknown: check the image's Flickr page"), lic.get("url", ""),
                    im.get("flickr_url", ""), im.get("coco_url", ""),
                    "COCO annotations CC BY 4.0; VWW rule by the kit",
                    "centre-cropped, resized to the model size, re-encoded as PNG, all metadata removed"])
    atomic_write_text(out / "attribution.csv", buf.getvalue())
