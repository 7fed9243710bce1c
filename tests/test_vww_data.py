"""The labelled image folder loader and the offline synthetic image sets."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tinymlkit.data.image_folder import DatasetError, load_image_folder, scan_image_folder, split_of
from tinymlkit.data.synth_images import (PERSON_LABELS, SHAPE_LABELS, make_person_images, make_shape_images,
                                         write_image_folder)
from tinymlkit.vision.image_io import load_image, save_image


def _folder(root: Path, labels: tuple[str, ...], n: int) -> None:
    for k, lab in enumerate(labels):
        for i in range(n):
            save_image(np.full((40, 60, 3), 20 * k + i, np.uint8), root / lab / f"img_{i:03d}.png")


def test_labels_are_folder_names_in_the_given_order(tmp_path: Path) -> None:
    _folder(tmp_path, ("person", "non_person", "cat"), 3)
    idx = scan_image_folder(tmp_path, ("non_person", "person"))
    assert idx.label_names == ("non_person", "person")
    assert len(idx.paths) == 6
    assert all(idx.label_names[lab] == p.parent.name for p, lab in zip(idx.paths, idx.labels))
    assert any(p.name == "cat" for p, _ in idx.ignored)
    assert scan_image_folder(tmp_path).label_names == ("cat", "non_person", "person")


def test_missing_labels_and_empty_folders_are_clear_errors(tmp_path: Path) -> None:
    _folder(tmp_path, ("person",), 2)
    with pytest.raises(DatasetError, match=r"no folder for label\(s\) \['non_person'\]"):
        scan_image_folder(tmp_path, ("non_person", "person"))
    with pytest.raises(DatasetError, match="needs at least two"):
        scan_image_folder(tmp_path)
    (tmp_path / "non_person").mkdir()
    (tmp_path / "person2").mkdir()
    with pytest.raises(DatasetError, match="no such dataset folder"):
        scan_image_folder(tmp_path / "nope")


def test_hash_split_is_stable_and_near_the_percentages(tmp_path: Path) -> None:
    names = [f"photo_{i}.jpg" for i in range(4000)]
    splits = [split_of(n, 10, 10) for n in names]
    share = {s: splits.count(s) / len(names) for s in ("train", "validation", "test")}
    assert abs(share["validation"] - 0.1) < 0.02 and abs(share["test"] - 0.1) < 0.02
    assert [split_of(n, 10, 10) for n in names[:50]] == splits[:50]
    assert [split_of(n, 10, 10, salt="x") for n in names[:200]] != splits[:200]
    # Adding images never moves the old ones: a file's split depends only on its own name.
    _folder(tmp_path, ("a", "b"), 10)
    before = dict(zip(scan_image_folder(tmp_path).paths, scan_image_folder(tmp_path).splits))
    _folder(tmp_path / "more", ("a", "b"), 1)
    save_image(np.zeros((20, 20, 3), np.uint8), tmp_path / "a" / "zz_new.png")
    after = dict(zip(scan_image_folder(tmp_path).paths, scan_image_folder(tmp_path).splits))
    assert all(after[p] == s for p, s in before.items())


def test_explicit_split_folders(tmp_path: Path) -> None:
    for split, n in (("train", 4), ("validation", 2), ("test", 3)):
        _folder(tmp_path / split, ("non_person", "person"), n)
    idx = scan_image_folder(tmp_path)
    assert idx.label_names == ("non_person", "person")
    assert idx.counts() == {"train": {"non_person": 4, "person": 4}, "validation": {"non_person": 2, "person": 2},
                            "test": {"non_person": 3, "person": 3}}
    test = load_image_folder(idx, "test", 16, 16, 1)
    assert test.x.shape == (6, 16, 16, 1) and sorted(test.y.tolist()) == [0, 0, 0, 1, 1, 1]
    assert all(p.parts[-3] == "test" for p in test.paths)


def test_synthetic_sets_are_seeded_balanced_and_write_to_a_folder(tmp_path: Path) -> None:
    x1, y1 = make_person_images(40, 48, 1, seed=5)
    x2, y2 = make_person_images(40, 48, 1, seed=5)
    x3, _ = make_person_images(40, 48, 1, seed=6)
    assert np.array_equal(x1, x2) and np.array_equal(y1, y2) and not np.array_equal(x1, x3)
    assert x1.shape == (40, 48, 48, 1) and x1.dtype == np.uint8 and int(y1.sum()) == 20
    assert x1.std() > 20  # real pictures, not flat fields
    xs, ys = make_shape_images(40, 32, 3, seed=1)
    assert xs.shape == (40, 32, 32, 3) and np.bincount(ys).tolist() == [10] * len(SHAPE_LABELS)
    written = write_image_folder(x1[:6], y1[:6], PERSON_LABELS, tmp_path / "synth")
    assert len(written) == 6
    idx = scan_image_folder(tmp_path / "synth")
    assert idx.label_names == PERSON_LABELS and len(idx.paths) == 6
    back = load_image(written[0])
    assert np.array_equal(back, x1[0])  # PNG is lossless
    with pytest.raises(FileExistsError):
        write_image_folder(x1[:1], y1[:1], PERSON_LABELS, tmp_path / "synth")
