"""WAV files in and out: validated reading, atomic writing that never overwrites, resampling, length."""
from __future__ import annotations

import io
import os
import wave
from math import gcd
from pathlib import Path

import numpy as np

from ..errors import KitError
from ..files import atomic_write_bytes, save_new_file

__all__ = [
    "WavError",
    "WavInfo",
    "wav_info",
    "read_wav",
    "load_clip",
    "write_wav",
    "wav_bytes",
    "resample",
    "fit_length",
]


class WavError(KitError, ValueError):
    """A file that is not a WAV the kit can use; the message names the file and says what is wrong."""


class WavInfo(tuple):
    """(sample_rate, channels, sample_width_bytes, frames) of a WAV file."""

    __slots__ = ()

    def __new__(cls, rate: int, channels: int, width: int, frames: int) -> "WavInfo":
        return super().__new__(cls, (rate, channels, width, frames))

    rate = property(lambda self: self[0])
    channels = property(lambda self: self[1])
    width = property(lambda self: self[2])
    frames = property(lambda self: self[3])


def _open(path: Path) -> wave.Wave_read:
    if not path.is_file():
        raise WavError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise WavError(f"{path}: the file is empty (0 bytes); record or copy it again")
    try:
        return wave.open(str(path), "rb")
    except (wave.Error, EOFError) as e:
        head = path.read_bytes()[:4]
        if head != b"RIFF":
            raise WavError(f"{path}: not a WAV file (it starts with {head!r}, a WAV starts with b'RIFF')") from None
        raise WavError(f"{path}: damaged or unsupported WAV header ({e}); only 16-bit PCM WAV is read") from None


def wav_info(path: str | os.PathLike[str]) -> WavInfo:
    """Rate, channels, sample width and frame count of a WAV file, without reading the samples."""
    path = Path(path)
    with _open(path) as w:
        return WavInfo(w.getframerate(), w.getnchannels(), w.getsampwidth(), w.getnframes())


def read_wav(path: str | os.PathLike[str], expected_rate: int | None = 16000, *,
             allow_resample: bool = False, allow_stereo: bool = False) -> tuple[np.ndarray, int]:
    """Read a 16-bit PCM WAV as float32 in [-1, 1); checks rate, channels, width and data length.

    With ``allow_resample`` a file at another rate is converted to ``expected_rate``; with
    ``allow_stereo`` the channels are averaged. Otherwise those are errors naming the file.
    """
    path = Path(path)
    with _open(path) as w:
        rate, channels, width, frames = w.getframerate(), w.getnchannels(), w.getsampwidth(), w.getnframes()
        raw = w.readframes(frames)
    if width != 2:
        raise WavError(f"{path}: samples are {8 * width}-bit; the kit reads 16-bit PCM "
                       f"(convert with: sox IN.wav -b 16 OUT.wav)")
    if channels != 1 and not allow_stereo:
        raise WavError(f"{path}: {channels} channels; the kit reads mono clips "
                       f"(convert with: sox IN.wav -c 1 OUT.wav)")
    expected_bytes = frames * channels * width
    if len(raw) < expected_bytes:
        raise WavError(f"{path}: truncated: the header promises {frames} frames but the data holds "
                       f"{len(raw) // (channels * width)}")
    if frames == 0:
        raise WavError(f"{path}: the WAV holds no samples")
    x = np.frombuffer(raw[:expected_bytes], dtype="<i2").astype(np.float32) / 32768.0
    if channels != 1:
        x = x.reshape(-1, channels).mean(axis=1)
    if expected_rate is not None and rate != expected_rate:
        if not allow_resample:
            raise WavError(f"{path}: sample rate {rate} Hz, expected {expected_rate} Hz "
                           f"(convert with: sox IN.wav -r {expected_rate} OUT.wav, or read with allow_resample=True)")
        x = resample(x, rate, expected_rate)
        rate = expected_rate
    return x.astype(np.float32), rate


def resample(x: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Change the sample rate with a polyphase filter (scipy)."""
    if rate_in == rate_out:
        return np.asarray(x, dtype=np.float32)
    from scipy.signal import resample_poly

    g = gcd(rate_in, rate_out)
    return resample_poly(np.asarray(x, dtype=np.float64), rate_out // g, rate_in // g).astype(np.float32)


def fit_length(x: np.ndarray, n: int) -> np.ndarray:
    """Pad with zeros at the end, or cut at the end, to exactly ``n`` samples."""
    x = np.asarray(x, dtype=np.float32)
    if len(x) >= n:
        return x[:n]
    return np.pad(x, (0, n - len(x)))


def load_clip(path: str | os.PathLike[str], sample_rate: int = 16000, samples: int = 16000, *,
              allow_resample: bool = False) -> np.ndarray:
    """Read one keyword clip: validated, padded or trimmed to exactly ``samples`` samples."""
    x, _ = read_wav(path, sample_rate, allow_resample=allow_resample)
    return fit_length(x, samples)


def wav_bytes(x: np.ndarray, sample_rate: int = 16000) -> bytes:
    """Encode float samples in [-1, 1] (or int16) as a 16-bit mono PCM WAV file's bytes."""
    x = np.asarray(x)
    if x.dtype != np.int16:
        x = np.clip(np.round(np.asarray(x, dtype=np.float64) * 32768.0), -32768, 32767).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(x.astype("<i2").tobytes())
    return buf.getvalue()


def write_wav(path: str | os.PathLike[str], x: np.ndarray, sample_rate: int = 16000, *,
              overwrite: bool = False) -> Path:
    """Write a mono 16-bit WAV atomically; refuses to replace an existing file unless ``overwrite``."""
    data = wav_bytes(x, sample_rate)
    if overwrite:
        return atomic_write_bytes(path, data)
    return save_new_file(path, data)
