"""The sketches' board-independent C++ (TinyMLKit library), built with g++, against the Python of the same step.

Bit-exact for the integer steps (int8 features on real clips' frontend output, image conversion on
real images); the same decisions for the command recognizer on a scripted score sequence.
"""
from __future__ import annotations

import io
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tinymlkit.audio.features import frontend_to_int8, frontend_uint16
from tinymlkit.audio.wav import load_clip
from tinymlkit.config import AudioFrontendConfig, QuantParams, RecognizerConfig
from tinymlkit.recognizer import CommandRecognizer
from tinymlkit.streaming import window_ends
from tinymlkit.tflite_file import read_tflite
from tinymlkit.vision.int8_input import pixel_to_int8_table, pixels_to_int8
from tinymlkit.vision.pixels import decode_frame, rgb888_to_rgb565
from tinymlkit.vision.preprocess import prepare_frame

from cpp_build import CPP, LIB, ROOT, host_program

MAIN = CPP / "sketch_convert_main.cpp"
KWS_MODEL = ROOT / "arduino_sketches" / "kws" / "model" / "model_int8.tflite"
FMT = {"gray8": 1, "rgb565_be": 2, "rgb565_le": 3, "rgb888": 16}


@pytest.fixture(scope="module")
def tool(tmp_path_factory) -> Path:
    """The host driver, built with the board's language flags and warnings as errors."""
    exe = tmp_path_factory.mktemp("sketch_cpp") / "sketch_convert"
    return host_program([MAIN, LIB / "recognize_commands.cpp", LIB / "image_convert.cpp"], exe)


# ---------------------------------------------------------------- int8 features


def _clips(micro_speech_dir: Path, shared_data: Path) -> list[Path]:
    clips = sorted(micro_speech_dir.glob("*_1000ms.wav"))
    sc = shared_data / "speech_commands_v0.02_test_dev"
    for word in ("yes", "no", "left", "_background_noise_"):
        clips += sorted((sc / word).glob("*.wav"))[:2]
    return clips


def _input_quant(path: Path) -> QuantParams:
    t = read_tflite(path).input
    return QuantParams(float(t.scales[0]), int(t.zero_points[0]))


def test_int8_features_bit_exact_on_real_clips(tool, tmp_path, micro_speech_dir, shared_data):
    cfg = AudioFrontendConfig()
    clips = _clips(micro_speech_dir, shared_data)
    assert len(clips) >= 8
    values = np.concatenate([frontend_uint16(load_clip(c, cfg.sample_rate, cfg.clip_samples), cfg).ravel()
                             for c in clips]).astype(np.uint16)
    # Every value the frontend can give too, so saturation and every rounding case are covered.
    values = np.concatenate([values, np.arange(0, 65536, dtype=np.uint16)])
    inp = tmp_path / "v.u16"
    inp.write_bytes(values.astype("<u2").tobytes())
    quants = [_input_quant(micro_speech_dir / "micro_speech_quantized.tflite"),
              QuantParams(0.0390625, -128), QuantParams(0.1173, 5)]
    if KWS_MODEL.is_file():
        quants.append(_input_quant(KWS_MODEL))
    for qp in quants:
        bits = struct.unpack("<I", struct.pack("<f", qp.scale))[0]
        out = tmp_path / "q.i8"
        subprocess.run([tool, "features", inp, out, str(cfg.feature_scale_numerator),
                        str(cfg.feature_scale_denominator), hex(bits), str(qp.zero_point)], check=True)
        got = np.frombuffer(out.read_bytes(), dtype=np.int8)
        want = frontend_to_int8(values, qp, cfg)
        assert got.shape == want.shape
        diff = np.flatnonzero(got != want)
        assert diff.size == 0, f"scale {qp.scale}: {diff.size} values differ, first v={values[diff[0]]}"
        if qp is quants[0]:  # with the reference model's scale the clips span many int8 values, not one
            assert len(set(want[: -65536].tolist())) > 20


# ---------------------------------------------------------------- feature window


WINDOW_CASES = ((49, 40, -128, 1, 130), (49, 40, -128, 2, 131), (49, 40, 5, 3, 200), (10, 8, 0, 60, 200),
                (49, 40, -128, 2, 30))
"""(frames, size, zero point, every, frames pushed): the kws window, others, one longer than the stream."""


def _window_case(frames: int, size: int, every: int, n: int, seed: int) -> tuple[bytes, np.ndarray, int]:
    """Random int8 frames, and the windows the model must see: the ones tinymlkit.streaming scores."""
    x = np.random.default_rng(seed).integers(-128, 128, (n, size)).astype(np.int8)
    ends = window_ends(n, frames, every)
    want = np.concatenate([x[e - frames:e].ravel() for e in ends]) if ends else np.zeros(0, np.int8)
    return x.tobytes(), want, len(ends)


