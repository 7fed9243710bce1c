"""The person-detector track end to end, and parity with the reference person detector on TFLM."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tinymlkit.cli import main
from tinymlkit.config import VwwRunConfig, load_run_config
from tinymlkit.data.synth_images import PERSON_LABELS, make_person_images, write_image_folder
from tinymlkit.runtime import ModelRunner, tflm_available
from tinymlkit.vision.image_io import load_image, open_image
from tinymlkit.vision.preprocess import preprocess_image

needs_tflm = pytest.mark.skipif(not tflm_available(), reason="the TFLM interpreter (tflite-micro) is not installed")


def _direct_predictions(runner: ModelRunner, pixels: np.ndarray) -> np.ndarray:
    """Argmax of the int8 model on uint8 images through the pixel - 128 rule, one interpreter call per image."""
    return np.array([int(np.argmax(runner.run_raw(p.astype(np.int16) - 128))) for p in pixels])


@pytest.fixture(scope="module")
def reference(person_detection_dir: Path) -> ModelRunner:
    """person_detect.tflite on TFLM."""
    return ModelRunner(person_detection_dir / "person_detect.tflite", backend="tflm")


@needs_tflm
@pytest.mark.shared
def test_reference_detector_scores_no_person_with_a_clear_margin(reference: ModelRunner,
                                                                 person_detection_dir: Path) -> None:
    from tinymlkit.pipelines.vww import int8_pixel_table, predict_pixels

    qp = reference.input_quant
    assert qp is not None and qp.zero_point == -1 and abs(qp.scale - 1 / 127.5) < 1e-9
    # The conversion comes from the model's own parameters, and for them it is pixel - 128.
    assert np.array_equal(int8_pixel_table(reference).astype(int), np.arange(256) - 128)
    px = preprocess_image(open_image(person_detection_dir / "no_person.bmp"), 96, 96, 1)
    raw = predict_pixels(reference, px[None])[0].astype(int)
    probs = reference.from_output(raw.astype(np.int8))
    assert int(np.argmax(raw)) == 0  # labels: no person, person
    assert probs[0] >= 0.75 and raw[0] - raw[1] >= 100, (raw, probs)


@needs_tflm
@pytest.mark.shared
def test_person_bmp_stores_model_input_bytes_not_pixels(reference: ModelRunner, person_detection_dir: Path) -> None:
    """person.bmp holds int8 input values (pixel - 128) written as bytes; no_person.bmp holds pixels.

    Flipping the top bit (byte ^ 0x80) turns person.bmp into a natural photo (neighbouring pixels
    closer) and no_person.bmp into noise: a file the reference ships that only looks right to code that
    reinterprets bytes. Decoded, it is a person.
    """
    from tinymlkit.pipelines.vww import predict_pixels

    def roughness(a: np.ndarray) -> float:
        return float(np.abs(np.diff(a.astype(int), axis=1)).mean())

    person = load_image(person_detection_dir / "person.bmp")
    no_person = load_image(person_detection_dir / "no_person.bmp")
    assert roughness(person ^ 0x80) < 0.85 * roughness(person)
    assert roughness(no_person ^ 0x80) > 1.5 * roughness(no_person)
    raw = predict_pixels(reference, (person ^ 0x80)[None])[0].astype(int)
    assert int(np.argmax(raw)) == 1 and raw[1] - raw[0] >= 100, raw


@needs_tflm
@pytest.mark.shared
def test_reference_detector_on_real_photos_beats_the_byte_reinterpretation(person_detection_dir: Path,
                                                                           shared_data: Path) -> None:
    from tinymlkit.data.image_folder import load_images, scan_image_folder
    from tinymlkit.evaluate import classification_metrics
    from tinymlkit.pipelines.vww import evaluate_folder

    model = person_detection_dir / "person_detect.tflite"
    labels = ("non_person", "person")
    right = {"y": [], "p": []}
    wrong = {"y": [], "p": []}
    runner = ModelRunner(model, backend="tflm")
    for sub in sorted((shared_data / "people_smoke").iterdir()):
        if not sub.is_dir():
            continue
        m = evaluate_folder(model, sub, labels, backend="tflm")
        assert m["skipped_files"] == []
        idx = scan_image_folder(sub, labels)
        li = load_images(idx.paths, idx.labels, 96, 96, 1)
        right["y"] += li.y.tolist()
        right["p"] += [int(np.argmax(runner.run_raw(x.astype(int) - 128))) for x in li.x]
        wrong["y"] += li.y.tolist()
        wrong["p"] += [int(np.argmax(runner.run_raw(x.view(np.int8)))) for x in li.x]
        assert m["n"] == len(li.y) and m["accuracy"] == classification_metrics(
            li.y, right["p"][-len(li.y):], labels)["accuracy"]
    good = classification_metrics(right["y"], right["p"], labels)
    bad = classification_metrics(wrong["y"], wrong["p"], labels)
    assert good["n"] >= 50
    assert good["balanced_accuracy"] >= 0.75, good
    assert good["balanced_accuracy"] > bad["balanced_accuracy"] + 0.05, (good, bad)


@pytest.mark.slow
def test_vww_run_evaluate_predict_from_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run, sketch = tmp_path / "run", tmp_path / "sketch"
    rc = main(["vww", "run", "--synthetic", "--fast", "--size", "32", "--epochs", "2", "--out", str(run),
               "--sketch", str(sketch)])
    assert rc == 0
    summary = capsys.readouterr().out
    assert "Person detector: MobileNetV1 alpha 0.25 at 32x32x1" in summary
    # Trained on drawings: the summary says so, calls the score a smoke test, and asks for real photos.
    assert "trained on: synthetic drawn figures (pipeline smoke test: not real people)" in summary
    assert "pipeline smoke test, not a score on real people" in summary and "--real-eval DIR" in summary
    for name in ("model_int8.tflite", "model_float.tflite", "model.keras", "config.json", "metrics.json",
                 "training.png", "confusion.png"):
        assert (run / name).is_file(), name
    cfg = load_run_config(run / "config.json")
    assert isinstance(cfg, VwwRunConfig)
    assert (cfg.image.width, cfg.image.height, cfg.image.channels) == (32, 32, 1)
    assert cfg.labels == PERSON_LABELS and cfg.task.alpha == 0.25
    m = json.loads((run / "metrics.json").read_text())
    assert m["synthetic"] is True and m["real_photos"] is None
    key = "int8_tflm" if tflm_available() else "int8_litert"
    for k in ("accuracy", "balanced_accuracy", "per_class", "confusion", "n"):
        assert k in m[key] and k in m["float"]
    assert m[key]["n"] == m["task"]["test_examples"] == 80
    assert m["train"]["epochs_run"] == 2 and m["model"]["params"] > 200_000
    assert m["model_bytes"]["int8"] < 0.4 * m["model_bytes"]["float"]  # int8 weights plus quantisation tables
    # A black and a white image in the representative set give the input scale 2/255, zero point -1:
    # the same pixel - 128 conversion as the reference person detector.
    assert m["input_conversion"]["input_zero_point"] == -1
    assert m["input_conversion"]["pixel_table_is_pixel_minus_128"] is True
    if tflm_available():
        assert 0 < m["arena_bytes"] < 256 * 1024
    settings = (sketch / "model_settings.h").read_text()
    assert '"non_person", "person"' in settings and "kImageWidth = 32" in settings
    assert (sketch / "model_data.cc").is_file() and (sketch / "model_ops.h").is_file()

    # Evaluate on a folder (folder names are the labels), with one corrupt file that is skipped.
    x, y = make_person_images(12, 32, 1, seed=99)
    write_image_folder(x, y, PERSON_LABELS, tmp_path / "eval")
    (tmp_path / "eval" / "person" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really")
    rc = main(["vww", "evaluate", "--model", str(run / "model_int8.tflite"), "--data", str(tmp_path / "eval"),
               "--config", str(run / "config.json"), "--json"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    for k in ("accuracy", "balanced_accuracy", "per_class", "confusion", "n"):
        assert k in out
    assert out["n"] == 12 and len(out["skipped_files"]) == 1 and "broken.jpg" in out["skipped_files"][0]["file"]
    # The same answers with the board's conversion written out here (int8 = pixel - 128, asserted above from
    # metrics.json) on the interpreter itself, counted by hand: not through the functions the command calls.
    runner = ModelRunner(run / "model_int8.tflite")
    assert runner.input_quant is not None and runner.input_quant.zero_point == -1
    direct = _direct_predictions(runner, x)
    confusion = [[int(np.sum((y == t) & (direct == p))) for p in range(2)] for t in range(2)]
    assert out["confusion"] == confusion
    assert out["accuracy"] == pytest.approx(float(np.mean(direct == y)))

    # Predict: good files get a label, a bad one an error, and the exit status says so.
    imgs = sorted((tmp_path / "eval" / "person").glob("*.png"))[:2]
    rc = main(["vww", "predict", "--model", str(run / "model_int8.tflite"), *map(str, imgs),
               str(tmp_path / "eval" / "person" / "broken.jpg")])
    cap = capsys.readouterr()
    assert rc == 2
    assert "broken.jpg" in cap.err and "broken.jpg" not in cap.out
    # One line per good file, naming the label the model itself gives that image.
    want = _direct_predictions(runner, np.stack([load_image(p, channels=1) for p in imgs]))
    for p, k in zip(imgs, want):
        line = next(ln for ln in cap.out.splitlines() if ln.startswith(f"{p}: "))
        assert line.split(": ", 1)[1].split()[0] == PERSON_LABELS[k], line


@needs_tflm
@pytest.mark.shared
@pytest.mark.slow
def test_fine_tuned_real_base_reports_before_and_after_on_real_photos(person_detection_dir: Path, shared_data: Path,
                                                                    tmp_path: Path) -> None:
    """From person_detect.tflite, fine-tuned on real photos; scored beside the untouched detector."""
    from tinymlkit.pipelines.vww import format_summary, load_real_photos, run_vww, split_photos

    # Train on the Dollar Street photos; the Open Images ones are a second, held-out source.
    photos = load_real_photos(shared_data / "people_smoke" / "dollarstreet_ccby4")
    data = split_photos(photos, seed=0)
    held_out = shared_data / "people_smoke" / "openimages_wakevision_dummy"
    r = run_vww(tmp_path / "run", data=data, weights=str(person_detection_dir / "person_detect.tflite"), epochs=2,
                batch_size=16, real_eval=held_out, progress=False)
    m = r.metrics
    assert "person_detect.tflite" in m["trained_on"] and "real photos" in m["trained_on"]
    assert m["synthetic"] is False
    before, after = m["real_photos"]["before"], m["real_photos"]["after"]
    assert before["n"] == after["n"] == 10
    assert m["start_model_on_test_split"]["n"] == m["task"]["test_examples"] == len(data.test[1])
    # Two epochs from the real base keep most of what it knew (the reference gets ~0.84 on all 55 photos).
    assert m["int8_tflm"]["balanced_accuracy"] >= 0.6, m["int8_tflm"]
    assert m["model_bytes"]["int8"] <= 300 * 1024 and m["arena_bytes"] <= 100 * 1024
    text = format_summary(r)
    assert "reference detector (before)" in text and "real photos (10" in text
