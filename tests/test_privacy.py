"""Data minimisation study: the obfuscations themselves, and the real person detector on real photos under them."""
from __future__ import annotations

import numpy as np
import pytest

from tinymlkit.errors import KitError
from tinymlkit.privacy.minimise import detail_bytes, minimisation_study, obfuscate
from tinymlkit.runtime import tflm_available


def _frames(n: int = 3) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (n, 96, 96, 1)).astype(np.uint8)


def test_obfuscations_keep_the_shape_and_remove_detail():
    x = _frames()
    for kind, level in (("downscale", 12), ("blur", 3), ("pixelate", 8)):
        y = obfuscate(x, kind, level)
        assert y.shape == x.shape and y.dtype == np.uint8
        assert detail_bytes(y) < 0.6 * detail_bytes(x), kind  # noise compresses badly; smoothed noise well
    p = obfuscate(x, "pixelate", 8)
    assert np.all(p[0, :8, :8, 0] == p[0, 0, 0, 0])  # one value per block
    assert np.all(obfuscate(x, "pixelate", 1) == x)
    with pytest.raises(KitError, match="unknown obfuscation"):
        obfuscate(x, "smear", 2)
    with pytest.raises(KitError, match="grayscale"):
        obfuscate(x[..., 0], "blur", 2)


@pytest.mark.skipif(not tflm_available(), reason="the TFLM interpreter (tflite-micro) is not installed")
def test_study_on_real_photos_with_the_reference_detector(shared_data, person_detection_dir):
    from tinymlkit.pipelines.vww import load_real_photos
    from tinymlkit.runtime import ModelRunner
    from tinymlkit.vision.int8_input import pixel_to_int8_table, pixels_to_int8

    photos = load_real_photos(shared_data / "people_smoke", labels=("non_person", "person"))
    model = person_detection_dir / "person_detect.tflite"
    rows = minimisation_study(photos.x, photos.y, model, levels={"pixelate": (16, 48)}, backend="tflm")
    none = rows[0]
    # The untouched row is the detector's own verdict, recomputed here frame by frame.
    r = ModelRunner(model, backend="tflm")
    t = pixel_to_int8_table(r.input_quant.scale, r.input_quant.zero_point)
    pred = np.array([np.argmax(r.run_raw(pixels_to_int8(f, t))) for f in photos.x])
    assert none.person_recall == pytest.approx(np.mean(pred[photos.y == 1] == 1))
    assert none.non_person_recall == pytest.approx(np.mean(pred[photos.y == 0] == 0))
    assert none.balanced_accuracy > 0.7  # the reference detector works on these photos (FACTS: 14/15, 31/38)
    coarse = rows[-1]  # 2x2 blocks of 48 pixels: almost nothing of the photo is left
    assert coarse.detail_bytes < rows[1].detail_bytes < none.detail_bytes
    assert coarse.balanced_accuracy < none.balanced_accuracy