@pytest.mark.parametrize("case", WINDOW_CASES)
def test_feature_window_runs_the_model_on_the_windows_python_scores(tool, tmp_path, case):
    frames, size, zp, every, n = case
    data, want, runs = _window_case(frames, size, every, n, seed=frames + every + n)
    (tmp_path / "in").write_bytes(data)
    subprocess.run([tool, "window", tmp_path / "in", str(frames), str(size), str(zp), str(every), tmp_path / "out"],
                   check=True)
    got = np.frombuffer((tmp_path / "out").read_bytes(), dtype=np.int8)
    assert got.shape == want.shape and np.array_equal(got, want)
    assert runs == (0 if n < frames else 1 + (n - frames) // every)


# ---------------------------------------------------------------- command recognizer


def _scripted_scores(rng: np.random.Generator, n_labels: int) -> list[tuple[int, np.ndarray]]:
    """Silence with keyword bursts of several lengths and strengths, steps of 20-60 ms, a pause."""
    t, seq = 0, []
    for burst in range(14):
        for _ in range(int(rng.integers(5, 40))):  # background: silence on top
            s = rng.integers(0, 40, n_labels)
            s[0] = 255 - s[1:].sum() // 2
            seq.append((t, s))
            t += int(rng.choice([20, 20, 40, 60]))
        word = 2 + burst % (n_labels - 2) if burst % 5 else 1  # sometimes 'unknown'
        long = burst % 3 == 0  # a clear, held word; the others are short or weak
        strength = int(rng.integers(230, 256)) if long else int(rng.integers(150, 256))
        for _ in range(int(rng.integers(55, 80)) if long else int(rng.integers(3, 45))):
            s = rng.integers(0, 30, n_labels)
            s[word] = min(255, strength + int(rng.integers(-30, 30)))
            seq.append((t, s))
            t += 20
        if burst == 7:
            t += 5000  # a long pause: the window empties
    return [(time, np.clip(s, 0, 255).astype(np.int16) - 128) for time, s in seq]


@pytest.mark.parametrize("cfg", [RecognizerConfig(),
                                 RecognizerConfig(average_window_ms=500, detection_threshold=170, suppression_ms=700,
                                                  minimum_count=2),
                                 RecognizerConfig(average_window_ms=2000, detection_threshold=120, suppression_ms=300,
                                                  minimum_count=10)])
def test_recognizer_same_decisions_as_python(tool, cfg):
    n_labels = 5
    seq = _scripted_scores(np.random.default_rng(7), n_labels)
    py = CommandRecognizer(cfg, n_labels, ignore=(0, 1))
    want = []
    for t, s in seq:
        d = py.process(t, s.astype(np.int8))
        want.append(f"{t} {d.top_index} {d.top_score} {int(d.is_new)} {d.count}")
    stdin = "\n".join(f"{t} " + " ".join(str(int(v)) for v in s) for t, s in seq) + "\n"
    r = subprocess.run([tool, "recognize", str(cfg.average_window_ms), str(cfg.detection_threshold),
                        str(cfg.suppression_ms), str(cfg.minimum_count), str(n_labels), "0x3"],
                       input=stdin, capture_output=True, text=True, check=True)
    got = r.stdout.split("\n")[:-1]
    assert got == want
    news = [w for w in want if w.split()[3] == "1"]
    assert 3 <= len(news) < len(seq) // 4  # it reports commands, and not on every result
    assert any(w.split()[1] == "-1" for w in want)  # the window emptied in the pause


def test_recognizer_rejects_bad_settings(tool):
    r = subprocess.run([tool, "recognize", "1000", "200", "1500", "0", "4", "0"], input="",
                       capture_output=True, text=True, check=True)
    assert r.stdout.strip() == "bad-settings"


# ---------------------------------------------------------------- images


def _real_images(shared_data: Path, person_detection_dir: Path) -> list[np.ndarray]:
    paths = sorted((shared_data / "people_smoke").rglob("*.jpg"))[:4] + sorted(person_detection_dir.glob("*.bmp"))
    out = []
    for p in paths:
        img = Image.open(p)
        img.draft("RGB", (400, 400))  # JPEG: decode small, quickly
        out.append(np.asarray(img.convert("RGB"), dtype=np.uint8))
    return out


def _camera_frame(rgb: np.ndarray, w: int, h: int) -> np.ndarray:
    """A real photo at a camera's frame size (the input; how it was made does not matter)."""
    return np.asarray(Image.fromarray(rgb).resize((w, h), Image.Resampling.BILINEAR), dtype=np.uint8)


@pytest.mark.parametrize("channels", [1, 3])
def test_prepare_frame_bit_exact_on_real_images(tool, tmp_path, shared_data, person_detection_dir, channels):
    images = _real_images(shared_data, person_detection_dir)
    assert len(images) >= 4
    n = 0
    for k, rgb in enumerate(images):
        for (w, h) in ((160, 120), (176, 144), (96, 96), (75, 130)):
            frame = _camera_frame(rgb, w, h)
            raws = {
                "rgb565_be": rgb888_to_rgb565(frame, "big"),
                "rgb565_le": rgb888_to_rgb565(frame, "little"),
                "gray8": prepare_frame(frame, w, h, 1).tobytes(),  # a grayscale camera frame
                "rgb888": frame.tobytes(),
            }
            for fmt, raw in raws.items():
                if fmt == "rgb888":
                    pixels = frame
                elif fmt == "gray8":
                    pixels = decode_frame(raw, "gray8", w, h)
                else:
                    pixels = decode_frame(raw, "rgb565", w, h, byte_order="big" if fmt.endswith("be") else "little")
                want = prepare_frame(pixels, 96, 96, channels)
                src, dst = tmp_path / "frame.raw", tmp_path / "out.raw"
                src.write_bytes(raw)
                subprocess.run([tool, "prepare", src, str(w), str(h), str(FMT[fmt]), str(channels), "96", "96", dst],
                               check=True)
                got = np.frombuffer(dst.read_bytes(), dtype=np.uint8).reshape(96, 96, channels)
                assert np.array_equal(got, want), f"image {k} {w}x{h} {fmt}: {(got != want).sum()} values differ"
                n += 1
    assert n == len(images) * 16


def _mcu_blocks(rgb565_le: np.ndarray, bw: int = 16, bh: int = 16) -> bytes:
    """The frame as JPEGDecoder hands it out: full-size blocks (edge blocks padded), row by row."""
    h, w = rgb565_le.shape
    out = bytearray()
    for y in range(0, h, bh):
        for x in range(0, w, bw):
            block = np.full((bh, bw), 0xF81F, dtype=np.uint16)  # padding the board must clip away
            part = rgb565_le[y:y + bh, x:x + bw]
            block[:part.shape[0], :part.shape[1]] = part
            out += struct.pack("<4i", x, y, bw, bh) + block.astype("<u2").tobytes()
    return bytes(out)


@pytest.mark.parametrize("channels", [1, 3])
def test_jpeg_blocks_placed_and_converted_bit_exact(tool, tmp_path, shared_data, person_detection_dir, channels):
    for k, rgb in enumerate(_real_images(shared_data, person_detection_dir)[:4]):
        for (w, h) in ((176, 144), (170, 130)):
            buf = io.BytesIO()
            Image.fromarray(_camera_frame(rgb, w, h)).save(buf, "JPEG", quality=80)  # the Arducam's JPEG
            decoded = decode_frame(buf.getvalue(), "jpeg", w, h)
            le = rgb888_to_rgb565(decoded, "little")  # what JPEGDecoder gives: RGB565, native order
            want = prepare_frame(decode_frame(le, "rgb565", w, h, byte_order="little"), 96, 96, channels)
            src, dst = tmp_path / "mcu.raw", tmp_path / "out.raw"
            src.write_bytes(_mcu_blocks(np.frombuffer(le, dtype="<u2").reshape(h, w)))
            frame_fmt = FMT["gray8"] if channels == 1 else FMT["rgb888"]
            subprocess.run([tool, "mcu", src, str(w), str(h), str(frame_fmt), str(channels), "96", "96", dst],
                           check=True)
            got = np.frombuffer(dst.read_bytes(), dtype=np.uint8).reshape(96, 96, channels)
            assert np.array_equal(got, want), f"image {k} {w}x{h}: {(got != want).sum()} values differ"


def test_pixels_to_int8_table_lookup_matches_python(tool, tmp_path, person_detection_dir):
    t = read_tflite(person_detection_dir / "person_detect.tflite").input
    pixels = np.arange(256 * 40, dtype=np.uint32).astype(np.uint8)[::-1].copy()
    for scale, zp in ((float(t.scales[0]), int(t.zero_points[0])), (0.0123, 7)):
        table = pixel_to_int8_table(scale, zp)
        (tmp_path / "t").write_bytes(table.tobytes())
        (tmp_path / "p").write_bytes(pixels.tobytes())
        subprocess.run([tool, "int8", tmp_path / "p", tmp_path / "t", tmp_path / "o"], check=True)
        got = np.frombuffer((tmp_path / "o").read_bytes(), dtype=np.int8)
        assert np.array_equal(got, pixels_to_int8(pixels, table))
