"""Image loading and writing: formats, EXIF orientation, metadata stripping, bad files."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tinymlkit.data.image_folder import load_images, scan_image_folder
from tinymlkit.errors import KitError
from tinymlkit.vision.image_io import (ImageError, encode_image, image_from_bytes, load_image, open_image,
                                       save_image)

GPS_IFD = 0x8825
ORIENTATION = 0x0112


def _marker_image(w: int = 40, h: int = 24) -> np.ndarray:
    """RGB image whose top-left quarter is red and the rest dark blue: orientation is visible."""
    a = np.zeros((h, w, 3), np.uint8)
    a[:, :] = (0, 0, 120)
    a[: h // 2, : w // 2] = (250, 10, 10)
    return a


def _exif_with(orientation: int | None = None, gps: bool = False) -> Image.Exif:
    exif = Image.Exif()
    if orientation is not None:
        exif[ORIENTATION] = orientation
    exif[0x010F] = "TestCam"  # Make
    if gps:
        exif[GPS_IFD] = {1: "N", 2: (52.0, 31.0, 12.0), 3: "E", 4: (13.0, 24.0, 36.0)}
    return exif


def test_jpeg_png_bmp_and_palette_bmp_load_as_uint8(tmp_path: Path) -> None:
    a = _marker_image()
    Image.fromarray(a).save(tmp_path / "a.png")
    Image.fromarray(a).save(tmp_path / "a.bmp")
    Image.fromarray(a).save(tmp_path / "a.jpg", quality=95)
    Image.fromarray(a).convert("P", palette=Image.Palette.ADAPTIVE, colors=4).save(tmp_path / "p.bmp")
    assert Image.open(tmp_path / "p.bmp").mode == "P"
    for name in ("a.png", "a.bmp", "p.bmp"):
        x = load_image(tmp_path / name)
        assert x.dtype == np.uint8 and x.shape == (24, 40, 3)
        assert np.abs(x.astype(int) - a).max() <= 2, name
    j = load_image(tmp_path / "a.jpg")
    assert np.abs(j.astype(int) - a).mean() < 3
    assert load_image(tmp_path / "a.png", channels=1).shape == (24, 40, 1)


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    a = _marker_image()
    # Orientation 6: the stored pixels must be turned 90 degrees clockwise to be seen upright.
    Image.fromarray(a).save(tmp_path / "r.jpg", quality=95, exif=_exif_with(6))
    x = load_image(tmp_path / "r.jpg")
    assert x.shape == (40, 24, 3)
    upright = np.rot90(a, k=-1)  # clockwise
    assert np.abs(x.astype(int) - upright).mean() < 4
    # The red quarter ends up top-right.
    assert x[5, 20, 0] > 200 and x[5, 3, 0] < 60


@pytest.mark.shared
def test_saved_images_carry_no_metadata(tmp_path: Path, shared_data: Path) -> None:
    photo = sorted((shared_data / "people_smoke").rglob("*.jpg"))[0]
    src = tmp_path / "with_gps.jpg"
    Image.open(photo).save(src, quality=90, exif=_exif_with(1, gps=True))
    assert Image.open(src).getexif().get_ifd(GPS_IFD)  # the fixture really carries GPS
    img = open_image(src)
    for suffix in (".jpg", ".png", ".bmp"):
        out = save_image(img, tmp_path / f"out{suffix}")
        data = out.read_bytes()
        assert b"Exif" not in data and b"TestCam" not in data
        re = Image.open(out)
        assert len(re.getexif()) == 0 and "exif" not in re.info and "icc_profile" not in re.info
    assert b"Exif" not in encode_image(np.asarray(img), "JPEG")


def test_save_never_overwrites_unless_asked(tmp_path: Path) -> None:
    a = _marker_image()
    p = save_image(a, tmp_path / "x.png")
    with pytest.raises(FileExistsError):
        save_image(a[::-1].copy(), p)
    assert np.array_equal(load_image(p), a)
    save_image(a[::-1].copy(), p, overwrite=True)
    assert np.array_equal(load_image(p), a[::-1])


def test_cmyk_jpeg_converts_to_the_right_colours(tmp_path: Path) -> None:
    rgb = np.zeros((32, 32, 3), np.uint8)
    rgb[:, :16] = (200, 40, 40)
    rgb[:, 16:] = (30, 160, 220)
    Image.fromarray(rgb).convert("CMYK").save(tmp_path / "cmyk.jpg", quality=95)
    assert Image.open(tmp_path / "cmyk.jpg").mode == "CMYK"
    x = load_image(tmp_path / "cmyk.jpg")
    assert x.shape == (32, 32, 3)
    assert np.abs(x[:, 2:14].astype(int) - (200, 40, 40)).mean() < 6
    assert np.abs(x[:, 18:30].astype(int) - (30, 160, 220)).mean() < 6


def test_16_bit_png_keeps_its_range(tmp_path: Path) -> None:
    ramp = (np.arange(64, dtype=np.uint32)[None, :].repeat(16, 0) * 1040).astype(np.uint16)  # 0 .. 65520
    Image.fromarray(ramp).save(tmp_path / "deep.png")
    assert Image.open(tmp_path / "deep.png").mode.startswith("I;16")
    x = load_image(tmp_path / "deep.png")
    assert x.shape == (16, 64, 1)
    assert np.array_equal(x[0, :, 0], (ramp[0] >> 8).astype(np.uint8))  # not clipped to white
    assert x.max() == 65520 >> 8 and x.min() == 0


def _bad_files(d: Path) -> dict[str, Path]:
    good = io.BytesIO()
    Image.fromarray(_marker_image(64, 64)).save(good, "JPEG")
    files = {
        "corrupt": d / "corrupt.jpg",
        "tiny": d / "tiny.png",
        "empty": d / "empty.jpg",
        "text": d / "notes.png",
    }
    files["corrupt"].write_bytes(good.getvalue()[: len(good.getvalue()) // 2])
    Image.new("RGB", (1, 1), (9, 9, 9)).save(files["tiny"])
    files["empty"].write_bytes(b"")
    files["text"].write_text("this is not a picture\n")
    return files


@pytest.mark.parametrize("kind, words", [
    ("corrupt", "damaged or truncated"),
    ("tiny", "1x1 pixels is too small"),
    ("empty", "empty (0 bytes)"),
    ("text", "not an image"),
])
def test_bad_images_give_errors_naming_the_file(tmp_path: Path, kind: str, words: str) -> None:
    path = _bad_files(tmp_path)[kind]
    with pytest.raises(ImageError) as e:
        load_image(path)
    assert str(path) in str(e.value) and words in str(e.value)
    assert isinstance(e.value, KitError)


def test_missing_file_and_bytes_errors(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="no such file"):
        load_image(tmp_path / "nope.jpg")
    with pytest.raises(ImageError, match="cam0: no data"):
        image_from_bytes(b"", name="cam0")


def test_a_batch_keeps_every_good_image_and_lists_every_bad_one(tmp_path: Path) -> None:
    root = tmp_path / "set"
    for label in ("non_person", "person"):
        (root / label).mkdir(parents=True)
        for i in range(3):
            save_image(np.full((50, 70, 3), 40 * i + (100 if label == "person" else 0), np.uint8),
                       root / label / f"good{i}.png")
    bad = _bad_files(root / "person")
    Image.fromarray(_marker_image()).convert("CMYK").save(root / "person" / "cmyk.jpg")
    Image.fromarray(np.full((20, 20), 60000, np.uint16)).save(root / "person" / "deep.png")
    (root / "person" / "readme.txt").write_text("labels: person\n")
    index = scan_image_folder(root)
    assert index.label_names == ("non_person", "person")
    assert any(p.name == "readme.txt" for p, _ in index.ignored)
    loaded = load_images(index.paths, index.labels, 32, 32, 1)
    assert len(loaded.y) == 8  # 6 good + CMYK + 16-bit
    assert sorted(p.name for p, _ in loaded.skipped) == sorted(p.name for p in bad.values())
    assert all(str(p) in reason for p, reason in loaded.skipped)
    assert loaded.x.shape == (8, 32, 32, 1)


@pytest.mark.shared
def test_people_smoke_photos_all_load(shared_data: Path) -> None:
    photos = sorted((shared_data / "people_smoke").rglob("*.jpg"))
    assert len(photos) >= 50
    for p in photos:
        x = load_image(p)
        assert x.ndim == 3 and x.shape[2] == 3 and min(x.shape[:2]) >= 64, p
