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
from ..files import atomic_write_text, check_output_folder, claim_kit_folder, is_kit_folder, replace_kit_folder
from ..paths import dataset_dir

__all__ = ["SynthSpeechConfig", "Voice", "list_voices", "tts_available", "make_synthetic_speech",
           "default_synth_dir", "KEYWORDS", "FILLER_WORDS", "EXTRA_WORDS", "NOISE_KINDS"]

KEYWORDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
FILLER_WORDS = ("bed", "bird", "cat", "dog", "house", "tree", "wow", "happy", "marvin", "sheila")
EXTRA_WORDS = (
    # The other auxiliary words of Speech Commands v0.02 (Warden 2018, arXiv:1804.03209).
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
    "backward", "forward", "follow", "learn", "visual",
    # Near misses of the usual keywords: where a model that heard few voices says yes or no anyway.
    "yet", "yeah", "yell", "less", "guess", "chess", "test", "address", "now", "know", "nose", "note", "snow",
    "toe", "so", "though", "low", "new", "nope", "cup", "pup", "town", "round", "lift", "light", "write",
    "ride", "own", "of", "shop", "top", "goal", "code", "show", "slow", "sit", "ten", "when", "then",
    "well", "hello", "okay", "maybe", "please", "water", "music", "coffee", "table", "window", "open")
"""Words spoken by each voice once (a random subset per voice) to widen the 'unknown' class."""
NOISE_KINDS = ("white_noise", "pink_noise", "brown_noise", "hum", "fan", "running_water", "babble", "clatter")
"""Background-noise files of the synthetic set: coloured noise and made imitations of home sounds."""


@dataclasses.dataclass(frozen=True)
class SynthSpeechConfig:
    """How the synthetic keyword set is made."""

    words: tuple[str, ...] = KEYWORDS + FILLER_WORDS
    """Words to speak ``takes`` times per voice; any not in a task's keywords serve as 'unknown'."""
    extra_words: tuple[str, ...] = EXTRA_WORDS
    """More words for the 'unknown' class, spoken once by each voice (``extra_words_per_voice`` of them)."""
    extra_words_per_voice: int = 0
    """How many of ``extra_words`` each voice speaks (drawn at random; 0 for none: the main job uses more)."""
    num_voices: int = 120
    """Number of distinct voices (speakers) to draw."""
    takes: int = 3
    """Clips per word and voice, each with its own speed and pitch."""
    held_out_share: float = 0.15
    """Share of voices held out for validation and again for test."""
    noise_seconds: int = 30
    """Length of each generated background-noise file."""
    noise_kinds: tuple[str, ...] = ("white_noise", "pink_noise", "brown_noise", "hum")
    """Which noise files to make (see ``NOISE_KINDS``; the main job makes them all)."""
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


def _speak_many(voice: Voice, words: list[str], speed: int, pitch: int, rate_out: int = 16000,
                gap_ms: int = 800) -> list[tuple[np.ndarray, int]] | None:
    """Several words in one espeak-ng call, separated by SSML breaks, resampled once, cut apart at the silences.

    None when the cut does not give exactly one piece per word (the caller then speaks them one by one).
    """
    from xml.sax.saxutils import escape

    text = "<speak>" + "".join(f'{escape(w)}<break time="{gap_ms}ms"/>' for w in words) + "</speak>"
    cmd = ["espeak-ng", "-m", "-v", voice.name, "-s", str(speed), "-p", str(pitch), "--stdout", text]
    raw = subprocess.run(cmd, capture_output=True, check=True, timeout=120).stdout
    import wave

    with wave.open(io.BytesIO(raw), "rb") as w:
        rate = w.getframerate()
        frames = w.readframes(w.getnframes())
    # One resampling for the whole call: far cheaper than one per word.
    x = resample(np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768.0, rate, rate_out)
    rate = rate_out
    loud = np.abs(x) >= 30 / 32768.0
    edges = np.flatnonzero(np.diff(np.concatenate([[0], loud.astype(np.int8), [0]])))
    spans: list[list[int]] = []
    for a, b in zip(edges[::2], edges[1::2]):
        # Gaps inside a word (stops, pauses) are far shorter than the break between words.
        if spans and a - spans[-1][1] < 0.3 * rate:
            spans[-1][1] = int(b)
        else:
            spans.append([int(a), int(b)])
    if len(spans) != len(words):
        return None
    pad = int(0.02 * rate)
    return [(x[max(0, a - pad): b + pad].copy(), rate) for a, b in spans]


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


