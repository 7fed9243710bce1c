"""Live inference results from the virtual board, computed on the TFLM interpreter, seen by the monitor."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

from tinymlkit.board.monitor import Result, format_result, monitor, plot_results
from tinymlkit.board.virtual import VirtualBoard
from tinymlkit.board_input import board_input
from tinymlkit.cli import main
from tinymlkit.config import KwsRunConfig, KwsTaskConfig, VwwRunConfig, VwwTaskConfig, save_json
from tinymlkit.errors import KitError
from tinymlkit.runtime import tflm_available


@pytest.fixture()
def tflm():
    if not tflm_available():
        pytest.skip("the TFLM interpreter (pip install tflite-micro, Linux x86_64) is not installed")


@pytest.mark.slow
def test_keyword_model_results_stream_live_and_match_tflm(tmp_path, micro_speech_dir, tflm, capsys):
    from tinymlkit.audio.features import micro_features
    from tinymlkit.audio.wav import load_clip
    from tinymlkit.runtime import ModelRunner

    audio = tmp_path / "clips"
    audio.mkdir()
    for name in ("yes_1000ms.wav", "no_1000ms.wav"):
        shutil.copy(micro_speech_dir / name, audio / name)
    model = micro_speech_dir / "micro_speech_quantized.tflite"
    cfg = KwsRunConfig(task=KwsTaskConfig(words=("yes", "no")))
    config = save_json(cfg, tmp_path / "config.json")

    with VirtualBoard(audio, model=board_input(config, model), board_id=0x5EED) as vb:
        seen: list[Result] = []
        report = monitor(vb.port, count=4, on_result=seen.append)
        assert report.hello is not None and report.hello.can("INFERENCE")
        plot = tmp_path / "scores.png"
        rc = main(["monitor", "--port", vb.port, "--count", "2", "--plot", str(plot)])
    assert rc == 0 and plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    printed = capsys.readouterr().out
    assert printed.count("latency") == 2 and "plot written" in printed

    # Folder order is no, yes; the board cycles through it.
    assert [r.label for r in report.results] == ["no", "yes", "no", "yes"]
    assert seen == report.results and report.stats.clean
    runner = ModelRunner(model)
    for r, name in zip(report.results, ["no_1000ms.wav", "yes_1000ms.wav"]):
        probs = runner.predict(micro_features(load_clip(audio / name), cfg.audio)[None])[0]
        assert r.scores == tuple(float(v) / 255 for v in np.clip(np.round(probs * 255), 0, 255))
        assert r.score == max(r.scores) and r.latency_ms > 0
    assert "latency" in format_result(report.results[0])


def test_person_detector_results_on_the_virtual_camera(tmp_path, person_detection_dir, tflm):
    from tinymlkit.runtime import ModelRunner
    from tinymlkit.vision.image_io import load_image
    from tinymlkit.vision.int8_input import pixel_to_int8_table, pixels_to_int8

    images = tmp_path / "images"
    images.mkdir()
    for name in ("person.bmp", "no_person.bmp"):
        shutil.copy(person_detection_dir / name, images / name)
    cfg = VwwRunConfig(task=VwwTaskConfig(labels=("non_person", "person")))
    config = save_json(cfg, tmp_path / "config.json")
    model = person_detection_dir / "person_detect.tflite"
    with VirtualBoard(images_dir=images, model=board_input(config, model), camera_size=(96, 96),
                      pixel_format="gray8") as vb:
        report = monitor(vb.port, count=2)
    # The 96x96 grayscale camera passes the photos through unchanged: the scores are TFLM's on them, fed
    # through the sketch's pixel table (model scale/zero point, config normalisation), as the board does.
    runner = ModelRunner(model)
    q = runner.input_quant
    table = pixel_to_int8_table(q.scale, q.zero_point, cfg.image.normalization)
    for r, name in zip(report.results, ["no_person.bmp", "person.bmp"]):
        probs = runner.from_output(runner.run_raw(pixels_to_int8(load_image(images / name, 1), table))).reshape(-1)
        assert r.scores == tuple(float(v) / 255 for v in np.clip(np.round(probs * 255), 0, 255))
        assert r.label == cfg.labels[int(np.argmax(probs))]
    assert report.results[0].scores != report.results[1].scores
    fig = plot_results(report.results)
    assert len(fig.axes[0].lines) == 2
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels[0] == "non_person"


def test_monitor_without_a_model_says_how_to_start_one(tmp_path):
    with VirtualBoard(board_id=1) as vb:
        with pytest.raises(KitError, match="--model"):
            monitor(vb.port, count=1)


def test_virtual_board_refuses_half_a_model_setup(tmp_path, capsys):
    assert main(["virtual-board", "--model", str(tmp_path / "m.tflite")]) == 2
    assert "both --model and --config" in capsys.readouterr().err
    with pytest.raises(KitError, match="board input"):  # a bare path is not a model's input path
        VirtualBoard(model=tmp_path / "m.tflite")


def test_model_and_config_that_disagree_are_refused(tmp_path, micro_speech_dir, tflm):
    config = save_json(KwsRunConfig(task=KwsTaskConfig(words=("yes", "no", "up"))), tmp_path / "config.json")
    with pytest.raises(KitError, match="4 outputs but .* 5 labels"):
        board_input(config, micro_speech_dir / "micro_speech_quantized.tflite")


def test_a_board_error_is_printed_once(capsys):
    with VirtualBoard(board_id=0xAB) as vb:  # no model: the board answers START_INFERENCE with an error
        rc = main(["monitor", "--port", vb.port, "--count", "1", "--timeout", "5"])
    assert rc == 2
    out = capsys.readouterr()
    assert (out.out + out.err).count("no model loaded") == 1, out


def test_plot_legend_names_the_labels():
    r = Result(0.1, 5, "yes", 0.7, 12.0, (0.1, 0.1, 0.7, 0.1), 2)
    from tinymlkit.board.monitor import legend_names

    assert legend_names([r]) == ["output 0", "output 1", "yes", "output 3"]
    assert legend_names([r], ["silence", "unknown", "yes", "no"]) == ["silence", "unknown", "yes", "no"]
    fig = plot_results([r], ["silence", "unknown", "yes", "no"])
    texts = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert texts == ["silence", "unknown", "yes", "no"]


def test_monitor_options_are_one_line_errors(capsys):
    import pytest as _pytest

    for args in (["--timeout", "nan"], ["--seconds", "-1"], ["--count", "0"], ["--count", str(2**32)]):
        with _pytest.raises(SystemExit) as e:
            main(["monitor", "--port", "/dev/null", *args])
        assert e.value.code == 2
        err = capsys.readouterr().err
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith("tinymlkit: error: argument ") and args[0] in lines[0], err
