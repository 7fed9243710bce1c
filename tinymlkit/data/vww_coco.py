"""Visual Wake Words from COCO: label each image person / non_person and write a folder dataset.

The rule (Chowdhery et al. 2019, "Visual Wake Words Dataset", arXiv:1906.05721): an image is
*person* when it holds at least one person bounding box whose area is more than 0.5 % of the
image's area; otherwise it is *non_person*. The threshold is a parameter (strictly greater than).

Two details the paper leaves open, and the kit's choice:

- *Which area.* The paper speaks of the box; TensorFlow's reference script
  (``build_visualwakewords_data_lib.py``) uses COCO's ``area`` field, the segmentation mask's area,
  which is smaller. The kit follows the paper by default (``area_source="box"``) and offers
  ``"segmentation"`` to reproduce the reference script's labels.
- *Crowd annotations* (``iscrowd=1``: one region covering a group of people). They show people, and
  the reference script counts them; so does the kit by default (``include_crowd=False`` drops them).
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from ..errors import KitError, printable
from ..files import KIT_FOLDER_MARKER, atomic_write_text, check_output_folder, claim_kit_folder, is_kit_folder
from ..vision.image_io import ImageError, open_image, save_image
from ..vision.preprocess import preprocess_image

__all__ = [
    "CocoError",
    "VwwImage",
    "VwwBuildReport",
    "load_coco",
    "vww_labels",
    "build_vww_folder",
    "check_output_size",
    "check_output_folder_for",
    "file_name_inside",
]

PERSON, NON_PERSON = "person", "non_person"
MANIFEST = "vww_manifest.json"
MAX_SIZE = 1024
"""Largest output width/height (pixels); the person detector runs at 96."""


class CocoError(KitError, ValueError):
    """An annotation file that is not usable COCO instances JSON."""


@dataclasses.dataclass(frozen=True)
class VwwImage:
    """One COCO image and its Visual Wake Words label."""

    image_id: int
    """COCO image id."""
    file_name: str
    """File name inside the images folder."""
    person: bool
    """True when a person region is larger than the threshold."""
    largest_person_fraction: float
    """Largest person area as a fraction of the image (0 when none)."""


@dataclasses.dataclass(frozen=True)
class VwwBuildReport:
    """What :func:`build_vww_folder` did."""

    written: dict[str, int]
    """Images written per label."""
    already_there: int
    """Outputs that existed already and were kept (a re-run resumes; nothing is overwritten)."""
    skipped: tuple[tuple[str, str], ...]
    """Images that could not be used: (file, reason)."""
    out_dir: Path
    """The dataset folder."""


def load_coco(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a COCO instances JSON file, checking the parts VWW needs."""
    path = Path(path)
    if path.is_dir():
        raise CocoError(f"{path}: is a folder; give the annotation file, e.g. annotations/instances_train2014.json")
    if not path.is_file():
        raise CocoError(f"{path}: no such annotation file (expected e.g. annotations/instances_train2014.json)")
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError:
        raise CocoError(f"{path}: not a text file (COCO annotations are UTF-8 JSON); download the annotations "
                        "again") from None
    except json.JSONDecodeError as e:
        raise CocoError(f"{path}: not valid JSON ({e}); download the annotations again") from None
    except RecursionError:
        raise CocoError(f"{path}: JSON nested too deeply to be COCO annotations") from None
    if not isinstance(data, dict):
        raise CocoError(f"{path}: expected a JSON object with 'images', 'annotations' and 'categories'")
    missing = [k for k in ("images", "annotations", "categories") if k not in data]
    if missing:
        raise CocoError(f"{path}: missing {missing}; this is not a COCO *instances* annotation file "
                        "(captions and keypoints files will not do)")
    for key in ("images", "annotations", "categories"):
        if not isinstance(data[key], list):
            raise CocoError(f"{path}: '{key}' is a {type(data[key]).__name__}, COCO has a list there")
    return data


def _number(value: Any, what: str, where: str, entry: Any) -> float:
    # bool is an int in Python but never a COCO number; NaN and infinities are damage.
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise CocoError(f"{where}: {what} {printable(repr(value), limit=60)} in {printable(repr(entry), limit=120)} "
                        "is not a number")
    return float(value)