def _colour(white: np.ndarray, rate: int, exponent: float) -> np.ndarray:
    """Noise with power falling as 1/f**exponent (1 pink, 2 brown)."""
    spec = np.fft.rfft(white)
    f = np.fft.rfftfreq(len(white), 1 / rate)
    f[0] = f[1]
    return np.fft.irfft(spec / f ** (exponent / 2), len(white))


def _bursts(n: int, rate: int, rng: np.random.Generator, per_second: float, length_s: float) -> np.ndarray:
    """An envelope of random short bursts with exponential decay (clicks, clatter, drips)."""
    env = np.zeros(n)
    for start in rng.integers(0, n, int(per_second * n / rate)):
        k = int(length_s * rate)
        seg = np.exp(-np.arange(min(k, n - start)) / (0.2 * k)) * rng.uniform(0.2, 1.0)
        env[start:start + len(seg)] += seg
    return env


def _make_noise(kind: str, n: int, rate: int, rng: np.random.Generator,
                speech: list[np.ndarray] | None = None) -> np.ndarray:
    white = rng.standard_normal(n)
    t = np.arange(n) / rate
    if kind == "white_noise":
        x = white
    elif kind == "pink_noise":
        x = _colour(white, rate, 1.0)
    elif kind == "brown_noise":
        x = _colour(white, rate, 2.0)
    elif kind == "hum":
        x = sum(np.sin(2 * np.pi * 50 * k * t + rng.uniform(0, 6.28)) / k for k in range(1, 8)) + 0.3 * white
    elif kind == "fan":
        # A motor's whine and its harmonics over broadband air noise, slowly wavering in level.
        f0 = rng.uniform(80, 180)
        whine = sum(np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 6.28)) / k ** 1.5 for k in range(1, 6))
        x = _colour(white, rate, 1.5) / 30 + 0.05 * whine
        x *= 1 + 0.2 * np.sin(2 * np.pi * rng.uniform(0.1, 0.5) * t)
    elif kind == "running_water":
        # High-passed noise with a fast random flutter, like a tap.
        hp = np.diff(white, prepend=0.0)
        flutter = np.convolve(np.abs(rng.standard_normal(n)), np.ones(400) / 400, mode="same")
        x = hp * (0.5 + flutter)
    elif kind == "clatter":
        # Dishes and keys: bright clicks of random size at random times, over a little room noise.
        x = np.diff(white, prepend=0.0) * _bursts(n, rate, rng, 3.0, 0.08) + 0.02 * _colour(white, rate, 1.0)
    elif kind == "babble":
        # Several far-away voices talking at once, made from the set's own clips at low level.
        x = 0.01 * _colour(white, rate, 1.0)
        for clip in (speech or [])[:400]:
            start = int(rng.integers(0, max(1, n - len(clip))))
            seg = clip[: n - start]
            x[start:start + len(seg)] += seg * rng.uniform(0.2, 1.0)
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


