"""The offline default keyword set: words spoken by text-to-speech voices, in Speech Commands layout.

Voices come from espeak-ng (English base voices x variants, with speed and pitch) and flite where
installed. Whole voices are held out for validation and test (written as ``validation_list.txt`` and
``testing_list.txt``, like the real dataset), so the test score measures how well a model does on
voices it never heard. It exists so that the track runs end to end with no download; a model
trained on it is not a good detector of real speech (see ``datasets/synth_kws/README.md``).
"""
from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from ..audio.augment import loudest_window
from ..audio.wav import resample, wav_bytes
from ..errors import KitError
from ..files import atomic_write_text
from ..paths import dataset_dir

__all__ = ["SynthSpeechConfig", "Voice", "list_voices", "tts_available", "make_synthetic_speech",
           "default_synth_dir", "KEYWORDS", "FILLER_WORDS"]

KEYWORDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
FILLER_WORDS = ("bed", "bird", "cat", "dog", "house", "tree", "wow", "happy", "marvin", "sheila")


@dataclasses.dataclass(frozen=True)
class SynthSpeechConfig:
    """How the synthetic keyword set is made."""

    words: tuple[str, ...] = KEYWORDS + FILLER_WORDS
    """Words to speak; any not in a task's keywords serve as 'unknown'."""
    num_voices: int = 120
    """Number of distinct voices (speakers) to draw."""
    takes: int = 3
    """Clips per word and voice, each with its own speed and pitch."""
    held_out_share: float = 0.15
    """Share of voices held out for validation and again for test."""
    noise_seconds: int = 30
    """Length of each generated background-noise file."""
    seed: int = 20261122
    """Seed for the voice draw, speeds, pitches and placement."""
    sample_rate: int = 16000
    """Output sample rate."""


@dataclasses.dataclass(frozen=True)
class Voice:
    """One synthetic speaker."""

    engine: str
    """'espeak-ng' or 'flite'."""
    name: str
    """Voice name for the engine, such as 'en-gb-scotland+f3' or 'slt'."""

    @property
    def speaker_id(self) -> str:
        """8 hex characters, like a Speech Commands speaker id."""
        return hashlib.sha1(f"{self.engine}:{self.name}".encode()).hexdigest()[:8]


def tts_available() -> dict[str, bool]:
    """Which text-to-speech programs are on the PATH."""
    return {"espeak-ng": shutil.which("espeak-ng") is not None, "flite": shutil.which("flite") is not None}


def list_voices() -> list[Voice]:
    """Every English espeak-ng base voice with every variant, and the flite voices, that are installed."""
    voices: list[Voice] = []
    if shutil.which("espeak-ng"):
        out = subprocess.run(["espeak-ng", "--voices=en"], capture_output=True, text=True, check=True).stdout
        bases = []
        for line in out.splitlines()[1:]:
            cols = line.split()
            # Only the built-in (gmw/) voices: mbrola voices need extra packages.
            if len(cols) >= 5 and cols[4].startswith("gmw/") and cols[1] not in bases:
                bases.append(cols[1])
        var_out = subprocess.run(["espeak-ng", "--voices=variant"], capture_output=True, text=True, check=True).stdout
        variants = [c.split("/", 1)[1] for line in var_out.splitlines()[1:] for c in line.split()[4:5]
                    if c.startswith("!v/")]
        voices += [Voice("espeak-ng", f"{b}+{v}") for b in bases for v in variants]
    if shutil.which("flite"):
        out = subprocess.run(["flite", "-lv"], capture_output=True, text=True).stdout
        names = out.split(":", 1)[-1].split()
        # kal is an 8 kHz voice; the rest are 16 kHz.
        voices += [Voice("flite", n) for n in names if n in ("kal16", "awb", "rms", "slt")]
    return voices


def _speak(voice: Voice, word: str, speed: int, pitch: int) -> tuple[np.ndarray, int]:
    if voice.engine == "espeak-ng":
        cmd = ["espeak-ng", "-v", voice.name, "-s", str(speed), "-p", str(pitch), "--stdout", word]
    else:
        # flite's f0 target moves the pitch (ignored by some voices); duration_stretch sets the speed.
        cmd = ["flite", "-voice", voice.name, "--setf", f"int_f0_target_mean={80 + 2 * pitch}",
               "--setf", f"duration_stretch={160 / speed:.3f}", "-t", word, "-o", "/dev/stdout"]
    raw = subprocess.run(cmd, capture_output=True, check=True, timeout=60).stdout
    import wave

    with wave.open(io.BytesIO(raw), "rb") as w:
        rate = w.getframerate()
        frames = w.readframes(w.getnframes())
    x = np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768.0
    return x, rate


def _trim(x: np.ndarray, rel: float = 0.02) -> np.ndarray:
    """Cut leading and trailing near-silence so the word can be placed anywhere in the second."""
    if len(x) == 0:
        return x
    env = np.abs(x)
    idx = np.nonzero(env > rel * env.max())[0]
    return x[idx[0]: idx[-1] + 1] if len(idx) else x


