"""A folder of labelled images: one sub-folder per label (its name is the label), files inside.

Layouts read:

- ``ROOT/<label>/**/*.jpg|png|bmp`` — every image in one pool, split by a stable hash of the
  file's path below its label folder (:func:`split_of`), so adding images never moves old ones;
- ``ROOT/train/<label>/...``, ``ROOT/validation/<label>/...``, ``ROOT/test/<label>/...`` — the
  folders are the split.

Images that cannot be used (damaged, empty, too small, not an image) are reported and skipped,
never fatal for the rest of the batch.
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
from pathlib import Path

import numpy as np

from ..errors import KitError
from ..vision.image_io import IMAGE_SUFFIXES, ImageError, open_image
from ..vision.preprocess import preprocess_image

__all__ = [
    "SPLITS",
    "DatasetError",
    "ImageFolderIndex",
    "LoadedImages",
    "scan_image_folder",
    "split_of",
    "load_images",
    "load_image_folder",
]

SPLITS = ("train", "validation", "test")
"""Split names, in the order the kit reports them."""


class DatasetError(KitError, ValueError):
    """A dataset folder the kit cannot use (missing, empty, labels that do not match)."""


@dataclasses.dataclass(frozen=True)
class ImageFolderIndex:
    """The image files of a labelled folder, before decoding."""

    root: Path
    """The folder scanned."""
    label_names: tuple[str, ...]
    """Labels in model output order."""
    paths: tuple[Path, ...]
    """Image files found."""
    labels: tuple[int, ...]
    """Index into ``label_names`` of each file."""
    splits: tuple[str, ...]
    """Split of each file: 'train', 'validation' or 'test'."""
    ignored: tuple[tuple[Path, str], ...]
    """Files and folders passed over, with the reason (not an image, not a label folder)."""

    def counts(self) -> dict[str, dict[str, int]]:
        """Files per split and label."""
        out = {s: {n: 0 for n in self.label_names} for s in SPLITS}
        for lab, sp in zip(self.labels, self.splits):
            out[sp][self.label_names[lab]] += 1
        return out


@dataclasses.dataclass(frozen=True)
class LoadedImages:
    """Decoded, preprocessed images of one split."""

    x: np.ndarray
    """uint8 (N, height, width, channels)."""
    y: np.ndarray
    """int32 (N,) label indices."""
    paths: tuple[Path, ...]
    """File of each image."""
    skipped: tuple[tuple[Path, str], ...]
    """Files that could not be used, with the error message."""


def split_of(relative_name: str, validation_percentage: float, testing_percentage: float, salt: str = "") -> str:
    """Stable split of a file from a SHA-1 hash of its path below the label folder (and a salt)."""
    digest = hashlib.sha1((salt + relative_name).encode("utf-8")).hexdigest()
    percent = (int(digest[:8], 16) % 10000) / 100.0
    if percent < validation_percentage:
        return "validation"
    if percent < validation_percentage + testing_percentage:
        return "test"
    return "train"


def _walk_images(folder: Path) -> tuple[list[Path], list[tuple[Path, str]]]:
    found, ignored = [], []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for f in sorted(filenames):
            p = Path(dirpath) / f
            if f.startswith("."):
                continue
            if p.suffix.lower() in IMAGE_SUFFIXES:
                found.append(p)
            else:
                ignored.append((p, f"not an image file (endings read: {', '.join(IMAGE_SUFFIXES)})"))
    return found, ignored


def scan_image_folder(root: str | os.PathLike[str], labels: tuple[str, ...] | list[str] | None = None,
                      validation_percentage: float = 10.0, testing_percentage: float = 10.0,
                      salt: str = "") -> ImageFolderIndex:
    """Index a labelled image folder; ``labels`` fixes their order (default: sorted folder names)."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: no such dataset folder; it should hold one sub-folder per label")
    split_dirs = {s: root / s for s in SPLITS if (root / s).is_dir()}
    layouts = {s: d for s, d in split_dirs.items()} if "train" in split_dirs else {"": root}
    label_dirs: dict[str, set[str]] = {}
    for d in layouts.values():
        for sub in d.iterdir():
            if sub.is_dir() and not sub.name.startswith("."):
                label_dirs.setdefault(sub.name, set()).add(str(d))
    if labels is None:
        names = tuple(sorted(label_dirs))
    else:
        names = tuple(labels)
        missing = [n for n in names if n not in label_dirs]
        if missing:
            raise DatasetError(f"{root}: no folder for label(s) {missing}; found folders {sorted(label_dirs)}. "
                               "Folder names are the labels, one folder per label")
    if len(names) < 2:
        raise DatasetError(f"{root}: found label folder(s) {list(names)}; a classifier needs at least two "
                           "(for example person/ and non_person/)")
    paths: list[Path] = []
    labs: list[int] = []
    splits: list[str] = []
    ignored: list[tuple[Path, str]] = []
    for split, base in layouts.items():
        for sub in sorted(base.iterdir()):
            if not sub.is_dir() or sub.name.startswith("."):
                continue
            if sub.name not in names:
                if not (split == "" and sub.name in SPLITS):
                    ignored.append((sub, f"folder is not one of the labels {list(names)}"))
                continue
            found, ign = _walk_images(sub)
            ignored.extend(ign)
            for p in found:
                paths.append(p)
                labs.append(names.index(sub.name))
                splits.append(split or split_of(p.relative_to(sub).as_posix(), validation_percentage,
                                                testing_percentage, salt))
    if not paths:
        raise DatasetError(f"{root}: no image files ({', '.join(IMAGE_SUFFIXES)}) in the label folders {list(names)}")
    return ImageFolderIndex(root, names, tuple(paths), tuple(labs), tuple(splits), tuple(ignored))


def load_images(paths: list[Path] | tuple[Path, ...], labels: list[int] | tuple[int, ...], width: int, height: int,
                channels: int, progress: bool = False, desc: str = "images") -> LoadedImages:
    """Decode and preprocess image files; bad files are skipped and listed, never fatal."""
    x = np.empty((len(paths), height, width, channels), dtype=np.uint8)
    keep: list[int] = []
    skipped: list[tuple[Path, str]] = []
    it = range(len(paths))
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(it, desc=desc, unit="img", leave=False)
    for i in it:
        try:
            img = open_image(paths[i])
            x[len(keep)] = preprocess_image(img, width, height, channels)
        except ImageError as e:
            skipped.append((Path(paths[i]), str(e)))
            continue
        keep.append(i)
    return LoadedImages(
        x=x[: len(keep)].copy(),
        y=np.asarray([labels[i] for i in keep], dtype=np.int32),
        paths=tuple(Path(paths[i]) for i in keep),
        skipped=tuple(skipped),
    )


def load_image_folder(index: ImageFolderIndex, split: str | None, width: int, height: int, channels: int,
                      progress: bool = False) -> LoadedImages:
    """Load one split of an index (None: every file), preprocessed to the model input."""
    if split is not None and split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS} or None, got {split!r}")
    sel = [i for i, s in enumerate(index.splits) if split is None or s == split]
    return load_images([index.paths[i] for i in sel], [index.labels[i] for i in sel], width, height, channels,
                       progress=progress, desc=f"{split or 'all'} images")
