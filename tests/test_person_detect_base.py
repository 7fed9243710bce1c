"""The real person detector (person_detect.tflite) in the kit's Keras MobileNetV1: load, agree, round trip, get."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from local_site import LocalSite

from tinymlkit.models.mobilenet import WeightsError
from tinymlkit.models.person_detect_base import (PERSON_DETECT_ENV, PERSON_DETECT_SHA256, PersonDetectUnavailable,
                                                 download_person_detect, person_detect_path,
                                                 read_person_detect_weights)
from tinymlkit.runtime import ModelRunner, tflm_available

needs_tflm = pytest.mark.skipif(not tflm_available(), reason="the TFLM interpreter (tflite-micro) is not installed")
LABELS = ("non_person", "person")


@pytest.fixture(scope="module")
def tflite(person_detection_dir: Path) -> Path:
    """The reference model file of ../shared."""
    return person_detection_dir / "person_detect.tflite"


@pytest.fixture(scope="module")
def real_pixels(person_detection_dir: Path, shared_data: Path) -> tuple[np.ndarray, np.ndarray]:
    """people_smoke photos plus the two reference BMPs (person.bmp decoded by flipping the top bit), 96x96x1."""
    from tinymlkit.pipelines.vww import load_real_photos
    from tinymlkit.vision.image_io import load_image

    photos = load_real_photos(shared_data / "people_smoke", labels=LABELS)
    person = load_image(person_detection_dir / "person.bmp", channels=1) ^ 0x80
    no_person = load_image(person_detection_dir / "no_person.bmp", channels=1)
    x = np.concatenate([photos.x, person[None], no_person[None]])
    y = np.concatenate([photos.y, [1, 0]]).astype(np.int32)
    return x, y


@pytest.fixture(scope="module")
def keras_model(tflite: Path) -> object:
    """The reference weights in the kit's Keras MobileNetV1."""
    from tinymlkit.models.person_detect_base import person_detect_model

    return person_detect_model(tflite, progress=False)


@pytest.mark.shared
def test_weights_have_the_kit_mobilenet_shapes(tflite: Path) -> None:
    w = read_person_detect_weights(tflite)
    assert w["conv1"][0].shape == (3, 3, 1, 8) and w["conv1"][1].shape == (8,)
    assert w["conv_dw_1"][0].shape == (3, 3, 8, 1)
    assert w["conv_pw_13"][0].shape == (1, 1, 256, 256)
    assert w["predictions"][0].shape == (256, 2) and w["predictions"][1].shape == (2,)
    assert len(w) == 1 + 2 * 13 + 1
    # Dequantised, not raw: int8 codes would be whole numbers up to 127.
    k = w["conv_pw_5"][0]
    assert np.abs(k).max() < 20 and not np.allclose(k, np.round(k))


@pytest.mark.shared
def test_another_model_is_refused_with_the_reason(micro_speech_dir: Path) -> None:
    with pytest.raises(WeightsError, match="not the TFLM example's person_detect.tflite"):
        read_person_detect_weights(micro_speech_dir / "micro_speech_quantized.tflite")


@needs_tflm
@pytest.mark.shared
def test_float_keras_model_agrees_with_the_int8_original_on_real_photos(keras_model: object, tflite: Path,
                                                                        real_pixels: tuple) -> None:
    from tinymlkit.pipelines.vww import reference_agreement

    x, _ = real_pixels
    a = reference_agreement(keras_model, ModelRunner(tflite, backend="tflm"), x)
    assert a["n"] == len(x) >= 55
    # The int8 original and its dequantised float copy differ only by activation rounding.
    assert a["same_prediction"] >= a["n"] - 1, a
    assert a["mean_probability_difference"] < 0.05, a