def vww_labels(coco: dict[str, Any], min_area: float = 0.005, area_source: str = "box",
               include_crowd: bool = True, category: str = "person", where: str = "annotations") -> list[VwwImage]:
    """Label every image of a COCO annotation set by the Visual Wake Words rule, in image-id order."""
    if area_source not in ("box", "segmentation"):
        raise ValueError(f"area_source must be 'box' or 'segmentation', got {area_source!r}")
    if not 0.0 <= min_area < 1.0:
        raise ValueError(f"min_area is a fraction of the image area (0 <= min_area < 1), got {min_area}")
    for key in ("images", "annotations", "categories"):
        if not isinstance(coco.get(key), list):
            raise CocoError(f"{where}: '{key}' must be a list")
    bad_cat = next((c for c in coco["categories"] if not isinstance(c, dict)), None)
    if bad_cat is not None:
        raise CocoError(f"{where}: category entry {printable(repr(bad_cat), limit=120)} is not an object")
    cat_ids = {c.get("id") for c in coco["categories"] if c.get("name") == category}
    if not cat_ids:
        names = sorted(str(c.get("name")) for c in coco["categories"])[:10]
        raise CocoError(f"{where}: no category named {category!r} (first categories: {printable(str(names))})")
    largest: dict[int, float] = {}
    images = {}
    for im in coco["images"]:
        try:
            image_id, name, w, h = im["id"], im["file_name"], im["width"], im["height"]
            if isinstance(image_id, bool) or not isinstance(image_id, int) or not isinstance(name, str) or not name:
                raise TypeError
        except (KeyError, TypeError):
            raise CocoError(f"{where}: image entry {printable(repr(im), limit=120)} lacks id, file_name, width or "
                            "height") from None
        w, h = _number(w, "width", where, im), _number(h, "height", where, im)
        images[image_id] = (name, w, h)
    for ann in coco["annotations"]:
        if not isinstance(ann, dict):
            raise CocoError(f"{where}: annotation entry {printable(repr(ann), limit=120)} is not an object")
        if ann.get("category_id") not in cat_ids:
            continue
        if not include_crowd and ann.get("iscrowd", 0):
            continue
        image_id = ann.get("image_id")
        if image_id not in images:
            continue
        _, w, h = images[image_id]
        if area_source == "box":
            box = ann.get("bbox")
            if not isinstance(box, list) or len(box) != 4:
                raise CocoError(f"{where}: annotation {printable(repr(ann.get('id')), limit=40)} has no 4-number "
                                f"'bbox' (got {printable(repr(box), limit=60)})")
            bw, bh = _number(box[2], "bbox width", where, ann), _number(box[3], "bbox height", where, ann)
            area = max(bw, 0.0) * max(bh, 0.0)
        else:
            if "area" not in ann:
                raise CocoError(f"{where}: annotation {printable(repr(ann.get('id')), limit=40)} has no 'area' "
                                "(needed with --area segmentation)")
            area = _number(ann["area"], "area", where, ann)
        frac = area / (w * h) if w > 0 and h > 0 else 0.0
        largest[image_id] = max(largest.get(image_id, 0.0), frac)
    out = []
    for image_id in sorted(images):
        name, _, _ = images[image_id]
        frac = largest.get(image_id, 0.0)
        out.append(VwwImage(image_id, name, frac > min_area, frac))
    return out


def file_name_inside(file_name: str) -> bool:
    """True when a COCO file_name stays inside the images folder (no absolute path, drive or '..')."""
    if "\0" in file_name:
        return False
    for pure in (PurePosixPath(file_name), PureWindowsPath(file_name)):
        if pure.is_absolute() or pure.anchor or ".." in pure.parts:
            return False
    return True


def check_output_size(width: int, height: int, channels: int) -> None:
    """Refuse an output size the folder builder cannot write (before anything is downloaded or read)."""
    for v, name in ((width, "width"), (height, "height")):
        if isinstance(v, bool) or not isinstance(v, int) or not 8 <= v <= MAX_SIZE:
            raise KitError(f"output {name} {v!r}: give 8 to {MAX_SIZE} pixels (--size)")
    if channels not in (1, 3):
        raise KitError(f"channels {channels!r}: 1 (grayscale) or 3 (RGB)")


def check_output_folder_for(out_dir: Path, width: int, height: int, channels: int) -> None:
    """Everything :func:`build_vww_folder` checks about its output before it starts, for callers that fetch first."""
    check_output_size(width, height, channels)
    _check_folder(Path(out_dir), [width, height, channels])


def _check_folder(out_dir: Path, size: list[int]) -> None:
    """Refuse an output folder that holds someone else's files, or a data set of another size."""
    manifest = out_dir / MANIFEST
    if out_dir.is_dir() and not is_kit_folder(out_dir) and manifest.is_file():
        claim = True  # a folder an earlier kit version built (manifest, no marker)
    else:
        claim = False
        check_output_folder(out_dir, "a Visual Wake Words data set")
    if manifest.is_file():
        try:
            old = json.loads(manifest.read_text(encoding="utf-8"))
            old_size = list(old.get("size", []))
        except (ValueError, AttributeError, TypeError, OSError):
            old_size = []
        if old_size and old_size != size:
            raise KitError(f"--out {out_dir}: holds images of size {'x'.join(map(str, old_size))}, not "
                           f"{'x'.join(map(str, size))}; choose a new folder for another --size or --grayscale")
    if claim:
        atomic_write_text(out_dir / KIT_FOLDER_MARKER,
                          json.dumps({"created_by": "tinymlkit", "holds": "a Visual Wake Words data set"}) + "\n")


