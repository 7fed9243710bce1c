"""The TinyMLKit library's C++ on an emulated Cortex-M4 (QEMU mps2-an386), against the same Python references.

The host tests (test_sketches_cpp.py, test_board_cpp.py) show the board-independent C++ bit-exact on
x86. Here the same drivers are built for the board's instruction set and float ABI with
arm-none-eabi-g++ (newlib, semihosting for files; startup code and memory layout in tests/qemu/)
and run on QEMU's Cortex-M4 with FPU, with the same inputs and the same expected outputs. All the
cases of a driver run in one QEMU process (the driver's batch mode), so the whole check takes
seconds, not a boot per case.
"""
from __future__ import annotations

import io
import shutil
import struct
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tinymlkit.audio.features import frontend_to_int8, frontend_uint16
from tinymlkit.audio.wav import load_clip
from tinymlkit.board import protocol as p
from tinymlkit.config import AudioFrontendConfig, QuantParams, RecognizerConfig
from tinymlkit.recognizer import CommandRecognizer
from tinymlkit.tflite_file import read_tflite
from tinymlkit.vision.int8_input import pixel_to_int8_table, pixels_to_int8
from tinymlkit.vision.pixels import decode_frame, rgb888_to_rgb565
from tinymlkit.vision.preprocess import prepare_frame

from cpp_build import CPP, LIB, arm_tool, m4_qemu_elf
from test_board_cpp import _command_stream, _expected_messages, timing_cases, timing_reference
from test_sketches_cpp import (FMT, KWS_MODEL, WINDOW_CASES, _camera_frame, _clips, _input_quant, _mcu_blocks,
                               _real_images, _scripted_scores, _window_case)

QEMU_TIMEOUT_S = 300
"""A hung emulation fails the test instead of the suite's timeout (the whole run takes seconds)."""


def _qemu() -> str:
    """qemu-system-arm, after the cross compiler (both or skip)."""
    arm_tool("g++")
    qemu = shutil.which("qemu-system-arm")
    if not qemu:
        pytest.skip("qemu-system-arm is not installed (Debian: apt-get install qemu-system-arm); "
                    "the Cortex-M4 emulation cannot be run")
    return qemu


