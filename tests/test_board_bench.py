"""Timing from the board: the BENCH request end to end over a pseudo-terminal, and the virtual board's inputs."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tinymlkit.board import protocol as p
from tinymlkit.board.bench import bench
from tinymlkit.board.camera import camera_view
from tinymlkit.board.virtual import VirtualBoard, _Engine
from tinymlkit.board_input import BoardInput, board_input
from tinymlkit.cli import main
from tinymlkit.config import ImageInputConfig, VwwRunConfig, save_json
from tinymlkit.errors import KitError
from tinymlkit.inspect import inspect_model
from tinymlkit.targets import NANO33BLE
from tinymlkit.vision.int8_input import pixel_to_int8_table, pixels_to_int8
from tinymlkit.vision.preprocess import prepare_frame

ROOT = Path(__file__).resolve().parents[1]
KWS_MODEL = ROOT / "arduino_sketches" / "kws" / "model" / "model_int8.tflite"
KWS_CONFIG = ROOT / "arduino_sketches" / "kws" / "model" / "config.json"


@pytest.fixture(scope="module")
def kws_board():
    """A virtual board running the committed keyword model, on a pseudo-terminal."""
    if not KWS_MODEL.is_file():
        pytest.skip(f"{KWS_MODEL} is missing: the repository ships it with the kws sketch")
    with VirtualBoard(model=board_input(KWS_CONFIG, KWS_MODEL)) as board:
        yield board


def test_bench_timing_round_trips():
    t = p.Timing(p.TIMING_SOURCES["MEASURED"], p.TIMING_STEPS["PIXELS"], 20, 900, 1000, 1400, 1050, 64_000_000, "x")
    (frame,) = p.FrameParser().feed(p.message_frame(t, 3))
    assert p.decode_message(frame) == t and t.step_name == "PIXELS" and not t.is_estimate
    bad = p.Timing(1, 1, 3, 10, 50, 20, 30, 1, "")  # median above max
    with pytest.raises(p.ProtocolError, match="out of order"):
        p.Timing.parse(bad.payload())


def test_virtual_board_answers_bench_with_the_kits_estimate_marked_as_such(kws_board):
    report = bench(kws_board.port, runs=5, timeout=20)
    (t,) = report.timings
    assert report.estimated and t.is_estimate and t.step_name == "INFERENCE" and t.runs == 0
    macs = inspect_model(KWS_MODEL, measure=False).macs
    low, high = NANO33BLE.latency_range_ms(macs)
    assert (t.min_us, t.median_us, t.max_us) == (round(low * 1000), round(NANO33BLE.latency_ms(macs) * 1000),
                                                 round(high * 1000))
    assert t.clock_hz == NANO33BLE.clock_hz and "ESTIMATE" in t.note and f"{macs:,} MACs" in t.note
    assert p.COMMANDS["BENCH"] in [c.op for c in kws_board.commands_seen]


def test_bench_command_prints_the_board_figures_beside_inspects_estimate(kws_board, capsys):
    assert main(["bench", "--port", kws_board.port, "--model", str(KWS_MODEL), "--runs", "3"]) == 0
    out = capsys.readouterr().out
    assert "ESTIMATE" in out and "no board measured anything" in out
    macs = inspect_model(KWS_MODEL, measure=False).macs
    assert f"{NANO33BLE.latency_ms(macs):,.1f} ms" in out and f"{macs:,} MACs x {NANO33BLE.cycles_per_mac:g}" in out

    assert main(["bench", "--port", kws_board.port, "--model", str(KWS_MODEL), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["board"][0]["estimate"] is True and data["board"][0]["step"] == "inference"
    assert data["estimate"]["macs"] == macs
    low, high = data["estimate"]["latency_range_ms"]
    assert low < data["estimate"]["latency_ms"] < high


def test_bench_without_a_model_on_the_board_is_one_line_error(capsys):
    with VirtualBoard() as board:
        assert main(["bench", "--port", board.port, "--timeout", "5"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("tinymlkit: error: ") and "NO_MODEL" in err[0]
    assert board.port in err[0]


def test_bench_refuses_bad_options(capsys):
    with pytest.raises(KitError, match="--runs"):
        bench("/dev/null", runs=0)
    with pytest.raises(SystemExit):
        main(["bench", "--port", "/dev/null", "--runs", "0"])
    assert "--runs" in capsys.readouterr().err


def test_virtual_board_normalizes_images_as_the_run_config_says(tmp_path, person_detection_dir):
    # The normalisation lives on cfg.image; reading it elsewhere silently used the default.
    cfg_path = tmp_path / "config.json"
    save_json(VwwRunConfig(image=ImageInputConfig(normalization="zero_to_one")), cfg_path)
    bi = BoardInput(cfg_path, person_detection_dir / "person_detect.tflite")
    engine = _Engine(bi)
    board = VirtualBoard()
    x = engine.features(board.audio, board.images, 0)
    pixels = prepare_frame(camera_view(board.images.frame(0), engine.pixel_format), 96, 96, 1)
    q = bi.input_quant
    assert x.dtype == np.int8
    assert np.array_equal(x, pixels_to_int8(pixels, pixel_to_int8_table(q.scale, q.zero_point, "zero_to_one")))
    assert not np.array_equal(x, pixels_to_int8(pixels, pixel_to_int8_table(q.scale, q.zero_point,
                                                                             "minus_one_to_one")))
