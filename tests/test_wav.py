"""WAV reading and writing: validation with clear errors, no overwriting, resampling, augmentation."""
from __future__ import annotations

import wave

import numpy as np
import pytest

from tinymlkit.audio.augment import augment_clip, loudest_window, mix_at_snr, mix_background, time_shift
from tinymlkit.audio.wav import WavError, load_clip, read_wav, resample, wav_bytes, write_wav
from tinymlkit.config import KwsTaskConfig


def _write(path, rate=16000, channels=1, width=2, frames=16000):
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(b"\x01\x00" * (frames * channels * width // 2))
    return path


def test_round_trip(tmp_path):
    x = np.sin(np.linspace(0, 100, 16000)).astype(np.float32) * 0.5
    p = write_wav(tmp_path / "a.wav", x)
    y, rate = read_wav(p)
    assert rate == 16000 and y.dtype == np.float32 and len(y) == 16000
    assert np.max(np.abs(y - x)) < 1.0 / 32768 + 1e-6


@pytest.mark.parametrize("make, message", [
    (lambda p: _write(p, channels=2), "2 channels"),
    (lambda p: _write(p, rate=8000), "sample rate 8000 Hz, expected 16000"),
    (lambda p: p.write_bytes(b""), "empty"),
    (lambda p: p.write_bytes(_write(p).read_bytes()[:30]), "damaged or unsupported WAV header"),
    (lambda p: p.write_bytes(b"ID3\x04 this is an mp3, honest" * 10), "not a WAV file"),
    (lambda p: _write(p, width=1), "8-bit"),
])
def test_bad_files_name_the_file(tmp_path, make, message):
    p = tmp_path / "bad.wav"
    make(p)
    with pytest.raises(WavError) as e:
        read_wav(p)
    assert str(p) in str(e.value)
    assert message in str(e.value)


def test_truncated_data_is_reported(tmp_path):
    p = _write(tmp_path / "t.wav")
    p.write_bytes(p.read_bytes()[:1000])
    with pytest.raises(WavError, match="truncated"):
        read_wav(p)


def test_missing_file(tmp_path):
    with pytest.raises(WavError, match="no such file"):
        read_wav(tmp_path / "nope.wav")


def test_resample_on_request(tmp_path):
    p = write_wav(tmp_path / "a.wav", np.zeros(8000, np.float32), sample_rate=8000)
    x, rate = read_wav(p, 16000, allow_resample=True)
    assert rate == 16000 and len(x) == 16000


def test_resample_keeps_a_tone():
    t = np.arange(44100) / 44100
    y = resample(np.sin(2 * np.pi * 440 * t), 44100, 16000)
    spectrum = np.abs(np.fft.rfft(y))
    assert abs(np.argmax(spectrum) * 16000 / len(y) - 440) < 2


def test_load_clip_pads_and_trims(tmp_path):
    short = write_wav(tmp_path / "s.wav", np.full(1000, 0.5, np.float32))
    long = write_wav(tmp_path / "l.wav", np.full(20000, 0.5, np.float32))
    assert len(load_clip(short)) == 16000 and load_clip(short)[999] > 0.4 and load_clip(short)[1000] == 0
    assert len(load_clip(long)) == 16000


def test_never_overwrites(tmp_path):
    p = write_wav(tmp_path / "a.wav", np.zeros(100, np.float32))
    before = p.read_bytes()
    with pytest.raises(FileExistsError, match="never overwrites"):
        write_wav(p, np.ones(100, np.float32) * 0.1)
    assert p.read_bytes() == before
    assert [q.name for q in tmp_path.iterdir()] == ["a.wav"]  # no temporary file left behind


def test_wav_bytes_header():
    data = wav_bytes(np.zeros(10, np.float32))
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE" and len(data) == 44 + 20


def test_time_shift_and_noise():
    x = np.arange(10, dtype=np.float32)
    assert list(time_shift(x, 3)[:4]) == [0, 0, 0, 0] and time_shift(x, 3)[3] == 0 and time_shift(x, 3)[4] == 1
    assert list(time_shift(x, -2)[-2:]) == [0, 0] and time_shift(x, -2)[0] == 2
    noisy = mix_background(np.zeros(10, np.float32), np.ones(10, np.float32), 0.25)
    assert np.allclose(noisy, 0.25)
    rng = np.random.default_rng(0)
    s, n = rng.standard_normal(16000).astype(np.float32) * 0.1, rng.standard_normal(16000).astype(np.float32) * 0.1
    mixed = mix_at_snr(s, n, 10.0)
    snr = 10 * np.log10(np.mean(s.astype(np.float64) ** 2) / np.mean((mixed - s).astype(np.float64) ** 2))
    assert abs(snr - 10.0) < 0.1


def test_loudest_window_finds_the_word():
    x = np.zeros(48000, np.float32)
    x[30000:34000] = 0.8
    clip, start = loudest_window(x, 16000)
    assert len(clip) == 16000 and start <= 30000 and start + 16000 >= 34000


# --- Hostile headers: every allocation a header controls is bounded; every failure is a WavError ---------

def _riff(fmt_body: bytes, data: bytes, data_size: int | None = None) -> bytes:
    import struct

    fmt = b"fmt " + struct.pack("<I", len(fmt_body)) + fmt_body
    d = b"data" + struct.pack("<I", len(data) if data_size is None else data_size) + data
    body = b"WAVE" + fmt + d
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _fmt(rate: int = 16000, channels: int = 1, width: int = 2) -> bytes:
    import struct

    return struct.pack("<HHIIHH", 1, channels, rate, rate * channels * width, channels * width, 8 * width)


@pytest.mark.parametrize("cut", [8, 14])
def test_fmt_chunk_cut_short_is_a_wav_error_naming_the_file(tmp_path, cut):
    p = tmp_path / "cut.wav"
    p.write_bytes(_riff(_fmt()[:cut], b"\0\0" * 100))
    with pytest.raises(WavError, match="damaged or unsupported WAV header") as e:
        read_wav(p)
    assert str(p) in str(e.value)


def test_a_1_hz_header_is_refused_before_resampling(tmp_path):
    p = tmp_path / "one_hz.wav"
    p.write_bytes(_riff(_fmt(rate=1), b"\x01\x00" * 16000))
    with pytest.raises(WavError, match="sample rate 1 Hz in the header is outside"):
        read_wav(p, 16000, allow_resample=True)


def test_a_header_claiming_gigabytes_allocates_only_what_the_file_holds(tmp_path):
    import tracemalloc

    p = tmp_path / "liar.wav"
    p.write_bytes(_riff(_fmt(), b"\x01\x00" * 500, data_size=2**31 - 2))
    tracemalloc.start()
    try:
        with pytest.raises(WavError, match="truncated|claims"):
            read_wav(p)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * 2**20, f"reading a 1 KB file peaked at {peak / 2**20:.0f} MiB"


def test_odd_rates_resample_to_the_right_length(tmp_path):
    for rate in (44101, 383_999):
        x = np.sin(np.arange(rate // 4) * 2 * np.pi * 440 / rate).astype(np.float32) * 0.5
        p = write_wav(tmp_path / f"r{rate}.wav", x, sample_rate=rate)
        y, r = read_wav(p, 16000, allow_resample=True)
        assert r == 16000 and abs(len(y) - 4000) <= 1


def test_resample_advice_names_the_command_line_flag(tmp_path):
    p = write_wav(tmp_path / "a.wav", np.zeros(800, np.float32), sample_rate=8000)
    with pytest.raises(WavError, match="--resample"):
        read_wav(p, 16000)


def test_a_folder_and_control_characters_in_names(tmp_path):
    d = tmp_path / "clip.wav"
    d.mkdir()
    with pytest.raises(WavError, match="is a folder"):
        read_wav(d)
    evil = tmp_path / "x\x1b[2Jy.wav"
    evil.write_bytes(b"junk")
    with pytest.raises(WavError) as e:
        read_wav(evil)
    assert "\x1b" not in str(e.value) and "\\x1b[2Jy.wav" in str(e.value)


def test_augment_clip_shifts_and_adds_noise_to_training_words_only():
    sr, task = 16000, KwsTaskConfig(time_shift_ms=100, background_frequency=1.0, background_volume=0.1)
    word = np.zeros(sr, np.float32)
    word[7000:9000] = 0.5  # a burst in the middle: a shift moves it
    noise = [np.random.default_rng(1).uniform(-1, 1, 3 * sr).astype(np.float32)]
    # Validation and test words: untouched, and the random stream is not used.
    rng = np.random.default_rng(0)
    assert np.array_equal(augment_clip(word, False, noise, task, rng, sr, train=False), word)
    assert rng.random() == np.random.default_rng(0).random()
    # A training word: shifted by at most 100 ms, then noise up to 0.1 of full scale on top.
    shifts = []
    for seed in range(20):
        out = augment_clip(word, False, noise, task, np.random.default_rng(seed), sr, train=True)
        assert out.shape == word.shape and out.dtype == np.float32
        residual = out - word
        assert 0 < np.abs(residual[:5000]).max() <= 0.1 + 1e-6  # noise before the word, at most the volume
        shifts.append(int(np.argmax(np.convolve(out, np.ones(2000, np.float32), "valid"))) - 7000)
    assert max(abs(s) for s in shifts) <= 1600 + 10 and len(set(shifts)) > 5
    # Without background noise, a training word is only shifted.
    out = augment_clip(word, False, [], task, np.random.default_rng(3), sr, train=True)
    assert out.sum() == pytest.approx(word.sum()) and set(np.unique(out).tolist()) == {0.0, 0.5}
    # Silence, in any split: noise alone, at a volume up to full.
    silence = np.zeros(sr, np.float32)
    for train in (False, True):
        peaks = [float(np.abs(augment_clip(silence, True, noise, task, np.random.default_rng(s), sr, train)).max())
                 for s in range(10)]
        assert min(peaks) > 0 and max(peaks) > 0.1  # noise in every split, louder than a word's may be
