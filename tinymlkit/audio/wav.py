"""WAV files in and out: validated reading, atomic writing that never overwrites, resampling, length."""
from __future__ import annotations

import io
import os
import struct
import wave
from math import gcd
from pathlib import Path

import numpy as np

from ..errors import KitError, printable
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
    "MIN_RATE",
    "MAX_RATE",
    "MAX_FRAMES",
]

MIN_RATE = 1000
"""Lowest sample rate read (Hz): below it a header is damaged, not audio (and resampling it would explode)."""
MAX_RATE = 384000
"""Highest sample rate read (Hz), the top of what audio interfaces record."""
MAX_FRAMES = 1 << 25
"""Most frames read from one file (about 35 minutes at 16 kHz); bounds the memory a header can ask for."""
_MAX_RESAMPLE_FACTOR = 2000
"""Polyphase resampling of p/q with p or q above this builds a huge filter: an FFT resampler is used instead."""


class WavError(KitError, ValueError):
    """A file that is not a WAV the kit can use; the message names the file and says what is wrong."""

    def __init__(self, message: str) -> None:
        # Loaders print these as "skipped: ..." lines: a file name must not smuggle escape sequences in.
        super().__init__(printable(message))


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
    if path.is_dir():
        raise WavError(f"{path}: is a folder, not a WAV file")
    if not path.is_file():
        raise WavError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise WavError(f"{path}: the file is empty (0 bytes); record or copy it again")
    try:
        return wave.open(str(path), "rb")
    except (wave.Error, EOFError, struct.error, ValueError, OverflowError) as e:
        # struct.error/EOFError: a fmt chunk cut short; wave.Error: an unknown format.
        with open(path, "rb") as f:
            head = f.read(4)
        if head != b"RIFF":
            raise WavError(f"{path}: not a WAV file (it starts with {head!r}, a WAV starts with b'RIFF')") from None
        raise WavError(f"{path}: damaged or unsupported WAV header ({e or type(e).__name__}); only 16-bit PCM WAV "
                       "is read") from None
    except MemoryError:
        raise WavError(f"{path}: damaged WAV header (a chunk claims more memory than the file can hold)") from None


def _header(path: Path, w: wave.Wave_read) -> tuple[int, int, int, int]:
    """Rate, channels, width, frames, each checked against what the file on disk can really hold."""
    rate, channels, width, frames = w.getframerate(), w.getnchannels(), w.getsampwidth(), w.getnframes()
    if channels < 1:
        raise WavError(f"{path}: damaged WAV header (it says {channels} channels)")
    if width < 1:
        raise WavError(f"{path}: damaged WAV header (it says {width}-byte samples)")
    if not MIN_RATE <= rate <= MAX_RATE:
        raise WavError(f"{path}: sample rate {rate} Hz in the header is outside {MIN_RATE}..{MAX_RATE} Hz; "
                       "the header is damaged or the file is not audio")
    if frames > MAX_FRAMES:
        raise WavError(f"{path}: the header claims {frames} frames (more than {MAX_FRAMES}, about "
                       f"{MAX_FRAMES // 16000 // 60} minutes at 16 kHz); cut the recording into shorter files")
    return rate, channels, width, frames


def wav_info(path: str | os.PathLike[str]) -> WavInfo:
    """Rate, channels, sample width and frame count of a WAV file, without reading the samples."""
    path = Path(path)
    with _open(path) as w:
        return WavInfo(*_header(path, w))


def read_wav(path: str | os.PathLike[str], expected_rate: int | None = 16000, *,
             allow_resample: bool = False, allow_stereo: bool = False) -> tuple[np.ndarray, int]:
    """Read a 16-bit PCM WAV as float32 in [-1, 1); checks rate, channels, width and data length.

    With ``allow_resample`` a file at another rate is converted to ``expected_rate``; with
    ``allow_stereo`` the channels are averaged. Otherwise those are errors naming the file.
    """
    path = Path(path)
    with _open(path) as w:
        rate, channels, width, frames = _header(path, w)
        if width != 2:
            raise WavError(f"{path}: samples are {8 * width}-bit; the kit reads 16-bit PCM "
                           f"(convert with: sox IN.wav -b 16 OUT.wav)")
        if channels != 1 and not allow_stereo:
            raise WavError(f"{path}: {channels} channels; the kit reads mono clips "
                           f"(convert with: sox IN.wav -c 1 OUT.wav)")
        if frames == 0:
            raise WavError(f"{path}: the WAV holds no samples")
        expected_bytes = frames * channels * width
        # Never ask for more than the file holds: a header may claim gigabytes.
        available = path.stat().st_size
        try:
            raw = w.readframes(min(frames, available // (channels * width) + 1))
        except (wave.Error, EOFError, struct.error, ValueError, OSError) as e:
            raise WavError(f"{path}: damaged WAV data ({e or type(e).__name__})") from None
    if len(raw) < expected_bytes:
        raise WavError(f"{path}: truncated: the header promises {frames} frames but the data holds "
                       f"{len(raw) // (channels * width)}")
    x = np.frombuffer(raw[:expected_bytes], dtype="<i2").astype(np.float32) / 32768.0
    if channels != 1:
        x = x.reshape(-1, channels).mean(axis=1)
    if expected_rate is not None and rate != expected_rate:
        if not allow_resample:
            raise WavError(f"{path}: sample rate {rate} Hz, expected {expected_rate} Hz "
                           f"(convert with: sox IN.wav -r {expected_rate} OUT.wav, or let the kit resample it: "
                           "--resample on the command line, allow_resample=True in Python)")
        if len(x) * expected_rate // rate > MAX_FRAMES:
            raise WavError(f"{path}: {len(x)} samples at {rate} Hz would become more than {MAX_FRAMES} at "
                           f"{expected_rate} Hz; cut the recording into shorter files")
        x = resample(x, rate, expected_rate)
        rate = expected_rate
    return x.astype(np.float32), rate


def resample(x: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Change the sample rate with a polyphase filter (scipy); odd rate pairs use an FFT resampler."""
    if rate_in == rate_out:
        return np.asarray(x, dtype=np.float32)
    if rate_in <= 0 or rate_out <= 0:
        raise ValueError(f"sample rates must be positive, got {rate_in} and {rate_out}")
    g = gcd(rate_in, rate_out)
    up, down = rate_out // g, rate_in // g
    x64 = np.asarray(x, dtype=np.float64)
    if max(up, down) > _MAX_RESAMPLE_FACTOR:
        # resample_poly would design a filter of ~20 x max(up, down) taps (millions for, e.g., 44101 Hz).
        from scipy.signal import resample as fft_resample

        n_out = max(1, int(round(len(x64) * rate_out / rate_in)))
        return fft_resample(x64, n_out).astype(np.float32)
    from scipy.signal import resample_poly

    return resample_poly(x64, up, down).astype(np.float32)


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
