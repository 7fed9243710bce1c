"""BoardInput: the one place a frame or a clip becomes the model's input, checked against the board's own paths."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from tinymlkit.board_input import BoardInput
from tinymlkit.config import ImageInputConfig, KwsRunConfig, KwsTaskConfig, VwwRunConfig, VwwTaskConfig
from tinymlkit.errors import KitError
from tinymlkit.runtime import ModelRunner, quantize, tflm_available
from tinymlkit.vision.int8_input import normalize, pixel_to_int8_table

needs_tflm = pytest.mark.skipif(not tflm_available(), reason="the TFLM interpreter (tflite-micro) is not installed")


@pytest.fixture(scope="module")
def zero_to_one_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny person-detector run trained with the non-default normalisation pixel / 255, exported to a sketch."""
    from tinymlkit.pipelines.vww import run_vww

    out = tmp_path_factory.mktemp("z1")
    run_vww(out / "run", size=32, epochs=1, fast=True, synthetic_sizes=(64, 16, 32), normalization="zero_to_one",
            sketch=out / "sketch", progress=False)
    return out


@pytest.mark.slow
def test_non_default_normalisation_round_trips_through_export_and_evaluate(zero_to_one_run: Path) -> None:
    from tinymlkit.config import load_run_config
    from tinymlkit.data.synth_images import PERSON_LABELS, make_person_images, write_image_folder
    from tinymlkit.pipelines.vww import evaluate_folder, predict_pixels

    run = zero_to_one_run / "run"
    cfg = load_run_config(run / "config.json")
    assert cfg.image.normalization == "zero_to_one"
    board = BoardInput(run / "config.json", run / "model_int8.tflite")
    qp = board.input_quant
    # Trained on 0..1 with black and white in the representative set: scale 1/255, zero point -128.
    assert qp is not None and qp.zero_point == -128 and abs(qp.scale - 1 / 255) < 1e-9
    table = board.pixel_table
    assert np.array_equal(table, pixel_to_int8_table(qp.scale, qp.zero_point, "zero_to_one"))
    assert not np.array_equal(table, pixel_to_int8_table(qp.scale, qp.zero_point, "minus_one_to_one"))
    # The sketch's generated table is the same 256 numbers.
    settings = (zero_to_one_run / "sketch" / "model_settings.h").read_text()
    body = settings[settings.index("kPixelToInt8[256]"):]
    numbers = [int(v) for v in re.findall(r"-?\d+", body[body.index("{"):body.index("}")])]
    assert numbers == table.astype(int).tolist()
    # Evaluation with the run's config feeds the model through that table, not the default one.
    x, y = make_person_images(10, 32, 1, seed=5)
    write_image_folder(x, y, PERSON_LABELS, zero_to_one_run / "eval")
    m = evaluate_folder(run / "model_int8.tflite", zero_to_one_run / "eval", config=run / "config.json")
    assert m["normalization"] == "zero_to_one"
    direct = board.run_batch(table[x])
    assert m["confusion"] == _confusion(y, np.argmax(direct, 1))
    assert np.array_equal(predict_pixels(board, x), direct)
    # The float model sees pixel / 255 through the same object.
    fboard = BoardInput(cfg, run / "model_float.tflite", backend="litert")
    assert np.allclose(fboard.pixels_to_input(x), normalize(x, "zero_to_one"))


def _confusion(y: np.ndarray, p: np.ndarray) -> list[list[int]]:
    c = np.zeros((2, 2), dtype=int)
    np.add.at(c, (y, p), 1)
    return c.tolist()


@needs_tflm
@pytest.mark.slow
def test_virtual_board_feeds_the_model_as_board_input_does(zero_to_one_run: Path, tmp_path: Path) -> None:
    from tinymlkit.board import monitor
    from tinymlkit.board.virtual import VirtualBoard
    from tinymlkit.board.camera import camera_view
    from tinymlkit.board.protocol import PIXEL_FORMATS
    from tinymlkit.board.virtual import ImageSource
    from tinymlkit.data.synth_images import make_person_images
    from tinymlkit.vision.image_io import save_image

    run = zero_to_one_run / "run"
    x, _ = make_person_images(1, 160, 3, seed=11)
    (tmp_path / "frames").mkdir()
    save_image(x[0], tmp_path / "frames" / "one.png")
    board_input = BoardInput(run / "config.json", run / "model_int8.tflite")
    frame = camera_view(ImageSource(tmp_path / "frames").frame(0), PIXEL_FORMATS["RGB565_BE"])
    probs = board_input.probabilities(board_input.run(board_input.frame_to_input(frame)))
    want = np.clip(np.round(probs * 255.0), 0, 255) / 255.0
    with VirtualBoard(images_dir=tmp_path / "frames", model=board_input) as vb:
        report = monitor(vb.port, count=2)
    assert report.results and all(np.allclose(r.scores, want, atol=1e-6) for r in report.results)


@pytest.mark.shared
def test_clip_to_input_classifies_the_reference_clips(micro_speech_dir: Path) -> None:
    from tinymlkit.audio.features import micro_features
    from tinymlkit.audio.wav import read_wav

    cfg = KwsRunConfig(task=KwsTaskConfig(words=("yes", "no")))
    board = BoardInput(cfg, micro_speech_dir / "micro_speech_quantized.tflite")
    assert board.labels == ("silence", "unknown", "yes", "no")
    for word in ("yes", "no"):
        clip, _ = read_wav(micro_speech_dir / f"{word}_1000ms.wav")
        x = board.clip_to_input(clip)
        assert x.dtype == np.int8
        # Same numbers as quantising the float features with the model's own parameters.
        feats = micro_features(clip, cfg.audio)
        assert np.array_equal(x.reshape(-1), quantize(feats, board.input_quant).reshape(-1))
        assert board.labels[int(np.argmax(board.run(x)))] == word


@pytest.mark.shared
def test_config_and_model_that_do_not_fit_are_refused(person_detection_dir: Path) -> None:
    model = person_detection_dir / "person_detect.tflite"
    with pytest.raises(KitError, match="takes input"):
        BoardInput(VwwRunConfig(image=ImageInputConfig(width=64, height=64)), model)
    with pytest.raises(KitError, match="2 outputs but the config lists 3"):
        BoardInput(VwwRunConfig(task=VwwTaskConfig(labels=("a", "b", "c"))), model)
    b = BoardInput(VwwRunConfig(), model)
    with pytest.raises(KitError, match="person detector's config"):
        b.clip_to_input(np.zeros(16000, dtype=np.int16))
    # The reference detector: pixel - 128, as FACTS measures.
    assert np.array_equal(b.pixel_table.astype(int), np.arange(256) - 128)
    frame = np.full((120, 160, 3), 200, dtype=np.uint8)
    assert np.all(b.frame_to_input(frame) == 72)
    assert isinstance(b.runner, ModelRunner)
