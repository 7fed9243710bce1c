"""`tinymlkit inspect` on the TFLM reference models: ops, parameters, MACs by hand, arena, target fit, JSON, bad files."""
from __future__ import annotations

import json
import math
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from tinymlkit.cli import main
from tinymlkit.inspect import inspect_model, layer_rows, plot_layers
from tinymlkit.runtime import ModelLoadError, tflm_available
from tinymlkit.targets import NANO33BLE, UnknownTargetError, get_target
from tinymlkit.tflite_file import schema

needs_tflm = pytest.mark.skipif(not tflm_available(), reason="the TFLM interpreter (tflite-micro) is not installed")

# Published arena sizes of the TFLM examples (kTensorArenaSize in micro_speech and person_detection).
MICRO_SPEECH_ARENA = 10 * 1024
PERSON_DETECTION_ARENA = 136 * 1024


@pytest.fixture(scope="module")
def micro_speech_model(micro_speech_dir: Path) -> Path:
    return micro_speech_dir / "micro_speech_quantized.tflite"


@pytest.fixture(scope="module")
def person_model(person_detection_dir: Path) -> Path:
    return person_detection_dir / "person_detect.tflite"


@pytest.fixture(scope="module")
def ms_report(micro_speech_model: Path):
    return inspect_model(micro_speech_model, target="nano33ble", measure=tflm_available())


@pytest.fixture(scope="module")
def pd_report(person_model: Path):
    return inspect_model(person_model, target="nano33ble", measure=tflm_available())


def _flatbuffer_constant_elements(path: Path) -> int:
    """Elements of every tensor that has data in the flatbuffer, read straight from the schema."""
    s = schema()
    m = s.Model.GetRootAsModel(path.read_bytes(), 0)
    g = m.Subgraphs(0)
    itemsize = {s.TensorType.INT8: 1, s.TensorType.UINT8: 1, s.TensorType.INT16: 2, s.TensorType.INT32: 4,
                s.TensorType.FLOAT32: 4, s.TensorType.INT64: 8}
    total = 0
    for i in range(g.TensorsLength()):
        t = g.Tensors(i)
        n = m.Buffers(t.Buffer()).DataLength()
        if n:
            total += n // itemsize[t.Type()]
    return total


