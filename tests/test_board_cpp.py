"""The sketches' C++ frame codec, compiled on the host with g++, against the Python reader and writer."""
from __future__ import annotations

import random
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tinymlkit.board import protocol as p

from cpp_build import CPP, LIB, arm_tool, host_program, m4_objects

MAIN = CPP / "board_codec_main.cpp"


@pytest.fixture(scope="module")
def codec(tmp_path_factory) -> Path:
    """The host test program, built with warnings as errors."""
    exe = tmp_path_factory.mktemp("board_cpp") / "board_codec"
    return host_program([MAIN, LIB / "frame_codec.cpp", LIB / "kit_timing.cpp"], exe, optimize=False)


def _expected_messages() -> list[p.Message]:
    """The values board_codec_main.cpp encodes, computed independently here."""
    samples = ((np.arange(16000, dtype=np.uint32) * 7919) & 0xFFFF).astype(np.uint16).astype("<u2").tobytes()
    rgb = bytes(((j * 31 + 7) & 0xFF) for j in range(160 * 120 * 2))
    gray = bytes(((j ^ (j >> 8)) & 0xFF) for j in range(96 * 96))
    return [
        p.Hello(0x1A2B3C4D, "nano33 capture", 7, 16000, 16000, 160, 120, p.PIXEL_FORMATS["RGB565_BE"]),
        p.AudioClip(16000, samples),
        p.ImageFrame(160, 120, p.PIXEL_FORMATS["RGB565_BE"], rgb),
        p.ImageFrame(96, 96, p.PIXEL_FORMATS["GRAY8"], gray),
        p.InferenceResult(123456, 7890, 2, 200, bytes([10, 20, 200, 25]), "yes"),
        p.LogLine(p.LOG_LEVELS["INFO"], "hello from C++"),
        p.BoardError(p.ERROR_CODES["SENSOR"], "camera not found"),
        p.Status(p.COMMANDS["CAPTURE_AUDIO"], p.STATUS_STATES["DONE"], 20),
        p.Command(p.COMMANDS["CAPTURE_IMAGE"], 5),
    ]


def test_cpp_crc_matches_zlib(codec):
    out = subprocess.run([codec, "crc"], capture_output=True, text=True, check=True).stdout.strip()
    assert int(out, 16) == p.crc32(b"123456789") == 0xCBF43926


def test_cpp_frames_decode_in_python_and_equal_python_frames_byte_for_byte(codec):
    r = subprocess.run([codec, "encode"], capture_output=True)
    assert r.returncode == 0, r.stderr.decode()
    parser = p.FrameParser()
    frames = parser.feed(r.stdout)
    assert parser.stats.clean and parser.pending == 0
    expected = _expected_messages()
    assert [p.decode_message(f) for f in frames] == expected
    assert [f.seq for f in frames] == list(range(len(expected)))
    python_bytes = b"".join(p.message_frame(m, i) for i, m in enumerate(expected))
    assert r.stdout == python_bytes


def _command_stream(seed: int) -> tuple[bytes, list[tuple[int, int, int]]]:
    """Python-written commands with every kind of damage between them; returns bytes and the good ones."""
    rng = random.Random(seed)
    out = bytearray()
    good: list[tuple[int, int, int]] = []
    seq = 0
    for k in range(40):
        op = rng.choice(list(p.COMMANDS.values()))
        arg = rng.randrange(0, 2**32)
        frame = bytearray(p.message_frame(p.Command(op, arg), seq))
        damage = rng.choice(["none", "none", "garbage", "bad_crc", "cut", "too_long", "unknown"])
        if damage == "garbage":
            junk = bytearray(rng.randbytes(rng.randint(1, 60)))
            junk[rng.randrange(len(junk))] = p.SYNC[0]
            out += junk
        if damage == "bad_crc":
            frame[9] ^= 0x10
        elif damage == "cut":
            frame = frame[: rng.randint(3, len(frame) - 1)]
        elif damage == "too_long":
            frame[4:8] = struct.pack("<I", 100000)
        elif damage == "unknown":
            frame[2] = 0x6F
        out += frame
        if damage in ("none", "garbage"):
            good.append((seq, op, arg))
        seq = (seq + 1) & 0xFF
    out += p.message_frame(p.Command(p.COMMANDS["STOP"], 0), seq)  # end on a whole frame
    good.append((seq, p.COMMANDS["STOP"], 0))
    return bytes(out), good


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_python_commands_decode_in_cpp_with_the_same_recovery_as_python(codec, seed):
    stream, good = _command_stream(seed)
    r = subprocess.run([codec, "decode"], input=stream, capture_output=True, check=True)
    lines = r.stdout.decode().splitlines()
    cmds = [tuple(int(v) for v in ln.split()[1:]) for ln in lines if ln.startswith("CMD")]
    assert cmds == good
    assert not [ln for ln in lines if ln.startswith("FRAME")]
    frames, dropped, crc_errors, bad_lengths, unknown = (int(v) for v in lines[-1].split()[1:])

    parser = p.FrameParser()
    py = parser.feed(stream)
    assert [(f.seq, *struct.unpack_from("<B3xI", f.payload)) for f in py] == good
    s = parser.stats
    assert (frames, crc_errors, bad_lengths, unknown) == (s.frames, s.crc_errors, s.bad_lengths, s.unknown_types)
    assert parser.pending == 0 and dropped == s.dropped_bytes


def test_codec_compiles_for_the_boards_cortex_m4(tmp_path):
    size_tool = arm_tool("size")
    (obj,) = m4_objects([LIB / "frame_codec.cpp"], tmp_path, [LIB])
    size = subprocess.run([size_tool, str(obj)], capture_output=True, text=True, check=True).stdout
    text_bytes = int(size.splitlines()[1].split()[0])
    assert text_bytes < 4096, f"frame codec takes {text_bytes} bytes of flash"


def test_library_has_no_arduino_headers():
    for f in LIB.iterdir():
        if f.suffix in (".h", ".cpp"):
            src = f.read_text(encoding="utf-8")
            assert "Arduino.h" not in src and "#include <Arduino" not in src, f


def timing_reference(values: list[int], max_samples: int = 64) -> tuple[int, int, int, int, int]:
    """(runs, min, lower median of the first ``max_samples``, max, mean rounded down): kit_timing.h's summary."""
    held = sorted(values[:max_samples])
    return len(values), min(values), held[(len(held) - 1) // 2], max(values), sum(values) // len(values)


def timing_cases() -> list[list[int]]:
    """Run times to summarise: one run, an even and an odd count, more runs than the board holds, big values."""
    rng = random.Random(5)
    return [[1234], [30, 10, 20, 40], [7, 3, 9, 1, 5], [rng.randrange(9000, 15000) for _ in range(150)],
            [4_000_000_000, 5, 4_100_000_000]]


@pytest.mark.parametrize("values", timing_cases(), ids=lambda v: f"{len(v)}runs")
def test_timing_summary_frame_matches_python(codec, values):
    r = subprocess.run([codec, "timing", "1", "2", "64000000", "kws_features"],
                       input="\n".join(map(str, values)).encode(), capture_output=True, check=False)
    assert r.returncode == 0, r.stderr.decode()
    frames = p.FrameParser().feed(r.stdout)
    assert len(frames) == 1
    t = p.decode_message(frames[0])
    assert isinstance(t, p.Timing) and not t.is_estimate and t.step_name == "FEATURES"
    assert (t.runs, t.min_us, t.median_us, t.max_us, t.mean_us) == timing_reference(values)
    assert t.clock_hz == 64_000_000 and t.note == "kws_features"