class Batch:
    """Commands for one driver, run together in one QEMU process."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.lines: list[str] = []
        self._n = 0

    def file(self, data: bytes | str, suffix: str = ".bin") -> Path:
        """A new input file holding ``data``."""
        self._n += 1
        path = self.folder / f"f{self._n}{suffix}"
        path.write_bytes(data.encode() if isinstance(data, str) else data)
        return path

    def out(self) -> Path:
        """A new output file name."""
        self._n += 1
        return self.folder / f"o{self._n}.bin"

    def add(self, *words: object, stdin: Path | None = None, stdout: Path | None = None) -> int:
        """Queue a command; returns its index in the results."""
        parts = [str(w) for w in words]
        assert all(" " not in w and w for w in parts)
        if stdin is not None:
            parts.append(f"<{stdin}")
        if stdout is not None:
            parts.append(f">{stdout}")
        self.lines.append(" ".join(parts))
        return len(self.lines) - 1

    def run(self, elf: Path) -> tuple[list[int], float]:
        """Run every queued command on the emulated M4; (exit status per command, wall seconds)."""
        qemu = _qemu()
        script, results = self.folder / "script.txt", self.folder / "results.txt"
        script.write_text("\n".join(self.lines) + "\n")
        args = ",".join(f"arg={a}" for a in (elf.name, "batch", script, results))
        t0 = time.monotonic()
        r = subprocess.run([qemu, "-M", "mps2-an386", "-nographic", "-monitor", "none", "-serial", "none",
                            "-semihosting-config", f"enable=on,target=native,{args}", "-kernel", str(elf)],
                           capture_output=True, text=True, timeout=QEMU_TIMEOUT_S)
        wall = time.monotonic() - t0
        assert r.returncode == 0, f"QEMU exit {r.returncode}: {r.stdout[-2000:]} {r.stderr[-2000:]}"
        status = [int(v) for v in results.read_text().split()]
        assert len(status) == len(self.lines), "the driver stopped before the end of the script"
        return status, wall


# ---------------------------------------------------------------- the sketch conversion driver


@pytest.fixture(scope="module")
def convert_run(tmp_path_factory, micro_speech_dir, shared_data, person_detection_dir):
    """Every conversion case of test_sketches_cpp.py, run once on the M4; checks read their part."""
    _qemu()
    folder = tmp_path_factory.mktemp("m4_convert")
    elf = m4_qemu_elf(folder, "sketch_convert", [CPP / "sketch_convert_main.cpp", LIB / "recognize_commands.cpp",
                                            LIB / "image_convert.cpp"])
    b = Batch(folder)
    checks: dict[str, list] = {"features": [], "recognize": [], "prepare": [], "mcu": [], "int8": [], "window": []}

    # int8 features: real clips' frontend output and every uint16 value, for four quantisations.
    cfg = AudioFrontendConfig()
    values = np.concatenate([frontend_uint16(load_clip(c, cfg.sample_rate, cfg.clip_samples), cfg).ravel()
                             for c in _clips(micro_speech_dir, shared_data)]).astype(np.uint16)
    values = np.concatenate([values, np.arange(0, 65536, dtype=np.uint16)])
    vin = b.file(values.astype("<u2").tobytes())
    quants = [_input_quant(micro_speech_dir / "micro_speech_quantized.tflite"),
              QuantParams(0.0390625, -128), QuantParams(0.1173, 5)]
    if KWS_MODEL.is_file():
        quants.append(_input_quant(KWS_MODEL))
    for qp in quants:
        bits = struct.unpack("<I", struct.pack("<f", qp.scale))[0]
        out = b.out()
        i = b.add("features", vin, out, cfg.feature_scale_numerator, cfg.feature_scale_denominator, hex(bits),
                  qp.zero_point)
        checks["features"].append((i, out, frontend_to_int8(values, qp, cfg)))

    # Command recognizer: the host test's scripted score sequences and settings.
    for rc in (RecognizerConfig(),
               RecognizerConfig(average_window_ms=500, detection_threshold=170, suppression_ms=700, minimum_count=2),
               RecognizerConfig(average_window_ms=2000, detection_threshold=120, suppression_ms=300,
                                minimum_count=10)):
        seq = _scripted_scores(np.random.default_rng(7), 5)
        py = CommandRecognizer(rc, 5, ignore=(0, 1))
        want = []
        for t, s in seq:
            d = py.process(t, s.astype(np.int8))
            want.append(f"{t} {d.top_index} {d.top_score} {int(d.is_new)} {d.count}")
        stdin = b.file("\n".join(f"{t} " + " ".join(str(int(v)) for v in s) for t, s in seq) + "\n", ".txt")
        out = b.out()
        i = b.add("recognize", rc.average_window_ms, rc.detection_threshold, rc.suppression_ms, rc.minimum_count, 5,
                  "0x3", stdin=stdin, stdout=out)
        checks["recognize"].append((i, out, want))
    out = b.out()
    i = b.add("recognize", 1000, 200, 1500, 0, 4, 0, stdin=b.file("", ".txt"), stdout=out)
    checks["recognize"].append((i, out, ["bad-settings"]))

    # Frames to model pixels: real photos, four frame sizes, four pixel formats, gray and RGB.
    images = _real_images(shared_data, person_detection_dir)
    for k, rgb in enumerate(images):
        for (w, h) in ((160, 120), (176, 144), (96, 96), (75, 130)):
            frame = _camera_frame(rgb, w, h)
            raws = {"rgb565_be": rgb888_to_rgb565(frame, "big"), "rgb565_le": rgb888_to_rgb565(frame, "little"),
                    "gray8": prepare_frame(frame, w, h, 1).tobytes(), "rgb888": frame.tobytes()}
            for fmt, raw in raws.items():
                if fmt == "rgb888":
                    pixels = frame
                elif fmt == "gray8":
                    pixels = decode_frame(raw, "gray8", w, h)
                else:
                    pixels = decode_frame(raw, "rgb565", w, h, byte_order="big" if fmt.endswith("be") else "little")
                src = b.file(raw)
                for channels in (1, 3):
                    out = b.out()
                    i = b.add("prepare", src, w, h, FMT[fmt], channels, 96, 96, out)
                    checks["prepare"].append((i, out, prepare_frame(pixels, 96, 96, channels), f"{k} {w}x{h} {fmt}"))

    # JPEG blocks as JPEGDecoder hands them out, placed and converted.
    for k, rgb in enumerate(images[:4]):
        for (w, h) in ((176, 144), (170, 130)):
            buf = io.BytesIO()
            Image.fromarray(_camera_frame(rgb, w, h)).save(buf, "JPEG", quality=80)
            le = rgb888_to_rgb565(decode_frame(buf.getvalue(), "jpeg", w, h), "little")
            src = b.file(_mcu_blocks(np.frombuffer(le, dtype="<u2").reshape(h, w)))
            for channels in (1, 3):
                want = prepare_frame(decode_frame(le, "rgb565", w, h, byte_order="little"), 96, 96, channels)
                out = b.out()
                i = b.add("mcu", src, w, h, FMT["gray8"] if channels == 1 else FMT["rgb888"], channels, 96, 96, out)
                checks["mcu"].append((i, out, want, f"{k} {w}x{h}"))

    # Pixels through the int8 table.
    t = read_tflite(person_detection_dir / "person_detect.tflite").input
    pixels = np.arange(256 * 40, dtype=np.uint32).astype(np.uint8)[::-1].copy()
    pin = b.file(pixels.tobytes())
    for scale, zp in ((float(t.scales[0]), int(t.zero_points[0])), (0.0123, 7)):
        table = pixel_to_int8_table(scale, zp)
        out = b.out()
        i = b.add("int8", pin, b.file(table.tobytes()), out)
        checks["int8"].append((i, out, pixels_to_int8(pixels, table)))

    # The feature window: the host test's cases.
    for frames, size, zp, every, n in WINDOW_CASES:
        data, want, _ = _window_case(frames, size, every, n, seed=frames + every + n)
        out = b.out()
        i = b.add("window", b.file(data), frames, size, zp, every, out)
        checks["window"].append((i, out, want))

    status, wall = b.run(elf)
    print(f"\nCortex-M4 (QEMU mps2-an386) sketch conversion: {len(b.lines)} cases in {wall:.1f} s")
    return status, checks, len(b.lines), wall


def test_m4_int8_features_bit_exact(convert_run):
    status, checks, _, _ = convert_run
    assert len(checks["features"]) >= 3
    for i, out, want in checks["features"]:
        assert status[i] == 0
        got = np.frombuffer(out.read_bytes(), dtype=np.int8)
        assert got.shape == want.shape and np.array_equal(got, want), f"{(got != want).sum()} values differ"


def test_m4_recognizer_same_decisions(convert_run):
    status, checks, _, _ = convert_run
    for i, out, want in checks["recognize"]:
        assert status[i] == 0
        assert out.read_text().split("\n")[:-1] == want


def test_m4_prepare_frame_bit_exact(convert_run):
    status, checks, _, _ = convert_run
    assert len(checks["prepare"]) >= 4 * 16 * 2
    for i, out, want, what in checks["prepare"]:
        assert status[i] == 0, what
        got = np.frombuffer(out.read_bytes(), dtype=np.uint8).reshape(want.shape)
        assert np.array_equal(got, want), f"{what}: {(got != want).sum()} values differ"


def test_m4_jpeg_blocks_bit_exact(convert_run):
    status, checks, _, _ = convert_run
    for i, out, want, what in checks["mcu"]:
        assert status[i] == 0, what
        got = np.frombuffer(out.read_bytes(), dtype=np.uint8).reshape(want.shape)
        assert np.array_equal(got, want), f"{what}: {(got != want).sum()} values differ"


def test_m4_feature_window(convert_run):
    status, checks, _, _ = convert_run
    assert len(checks["window"]) >= 4
    for i, out, want in checks["window"]:
        assert status[i] == 0
        got = np.frombuffer(out.read_bytes(), dtype=np.int8)
        assert got.shape == want.shape and np.array_equal(got, want)


def test_m4_pixel_table(convert_run):
    status, checks, _, _ = convert_run
    for i, out, want in checks["int8"]:
        assert status[i] == 0
        assert np.array_equal(np.frombuffer(out.read_bytes(), dtype=np.int8), want)


# ---------------------------------------------------------------- the frame codec driver


@pytest.fixture(scope="module")
def codec_run(tmp_path_factory):
    """Every codec case of test_board_cpp.py (and the timing summary), run once on the M4."""
    _qemu()
    folder = tmp_path_factory.mktemp("m4_codec")
    elf = m4_qemu_elf(folder, "board_codec", [CPP / "board_codec_main.cpp", LIB / "frame_codec.cpp",
                                         LIB / "kit_timing.cpp"])
    b = Batch(folder)
    cases: dict[str, list] = {"crc": [], "encode": [], "decode": [], "timing": []}
    out = b.out()
    cases["crc"].append((b.add("crc", stdout=out), out))
    out = b.out()
    cases["encode"].append((b.add("encode", stdout=out), out))
    for seed in (1, 2, 3):
        stream, good = _command_stream(seed)
        out = b.out()
        cases["decode"].append((b.add("decode", stdin=b.file(stream), stdout=out), out, stream, good))
    for values in timing_cases():
        out = b.out()
        i = b.add("timing", 1, 1, 64000000, "m4", stdin=b.file("\n".join(map(str, values)), ".txt"), stdout=out)
        cases["timing"].append((i, out, values))
    status, wall = b.run(elf)
    print(f"\nCortex-M4 (QEMU mps2-an386) frame codec: {len(b.lines)} cases in {wall:.1f} s")
    return status, cases


def test_m4_crc_and_frames_equal_python_byte_for_byte(codec_run):
    status, cases = codec_run
    (i, out), = cases["crc"]
    assert status[i] == 0 and int(out.read_text().strip(), 16) == 0xCBF43926
    (i, out), = cases["encode"]
    assert status[i] == 0, "a codec call on the M4 returned something unexpected (limits, refusals)"
    expected = _expected_messages()
    assert out.read_bytes() == b"".join(p.message_frame(m, k) for k, m in enumerate(expected))


def test_m4_decoder_recovers_like_python(codec_run):
    status, cases = codec_run
    for i, out, stream, good in cases["decode"]:
        assert status[i] == 0
        lines = out.read_text().splitlines()
        assert [tuple(int(v) for v in ln.split()[1:]) for ln in lines if ln.startswith("CMD")] == good
        frames, dropped, crc_errors, bad_lengths, unknown = (int(v) for v in lines[-1].split()[1:])
        parser = p.FrameParser()
        parser.feed(stream)
        s = parser.stats
        assert (frames, dropped, crc_errors, bad_lengths, unknown) == (
            s.frames, s.dropped_bytes, s.crc_errors, s.bad_lengths, s.unknown_types)


def test_m4_timing_summary(codec_run):
    status, cases = codec_run
    for i, out, values in cases["timing"]:
        assert status[i] == 0
        (frame,) = p.FrameParser().feed(out.read_bytes())
        t = p.decode_message(frame)
        assert (t.runs, t.min_us, t.median_us, t.max_us, t.mean_us) == timing_reference(values)