@needs_tflm
@pytest.mark.shared
@pytest.mark.slow
def test_kit_int8_round_trip_scores_within_a_point_of_the_original(keras_model: object, tflite: Path,
                                                                   real_pixels: tuple) -> None:
    from tinymlkit.convert import to_int8_tflite
    from tinymlkit.pipelines.vww import score_pixels
    from tinymlkit.runtime import measure_arena
    from tinymlkit.vision.int8_input import normalize

    x, y = real_pixels
    ends = np.stack([np.zeros_like(x[0]), np.full_like(x[0], 255)])
    kit = to_int8_tflite(keras_model, normalize(np.concatenate([ends, x]), "minus_one_to_one"), max_samples=len(x) + 2)
    from tinymlkit.pipelines.vww import predict_pixels

    kit_runner, ref_runner = ModelRunner(kit, backend="tflm"), ModelRunner(tflite, backend="tflm")
    ours = score_pixels(kit_runner, x, y, LABELS)
    ref = score_pixels(ref_runner, x, y, LABELS)
    # One photo is 1.8 points of 55: the measured round trip changes the decision on at most one
    # borderline photo, and never costs accuracy beyond a point.
    differ = int(np.sum(np.argmax(predict_pixels(kit_runner, x), 1) != np.argmax(predict_pixels(ref_runner, x), 1)))
    assert differ <= 1, (differ, ours, ref)
    assert ours["accuracy"] >= ref["accuracy"] - 0.01, (ours, ref)
    assert ours["n"] == ref["n"] == len(y)
    # The two reference BMPs (last two rows) are classified right.
    assert np.argmax(predict_pixels(kit_runner, x[-2:]), 1).tolist() == [1, 0]
    assert len(kit) <= 300 * 1024
    assert measure_arena(kit).arena_bytes <= 100 * 1024


# ---------------------------------------------------------------------------------------------
# Getting the file: local copy, environment variable, download from 127.0.0.1, offline message


@pytest.fixture
def site():
    with LocalSite() as s:
        yield s


def test_download_from_upstream_address_checks_sha256(site: LocalSite, tmp_path: Path) -> None:
    body = b"TFL3 stand-in bytes for the transfer test" * 100
    site.files["/person_detect.tflite"] = body
    got = download_person_detect(tmp_path / "pd.tflite", url=site.url("/person_detect.tflite"),
                                 sha256=hashlib.sha256(body).hexdigest(), progress=False)
    assert got.read_bytes() == body
    with pytest.raises(PersonDetectUnavailable, match="checksum mismatch"):
        download_person_detect(tmp_path / "other.tflite", url=site.url("/person_detect.tflite"),
                               sha256=PERSON_DETECT_SHA256, progress=False)
    assert not (tmp_path / "other.tflite").exists()


def test_offline_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now: a refused connection, as offline
    monkeypatch.setenv("TINYMLKIT_DATA", str(tmp_path))
    monkeypatch.setenv("TINYMLKIT_SHARED_DATA", str(tmp_path / "no_shared"))  # as on a fresh clone
    monkeypatch.delenv(PERSON_DETECT_ENV, raising=False)
    with pytest.raises(PersonDetectUnavailable) as e:
        person_detect_path(url=f"http://127.0.0.1:{port}/person_detect.tflite", progress=False)
    msg = str(e.value)
    assert "Without a network" in msg and "--weights PATH.tflite" in msg and PERSON_DETECT_ENV in msg
    with pytest.raises(PersonDetectUnavailable, match="vww get-base"):
        person_detect_path(download=False)


@pytest.mark.shared
def test_local_copy_by_argument_or_environment(tflite: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TINYMLKIT_DATA", str(tmp_path))
    monkeypatch.setenv(PERSON_DETECT_ENV, str(tflite))
    assert person_detect_path(download=False) == tflite
    monkeypatch.setenv(PERSON_DETECT_ENV, str(tmp_path / "missing.tflite"))
    with pytest.raises(PersonDetectUnavailable, match="missing.tflite"):
        person_detect_path(download=False)
    assert person_detect_path(tflite, download=False) == tflite


@pytest.mark.shared
def test_get_base_command_keeps_a_checked_local_copy(tflite: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    from tinymlkit.cli import main

    monkeypatch.setenv("TINYMLKIT_DATA", str(tmp_path))
    monkeypatch.setenv("TINYMLKIT_SHARED_DATA", str(tmp_path / "no_shared"))
    monkeypatch.delenv(PERSON_DETECT_ENV, raising=False)
    assert main(["vww", "get-base", "--from", str(tflite)]) == 0
    kept = tmp_path / "person_detect" / "data" / "person_detect.tflite"
    assert kept.read_bytes() == tflite.read_bytes()
    assert person_detect_path(download=False) == kept
    bad = tmp_path / "not_it.tflite"
    bad.write_bytes(b"nothing like a model")
    assert main(["vww", "get-base", "--from", str(bad)]) == 2
    assert "tinymlkit: error:" in capsys.readouterr().err