def build_vww_folder(annotations: str | os.PathLike[str], images_dir: str | os.PathLike[str],
                     out_dir: str | os.PathLike[str], width: int = 96, height: int = 96, channels: int = 3,
                     min_area: float = 0.005, area_source: str = "box", include_crowd: bool = True,
                     limit: int | None = None, progress: bool = True) -> VwwBuildReport:
    """Write ``out_dir/person/`` and ``out_dir/non_person/`` PNGs at the model input size from COCO.

    A re-run resumes; a re-run with another rule moves each image to the folder the new rule gives it,
    so no image is ever in both. ``out_dir`` must be new, empty, or made by the kit.
    """
    images_dir, out_dir = Path(images_dir), Path(out_dir)
    check_output_size(width, height, channels)
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise KitError(f"--limit {limit!r}: give a whole number of images, at least 1")
    if not images_dir.is_dir():
        raise CocoError(f"{images_dir}: no such images folder (expected e.g. train2014/ with the COCO JPEGs)")
    items = vww_labels(load_coco(annotations), min_area, area_source, include_crowd, where=str(annotations))
    if limit is not None:
        items = items[:limit]
    size = [width, height, channels]
    _check_folder(out_dir, size)
    claim_kit_folder(out_dir, "a Visual Wake Words data set")
    for label in (PERSON, NON_PERSON):
        _mkdir(out_dir / label)
    written = {PERSON: 0, NON_PERSON: 0}
    already = 0
    skipped: list[tuple[str, str]] = []
    it: Any = items
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(items, desc="VWW from COCO", unit="img")
    targets: dict[str, str] = {}
    for item in it:
        if not file_name_inside(item.file_name):
            skipped.append((item.file_name, f"{printable(item.file_name)}: file_name points outside {images_dir} "
                                            "(absolute or '..'); not read"))
            continue
        label = PERSON if item.person else NON_PERSON
        other = NON_PERSON if item.person else PERSON
        stem = Path(item.file_name).stem
        if stem in targets:
            skipped.append((item.file_name, f"{printable(item.file_name)}: same output name as "
                                            f"{printable(targets[stem])}; only the first is used"))
            continue
        targets[stem] = item.file_name
        target = out_dir / label / (stem + ".png")
        stale = out_dir / other / (stem + ".png")
        try:
            if target.exists():
                if stale.exists():
                    stale.unlink()  # both there (an interrupted rebuild): the rule decides
                already += 1
                continue
            if stale.exists():
                # Labelled the other way by an earlier rule: move it, so the image is in one folder only.
                os.replace(stale, target)
                written[label] += 1
                continue
        except OSError as e:
            raise _write_error(out_dir, e) from None
        src = images_dir / item.file_name
        try:
            pixels = preprocess_image(open_image(src), width, height, channels)
        except ImageError as e:
            skipped.append((item.file_name, str(e)))
            continue
        except OSError as e:  # unreadable (permissions, a link loop): one bad image never stops the batch
            skipped.append((item.file_name, f"{printable(str(src))}: cannot read ({e.strerror or e})"))
            continue
        try:
            save_image(pixels, target)
        except FileExistsError:
            already += 1
            continue
        except OSError as e:
            raise _write_error(out_dir, e) from None
        written[label] += 1
    manifest = {
        "source": str(annotations),
        "rule": f"person if a {'person box' if area_source == 'box' else 'person segmentation'} covers more than "
                f"{min_area:.4%} of the image" + ("" if include_crowd else " (crowd annotations ignored)"),
        "min_area": min_area, "area_source": area_source, "include_crowd": include_crowd,
        "size": size,
        "labels": {PERSON: sum(i.person for i in items), NON_PERSON: sum(not i.person for i in items)},
        "skipped": [{"file": f, "reason": r} for f, r in skipped],
    }
    try:
        atomic_write_text(out_dir / MANIFEST, json.dumps(manifest, indent=2) + "\n")
    except OSError as e:
        raise _write_error(out_dir, e) from None
    return VwwBuildReport(written, already, tuple(skipped), out_dir)


def _mkdir(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise _write_error(folder.parent, e) from None


def _write_error(out_dir: Path, e: OSError) -> KitError:
    where = e.filename or out_dir
    return KitError(f"{where}: cannot write ({e.strerror or e}); is the disk full or the folder read-only? "
                    f"Free space or choose another --out; a re-run resumes where this one stopped")