def test_micro_speech_ops_match_what_the_example_registers(ms_report) -> None:
    assert [(layer.name, layer.version) for layer in ms_report.layers] == [
        ("RESHAPE", 1), ("DEPTHWISE_CONV_2D", 3), ("FULLY_CONNECTED", 4), ("SOFTMAX", 2)]
    # micro_speech's resolver: AddDepthwiseConv2D, AddFullyConnected, AddSoftmax, AddReshape.
    assert {n for n, _ in ms_report.opcodes} == {"DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "SOFTMAX", "RESHAPE"}
    assert ms_report.layers[1].inputs[0].shape == (1, 49, 40, 1)
    assert ms_report.layers[1].outputs[0].shape == (1, 25, 20, 8)
    assert ms_report.layers[1].outputs[0].dtype == "int8"


def test_person_detect_ops_match_what_the_example_registers(pd_report) -> None:
    # person_detection's resolver: AddAveragePool2D, AddConv2D, AddDepthwiseConv2D, AddReshape, AddSoftmax.
    assert {n for n, _ in pd_report.opcodes} == {"AVERAGE_POOL_2D", "CONV_2D", "DEPTHWISE_CONV_2D", "RESHAPE", "SOFTMAX"}
    assert len(pd_report.layers) == 31
    assert pd_report.layers[0].name == "DEPTHWISE_CONV_2D" and pd_report.layers[-1].name == "SOFTMAX"


def test_parameter_counts_match_the_flatbuffer_tensors(ms_report, pd_report, micro_speech_model, person_model) -> None:
    for report, path in ((ms_report, micro_speech_model), (pd_report, person_model)):
        own = _flatbuffer_constant_elements(path)
        assert abs(report.params - own) <= 0.01 * own, (report.params, own)
    # By hand: depthwise 10x8x8 weights + 8 biases; fully connected 4x4000 weights + 4 biases.
    assert ms_report.params == 10 * 8 * 8 + 8 + 4 * 4000 + 4


def test_macs_by_hand_micro_speech(ms_report) -> None:
    dw, fc = ms_report.layers[1], ms_report.layers[2]
    assert dw.macs == 25 * 20 * 8 * 10 * 8  # output 25x20x8, each from a 10x8 window of one channel
    assert fc.macs == 4000 * 4  # 25*20*8 inputs to each of 4 outputs
    assert ms_report.layers[0].macs == 0 and ms_report.layers[3].macs == 0
    assert ms_report.macs == 320_000 + 16_000


def test_macs_by_hand_person_detect(pd_report) -> None:
    layers = pd_report.layers
    assert layers[0].macs == 48 * 48 * 8 * 3 * 3  # 96x96x1 -> 48x48x8, 3x3, depth multiplier 8
    assert layers[2].macs == 48 * 48 * 16 * 8  # pointwise 1x1, 8 -> 16 channels at 48x48
    assert layers[3].macs == 24 * 24 * 16 * 3 * 3  # stride-2 depthwise, 16 channels
    assert layers[26].macs == 3 * 3 * 256 * 256  # last pointwise, 256 -> 256 at 3x3
    assert layers[27].macs == 256 * 3 * 3  # average pool over the 3x3 map
    assert layers[28].macs == 256 * 2  # the 1x1 classifier, 256 -> 2
    assert pd_report.macs == sum(layer.macs for layer in layers)
    assert 7_000_000 < pd_report.macs < 7_300_000  # MobileNetV1 0.25 at 96x96x1: ~7.2 M (project FACTS)


def test_depthwise_separable_arithmetic(pd_report) -> None:
    blocks = pd_report.separable
    assert len(blocks) == 13  # MobileNetV1 has 13 depthwise separable blocks
    for b in blocks:
        cout = pd_report.layers[b.pointwise_index].outputs[0].shape[-1]
        assert b.kernel == (3, 3)
        assert math.isclose(b.ratio, 1 / cout + 1 / 9, rel_tol=1e-9)
    last = blocks[-1]
    assert last.standard_macs == 3 * 3 * 256 * 3 * 3 * 256


@needs_tflm
def test_arena_fits_the_examples_published_sizes(ms_report, pd_report) -> None:
    assert ms_report.arena_bytes is not None and pd_report.arena_bytes is not None
    assert ms_report.arena_bytes <= MICRO_SPEECH_ARENA
    assert pd_report.arena_bytes <= PERSON_DETECTION_ARENA
    # The arena holds at least the largest set of live activations.
    assert ms_report.arena_bytes >= ms_report.peak_activation_bytes
    assert pd_report.arena_bytes >= pd_report.peak_activation_bytes
    assert "bisection" in pd_report.arena.method


def test_peak_activation_by_hand(pd_report, ms_report) -> None:
    # person_detect: layer 2 reads 48x48x8 and writes 48x48x16 int8 at the same time.
    assert pd_report.peak_activation_bytes == 48 * 48 * 8 + 48 * 48 * 16
    # micro_speech: the depthwise conv reads 49x40 and writes 25x20x8.
    assert ms_report.peak_activation_bytes == 49 * 40 + 25 * 20 * 8


def test_flash_is_the_file_size(pd_report, person_model) -> None:
    assert pd_report.model_bytes == person_model.stat().st_size


@needs_tflm
def test_target_fit_and_latency(pd_report) -> None:
    fit = pd_report.target
    assert fit is not None and fit.target is NANO33BLE
    assert NANO33BLE.clock_hz == 64_000_000 and NANO33BLE.ram_bytes == 256 * 1024
    assert NANO33BLE.flash_bytes == 1024 * 1024
    assert fit.fits is True
    assert fit.ram_needed == pd_report.arena_bytes + NANO33BLE.sketch_ram_bytes
    assert fit.latency_ms == pytest.approx(pd_report.macs * NANO33BLE.cycles_per_mac / 64e6 * 1000)
    assert "arXiv:1801.06601" in NANO33BLE.cycles_per_mac_source


def test_a_model_too_big_for_the_board_does_not_fit(pd_report) -> None:
    import dataclasses

    small = dataclasses.replace(NANO33BLE, name="tiny", sketch_flash_limit=pd_report.model_bytes)
    report = inspect_model(pd_report.model, target=small, measure=False)
    assert report.target is not None and report.target.fits_flash is False


def test_unknown_target_is_a_clear_error() -> None:
    with pytest.raises(UnknownTargetError, match="known targets: nano33ble"):
        get_target("uno")


@needs_tflm
def test_json_output_has_the_documented_keys(micro_speech_model: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(micro_speech_model), "--target", "nano33ble", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    for key in ("ops", "params", "macs", "arena_bytes", "model_bytes", "target"):
        assert key in data
    assert [(o["name"], o["version"]) for o in data["ops"]] == [
        ("RESHAPE", 1), ("DEPTHWISE_CONV_2D", 3), ("FULLY_CONNECTED", 4), ("SOFTMAX", 2)]
    assert data["macs"] == 336_000 and data["model_bytes"] == 18_800
    assert 0 < data["arena_bytes"] <= MICRO_SPEECH_ARENA
    t = data["target"]
    assert t["name"] == "nano33ble" and t["fits"] is True
    assert t["latency_ms"] == pytest.approx(336_000 * t["cycles_per_mac"] / 64e6 * 1000, rel=1e-3)
    assert t["sources"]["cycles_per_mac"]


def test_text_report_and_table(ms_report, capsys: pytest.CaptureFixture[str], micro_speech_model: Path) -> None:
    assert main(["inspect", str(micro_speech_model), "--no-arena"]) == 0
    out = capsys.readouterr().out
    assert "DEPTHWISE_CONV_2D" in out and "336,000" in out and "not measured" in out
    rows = layer_rows(ms_report)
    assert [r["op"] for r in rows] == ["RESHAPE", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "SOFTMAX"]


def test_bar_chart(pd_report) -> None:
    import matplotlib

    matplotlib.use("Agg")
    fig = plot_layers(pd_report)
    heights = [p.get_height() for p in fig.axes[0].patches]
    assert heights == [layer.macs for layer in pd_report.layers]


@pytest.mark.parametrize("content", [b"", b"hello, this is not a model\n", b"\x00" * 64])
def test_not_a_model_is_one_clear_line(tmp_path: Path, content: bytes, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(content)
    assert main(["inspect", str(bad)]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "not a TFLite model" in err
    assert len(err.strip().splitlines()) == 1


def test_truncated_model_is_a_clear_error(tmp_path: Path, micro_speech_model: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "cut.tflite"
    bad.write_bytes(micro_speech_model.read_bytes()[:5000])
    assert main(["inspect", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "cut.tflite" in err and "could not be read" in err and "Traceback" not in err


def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(tmp_path / "nope.tflite")]) == 2
    assert "no such model file" in capsys.readouterr().err


@needs_tflm
def test_damaged_model_that_crashes_tflm_does_not_crash_the_kit(tmp_path: Path, micro_speech_model: Path) -> None:
    # Random byte damage that still parses: this pattern crashed the TFLM interpreter (SIGSEGV) when
    # it was found; the kit measures the arena in a child process and must answer with one line.
    d = bytearray(micro_speech_model.read_bytes())
    rng = random.Random(40)
    for _ in range(rng.randint(1, 20)):
        d[rng.randrange(8, len(d))] = rng.randrange(256)
    bad = tmp_path / "damaged.tflite"
    bad.write_bytes(bytes(d))
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    proc = subprocess.run([sys.executable, "-m", "tinymlkit", "inspect", str(bad)], capture_output=True,
                          text=True, env=env, timeout=300)
    assert proc.returncode in (0, 2), proc.stderr
    assert "Traceback" not in proc.stderr
    if proc.returncode == 2:
        assert "damaged.tflite" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_model_bytes_input(micro_speech_model: Path) -> None:
    report = inspect_model(micro_speech_model.read_bytes(), measure=False)
    assert report.model == "<model bytes>" and report.macs == 336_000
    with pytest.raises(ModelLoadError):
        inspect_model(b"not a model at all", measure=False)


def test_report_holds_no_internal_references(micro_speech_dir):
    # What a learner reads must not point at project-internal notes (issue 11 section 7).
    from tinymlkit.inspect import format_report, inspect_model
    report = inspect_model(micro_speech_dir / "micro_speech_quantized.tflite", target="nano33ble", measure=False)
    text = format_report(report) + json.dumps(report.to_json())
    for internal in ("FACTS", "DESIGN.md", "HELPERS", "the project's", "see the project"):
        assert internal not in text
