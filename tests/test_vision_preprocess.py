"""Crop, resize, grayscale, camera pixel formats, and the exact pixel -> int8 conversion."""
from __future__ import annotations

import io
from fractions import Fraction

import numpy as np
import pytest
from PIL import Image

from tinymlkit.vision.image_io import ImageError
from tinymlkit.vision.int8_input import (normalize, pixel_to_int8_table, pixels_to_int8, rational_scale,
                                         render_pixel_table_c)
from tinymlkit.vision.pixels import decode_frame, gray_frame, rgb565_to_rgb888, rgb888_to_rgb565
from tinymlkit.vision.preprocess import (center_crop_box, prepare_frame, preprocess_image, resize_bilinear_int,
                                         rgb_to_gray)

RNG = np.random.default_rng(3)


def test_gray_rule_equals_pillow_and_the_documented_integers() -> None:
    a = RNG.integers(0, 256, (40, 60, 3), dtype=np.uint8)
    g = rgb_to_gray(a)[:, :, 0]
    assert np.array_equal(g, np.asarray(Image.fromarray(a).convert("L")))
    r, gg, b = (int(v) for v in a[7, 9])
    assert g[7, 9] == (19595 * r + 38470 * gg + 7471 * b + 32768) >> 16
    assert rgb_to_gray(np.full((1, 1, 3), 255, np.uint8))[0, 0, 0] == 255


@pytest.mark.parametrize("w, h, box", [
    (640, 480, (80, 0, 560, 480)),
    (480, 640, (0, 80, 480, 560)),
    (96, 96, (0, 0, 96, 96)),
    (176, 144, (16, 0, 160, 144)),
    (101, 100, (0, 0, 100, 100)),
])
def test_center_crop_box_is_the_largest_centred_square(w: int, h: int, box: tuple[int, int, int, int]) -> None:
    assert center_crop_box(w, h, 96, 96) == box


def test_preprocess_crops_the_centre_and_resizes() -> None:
    a = np.zeros((60, 120, 3), np.uint8)
    a[:, :30] = 255  # left and right bands fall outside the centre square
    a[:, 90:] = 255
    a[:, 30:90] = (10, 200, 30)
    x = preprocess_image(a, 24, 24, 3)
    assert x.shape == (24, 24, 3)
    assert np.abs(x.astype(int) - (10, 200, 30)).max() <= 1
    g = preprocess_image(a, 24, 24, 1)
    assert g.shape == (24, 24, 1)
    assert abs(int(g[12, 12, 0]) - int(rgb_to_gray(np.array([[[10, 200, 30]]], np.uint8))[0, 0, 0])) <= 1


def test_integer_bilinear_resize_is_exact_on_known_cases() -> None:
    a = RNG.integers(0, 256, (30, 50, 3), dtype=np.uint8)
    assert np.array_equal(resize_bilinear_int(a, 50, 30), a)  # same size: untouched
    flat = np.full((144, 144, 1), 77, np.uint8)
    assert np.all(resize_bilinear_int(flat, 96, 96) == 77)
    # 2 -> 4 pixels wide: source positions -0.25 (clamped 0), 0.25, 0.75, 1.25 (clamped)
    row = np.array([[[0], [200]]], np.uint8)
    out = resize_bilinear_int(np.repeat(row, 2, axis=0), 4, 2)[0, :, 0]
    assert out.tolist() == [0, 50, 150, 200]


def test_prepare_frame_from_a_qcif_camera_frame() -> None:
    frame = RNG.integers(0, 256, (144, 176, 3), dtype=np.uint8)
    x = prepare_frame(frame, 96, 96, 1)
    assert x.shape == (96, 96, 1) and x.dtype == np.uint8
    centre = rgb_to_gray(frame)[:, 16:160]
    assert np.array_equal(x, resize_bilinear_int(centre, 96, 96))