def _place(word: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    if len(word) >= n:
        return loudest_window(word, n)[0]
    out = np.zeros(n, dtype=np.float32)
    start = int(rng.integers(0, n - len(word) + 1))
    out[start:start + len(word)] = word
    return out


def _make_noise(kind: str, n: int, rate: int, rng: np.random.Generator) -> np.ndarray:
    white = rng.standard_normal(n)
    if kind == "white_noise":
        x = white
    elif kind in ("pink_noise", "brown_noise"):
        spec = np.fft.rfft(white)
        f = np.fft.rfftfreq(n, 1 / rate)
        f[0] = f[1]
        spec /= np.sqrt(f) if kind == "pink_noise" else f
        x = np.fft.irfft(spec, n)
    elif kind == "hum":
        t = np.arange(n) / rate
        x = sum(np.sin(2 * np.pi * 50 * k * t + rng.uniform(0, 6.28)) / k for k in range(1, 8)) + 0.3 * white
    else:
        raise ValueError(kind)
    x = x / (np.max(np.abs(x)) + 1e-9)
    return (0.5 * x).astype(np.float32)


def _is_complete(out: Path, wanted: dict) -> bool:
    stamp = out / "DATASET.json"
    try:
        return json.loads(stamp.read_text()).get("config") == json.loads(json.dumps(wanted))
    except (OSError, json.JSONDecodeError):
        return False


def default_synth_dir() -> Path:
    """Where the default synthetic keyword set lives (git-ignored)."""
    return dataset_dir("synth_kws")


def make_synthetic_speech(out: str | Path | None = None, cfg: SynthSpeechConfig = SynthSpeechConfig(),
                          progress: bool = True, workers: int | None = None) -> Path:
    """Make the synthetic keyword set once (reused when it already exists with the same settings)."""
    out = Path(out) if out is not None else default_synth_dir()
    wanted = dataclasses.asdict(cfg)
    if _is_complete(out, wanted):
        return out
    avail = tts_available()
    if not any(avail.values()):
        raise KitError("no text-to-speech program found: install espeak-ng (Debian/Ubuntu: "
                       "sudo apt-get install espeak-ng flite; macOS: brew install espeak-ng), or "
                       "use real recordings with --data DIR")
    voices = list_voices()
    rng = np.random.default_rng(cfg.seed)
    flite = [v for v in voices if v.engine == "flite"]
    espeak = [v for v in voices if v.engine == "espeak-ng"]
    n_espeak = max(0, min(len(espeak), cfg.num_voices - len(flite)))
    chosen = flite[: cfg.num_voices] + [espeak[int(i)] for i in rng.choice(len(espeak), n_espeak, replace=False)]
    if len(chosen) < 3:
        raise KitError(f"only {len(chosen)} TTS voice(s) found; need at least 3 to hold voices out")
    order = [chosen[int(i)] for i in rng.permutation(len(chosen))]
    n_hold = max(1, int(round(len(order) * cfg.held_out_share)))
    val_voices, test_voices = {v.speaker_id for v in order[:n_hold]}, {v.speaker_id for v in order[n_hold:2 * n_hold]}

    # A private work folder per process: two runs making the set at once (parallel tests, two
    # notebooks) each finish their own copy, and the first to finish wins the rename.
    tmp = out.parent / f"{out.name}.partial-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    n = cfg.sample_rate  # one-second clips
    jobs = []
    for v in order:
        for w in cfg.words:
            for take in range(cfg.takes):
                speed = int(rng.integers(120, 221))
                pitch = int(rng.integers(15, 86))
                jobs.append((v, w, take, speed, pitch, int(rng.integers(0, 2**31))))

    def run(job: tuple[Voice, str, int, int, int, int]) -> str:
        v, w, take, speed, pitch, seed = job
        x, rate = _speak(v, w, speed, pitch)
        x = _trim(resample(x, rate, cfg.sample_rate))
        r = np.random.default_rng(seed)
        clip = _place(x * np.float32(r.uniform(0.3, 0.9) / (np.max(np.abs(x)) + 1e-9)), n, r)
        rel = f"{w}/{v.speaker_id}_nohash_{take}.wav"
        path = tmp / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(wav_bytes(clip, cfg.sample_rate))
        return rel

    it = None
    with ThreadPoolExecutor(max_workers=workers or 4) as pool:
        results = pool.map(run, jobs)
        if progress:
            from tqdm.auto import tqdm

            it = tqdm(results, total=len(jobs), desc="synthetic keyword clips", unit="clip")
        rels = list(it if it is not None else results)

    noise_dir = tmp / "_background_noise_"
    noise_dir.mkdir()
    for kind in ("white_noise", "pink_noise", "brown_noise", "hum"):
        (noise_dir / f"{kind}.wav").write_bytes(
            wav_bytes(_make_noise(kind, cfg.noise_seconds * cfg.sample_rate, cfg.sample_rate, rng), cfg.sample_rate))
    val = sorted(r for r in rels if r.split("/")[1].split("_")[0] in val_voices)
    test = sorted(r for r in rels if r.split("/")[1].split("_")[0] in test_voices)
    (tmp / "validation_list.txt").write_text("".join(r + "\n" for r in val))
    (tmp / "testing_list.txt").write_text("".join(r + "\n" for r in test))
    atomic_write_text(tmp / "DATASET.json", json.dumps({
        "what": "synthetic keyword clips from text-to-speech, Speech Commands layout",
        "config": wanted,
        "voices": {v.speaker_id: f"{v.engine}:{v.name}" for v in order},
        "validation_voices": sorted(val_voices),
        "testing_voices": sorted(test_voices),
        "clips": len(rels),
    }, indent=2))
    if out.exists():
        if _is_complete(out, wanted):  # another process finished first
            shutil.rmtree(tmp)
            return out
        shutil.rmtree(out)
    try:
        tmp.rename(out)
    except OSError:
        if not _is_complete(out, wanted):
            raise
        shutil.rmtree(tmp)
        return out
    print(f"tinymlkit: made {len(rels)} synthetic clips from {len(order)} voices in {out}", file=sys.stderr)
    return out