def _adopt_old_set(out: Path) -> None:
    """Mark a set that an older kit made (DATASET.json, no marker) as the kit's, so it may be remade."""
    stamp = out / "DATASET.json"
    if out.is_dir() and not is_kit_folder(out) and stamp.is_file():
        try:
            ours = json.loads(stamp.read_text()).get("what", "").startswith("synthetic keyword clips")
        except (OSError, ValueError, AttributeError):
            ours = False
        if ours:
            claim_kit_folder(out, "the synthetic keyword set")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


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
    _adopt_old_set(out)
    # Before any work: a folder holding someone's files is never filled or replaced.
    check_output_folder(out, "the synthetic keyword set")
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
    if cfg.num_voices < 3:
        raise KitError(f"{cfg.num_voices} voice(s) asked for: the set needs at least 3 (one each for training, "
                       "validation and test); ask for more voices")
    if len(chosen) < 3:
        raise KitError(f"only {len(chosen)} text-to-speech voice(s) are installed; need at least 3 to hold "
                       "voices out (Debian/Ubuntu: sudo apt-get install espeak-ng flite)")
    order = [chosen[int(i)] for i in rng.permutation(len(chosen))]
    n_hold = max(1, int(round(len(order) * cfg.held_out_share)))
    val_voices, test_voices = {v.speaker_id for v in order[:n_hold]}, {v.speaker_id for v in order[n_hold:2 * n_hold]}

    # A private work folder per process: two runs making the set at once (parallel tests, two
    # notebooks) each finish their own copy, and the first to finish wins the rename.
    tmp = out.parent / f"{out.name}.partial-{os.getpid()}"
    for stale in out.parent.glob(f"{out.name}.partial-*"):
        # Work folders of runs that were stopped: the kit made them, their process is gone.
        pid = stale.name.rsplit("-", 1)[-1]
        if stale.is_dir() and pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    n = cfg.sample_rate  # one-second clips
    # One job per voice and take: espeak-ng speaks all its words in one call (a process start costs
    # more than the speech), each word with its own level and place in the second.
    jobs = []
    for v in order:
        extra = [cfg.extra_words[int(i)] for i in
                 rng.permutation(len(cfg.extra_words))[:max(0, cfg.extra_words_per_voice)]]
        for take in range(cfg.takes):
            words = list(cfg.words) + (extra if take == 0 else [])
            speed = int(rng.integers(120, 221))
            pitch = int(rng.integers(15, 86))
            jobs.append((v, take, words, speed, pitch, [int(rng.integers(0, 2**31)) for _ in words]))

    def run(job: tuple[Voice, int, list[str], int, int, list[int]]) -> list[str]:
        v, take, words, speed, pitch, seeds = job
        spoken = _speak_many(v, words, speed, pitch, cfg.sample_rate) if v.engine == "espeak-ng" else None
        if spoken is None:  # flite, or a split that did not find one piece per word
            spoken = [_speak(v, w, speed, pitch) for w in words]
        rels = []
        for w, (x, rate), seed in zip(words, spoken, seeds):
            x = _trim(resample(x, rate, cfg.sample_rate))
            r = np.random.default_rng(seed)
            clip = _place(x * np.float32(r.uniform(0.3, 0.9) / (np.max(np.abs(x)) + 1e-9)), n, r)
            rel = f"{w}/{v.speaker_id}_nohash_{take}.wav"
            path = tmp / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(wav_bytes(clip, cfg.sample_rate))
            rels.append(rel)
        return rels

    it = None
    with ThreadPoolExecutor(max_workers=workers or 4) as pool:
        results = pool.map(run, jobs)
        if progress:
            from tqdm.auto import tqdm

            it = tqdm(results, total=len(jobs), desc="synthetic keyword clips (voice x take)", unit="job")
        rels = [rel for batch in (it if it is not None else results) for rel in batch]

    noise_dir = tmp / "_background_noise_"
    noise_dir.mkdir()
    speech = []
    if "babble" in cfg.noise_kinds:
        from ..audio.wav import load_clip

        # Babble from the training voices only: held-out voices must stay unheard.
        train_rels = [r for r in rels if r.split("/")[1].split("_")[0] not in val_voices | test_voices]
        speech = [load_clip(tmp / train_rels[int(i)], cfg.sample_rate, n)
                  for i in rng.permutation(len(train_rels))[:400]]
    for kind in cfg.noise_kinds:
        (noise_dir / f"{kind}.wav").write_bytes(
            wav_bytes(_make_noise(kind, cfg.noise_seconds * cfg.sample_rate, cfg.sample_rate, rng, speech),
                      cfg.sample_rate))
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
    if _is_complete(out, wanted):  # another process finished first
        shutil.rmtree(tmp)
        return out
    try:
        # An older set is replaced only if the kit made it (its marker); the new one gets the marker.
        replace_kit_folder(tmp, out, "the synthetic keyword set")
    except OSError:
        if not _is_complete(out, wanted):
            raise
        shutil.rmtree(tmp)
        return out
    print(f"tinymlkit: made {len(rels)} synthetic clips from {len(order)} voices in {out}", file=sys.stderr)
    return out