def test_rgb565_known_values_and_byte_order() -> None:
    px = [0xFFFF, 0x0000, 0xF800, 0x07E0, 0x001F, 0x8410]
    big = b"".join(v.to_bytes(2, "big") for v in px)
    little = b"".join(v.to_bytes(2, "little") for v in px)
    want = [(255, 255, 255), (0, 0, 0), (255, 0, 0), (0, 255, 0), (0, 0, 255), (132, 130, 132)]
    assert rgb565_to_rgb888(big, 6, 1)[0].tolist() == [list(w) for w in want]
    assert rgb565_to_rgb888(little, 6, 1, byte_order="little")[0].tolist() == [list(w) for w in want]
    rgb = RNG.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    again = rgb565_to_rgb888(rgb888_to_rgb565(rgb), 8, 8)
    assert np.abs(again.astype(int) - rgb).max() <= 7  # 5 and 6 bits per channel


def test_frames_of_the_wrong_size_are_refused_with_a_clear_error() -> None:
    with pytest.raises(ImageError, match=r"cam: a 4x4 RGB565 frame has 32 bytes, got 30"):
        rgb565_to_rgb888(bytes(30), 4, 4, name="cam")
    with pytest.raises(ImageError, match="grayscale frame has 16 bytes, got 17"):
        gray_frame(bytes(17), 4, 4)
    assert gray_frame(bytes(range(16)), 4, 4)[3, 3, 0] == 15


def test_jpeg_frame_decodes_and_checks_its_size() -> None:
    buf = io.BytesIO()
    Image.fromarray(np.full((120, 160, 3), 90, np.uint8)).save(buf, "JPEG")
    x = decode_frame(buf.getvalue(), "jpeg", 160, 120)
    assert x.shape == (120, 160, 3) and abs(int(x.mean()) - 90) <= 2
    with pytest.raises(ImageError, match="expected 176x144"):
        decode_frame(buf.getvalue(), "jpeg", 176, 144)
    with pytest.raises(ImageError, match="damaged or truncated"):
        decode_frame(buf.getvalue()[:300], "jpeg")


def test_person_detect_input_parameters_give_pixel_minus_128() -> None:
    scale = float(np.float32(1 / 127.5))  # what person_detect.tflite stores, with zero point -1
    assert rational_scale(scale) == Fraction(2, 255)
    table = pixel_to_int8_table(scale, -1, "minus_one_to_one")
    assert np.array_equal(table.astype(int), np.arange(256) - 128)
    assert table.dtype == np.int8
    px = RNG.integers(0, 256, (96, 96, 1), dtype=np.uint8)
    assert np.array_equal(pixels_to_int8(px, table).astype(int), px.astype(int) - 128)
    # Reinterpreting the bytes is a different (wrong) mapping for every pixel but 0 and 255 aside.
    assert np.count_nonzero(px.view(np.int8).astype(int) != px.astype(int) - 128) > 0.9 * px.size


def test_ties_round_up_exactly() -> None:
    # Zero point 0 with scale 2/255: every pixel maps to p - 127.5, a tie, which rounds up to p - 127.
    table = pixel_to_int8_table(float(np.float32(2 / 255)), 0)
    assert np.array_equal(table.astype(int), np.clip(np.arange(256) - 127, -128, 127))


def test_table_follows_other_scales_and_saturates() -> None:
    # A converter-chosen scale that is no simple fraction: compare with the plain formula away from ties.
    scale, zp = 0.0091, 20
    table = pixel_to_int8_table(scale, zp).astype(int)
    x = normalize(np.arange(256, dtype=np.uint8)).astype(np.float64)
    ref = np.clip(np.floor(x / np.float64(np.float32(scale)) + 0.5) + zp, -128, 127)
    assert np.array_equal(table, ref)
    assert np.all(np.diff(table) >= 0)
    assert table[-1] == 127  # 1 / 0.0091 + 20 = 129.9 is past the int8 range
    unit = pixel_to_int8_table(1 / 255, -128, "zero_to_one")
    assert np.array_equal(unit.astype(int), np.arange(256) - 128)


def test_normalize_and_c_table_text() -> None:
    x = normalize(np.array([0, 255], np.uint8))
    assert x.dtype == np.float32 and x.tolist() == [-1.0, 1.0]
    with pytest.raises(ValueError, match="unknown image normalisation"):
        normalize(np.zeros(2, np.uint8), "imagenet")
    text = render_pixel_table_c(np.arange(256) - 128)
    assert "kPixelToInt8[256]" in text and text.count(",") == 255
    assert "-128" in text and " 127" in text
