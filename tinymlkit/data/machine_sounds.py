"""Machine sounds for anomaly detection: a SYNTHETIC offline generator, a real-set downloader, one loader.

Both write the layout of the DCASE 2020 Task 2 development data (which the MLPerf Tiny anomaly
benchmark trains on)::

    ROOT/<machine>/train/normal_id_00_00000000.wav      normal sound only (the model never hears a fault)
    ROOT/<machine>/test/normal_id_00_00000012.wav       held-out normal sound
    ROOT/<machine>/test/anomaly_id_00_00000003.wav      faulty sound

The generator's machines are made of sums of harmonics and filtered noise; its faults (a worn
bearing's clicks, imbalance, a rubbing whine, a shifted resonance) are drawn at random strengths so
that some are hard to hear. It is synthetic: it exercises the pipeline offline and nothing more
(see ``datasets/machine_sounds/README.md``). The real sets are the DCASE 2020 Task 2 development
archives on Zenodo (MIMII and ToyADMOS recordings), fetched with the kit's resuming downloader.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import shutil
import zipfile
from pathlib import Path

import numpy as np

from ..audio.wav import wav_bytes
from ..errors import KitError
from ..files import atomic_write_text, save_new_file
from ..paths import dataset_dir
from .download import RemoteFile, download

__all__ = ["MachineSoundConfig", "FAULTS", "nth_fault", "MachineClips", "DCASE2020_DEV", "DCASE2020_DEV_LICENCE",
           "make_machine_sounds", "machine_clip", "list_machine_clips", "download_machine_sounds",
           "extract_zip", "default_synthetic_dir", "from_captures"]

FAULTS = ("bearing", "imbalance", "whine", "resonance")
"""The synthetic fault types, one drawn per faulty clip."""

_NAME_RE = re.compile(r"^(normal|anomaly)_id_(\d+)_(\d+)\.wav$")


GENERATOR_VERSION = 2
"""Bumped when the generator makes different sounds from the same settings (a new folder is made)."""


@dataclasses.dataclass(frozen=True)
class MachineSoundConfig:
    """How the synthetic machine-sound set is made (all of it is synthetic)."""

    machine: str = "synth_fan"
    """Machine-type folder name; 'synth_' marks it as generated."""
    machine_ids: int = 4
    """Individual machines of the type, each with its own pitch and resonance."""
    train_per_id: int = 60
    """Normal training clips per machine."""
    test_normal_per_id: int = 20
    """Held-out normal clips per machine."""
    test_anomaly_per_id: int = 20
    """Faulty clips per machine."""
    seconds: float = 2.0
    """Length of every clip."""
    min_severity: float = 0.15
    """Weakest fault strength (0..1): weak faults are meant to be hard to hear."""
    snr_db: tuple[float, float] = (6.0, 20.0)
    """Range of the machine-to-background-noise ratio of a clip (dB)."""
    sample_rate: int = 16000
    """Samples per second (the board's microphone rate)."""
    seed: int = 20261130
    """Seed for the machines, the clips and the faults."""

    def digest(self) -> str:
        """8 hex characters naming these settings (the folder they are made into)."""
        text = json.dumps({**dataclasses.asdict(self), "generator": GENERATOR_VERSION}, sort_keys=True)
        return hashlib.sha1(text.encode()).hexdigest()[:8]


@dataclasses.dataclass(frozen=True)
class MachineClips:
    """The clips of one machine type, read from a folder in the DCASE layout."""

    root: Path
    """The machine-type folder (holding train/ and test/)."""
    train: tuple[Path, ...]
    """Normal training clips."""
    test: tuple[Path, ...]
    """Test clips, normal and faulty."""
    test_labels: tuple[int, ...]
    """1 for a faulty (anomaly) test clip, 0 for a normal one, in the order of ``test``."""
    train_ids: tuple[int, ...]
    """Machine id of each training clip."""
    test_ids: tuple[int, ...]
    """Machine id of each test clip."""


# ---------------------------------------------------------------- synthetic generator

def _machine_params(cfg: MachineSoundConfig, machine_id: int) -> dict[str, float | np.ndarray]:
    rng = np.random.default_rng([cfg.seed, 1000 + machine_id])
    f0 = float(rng.uniform(90.0, 160.0))  # rotation frequency of this machine
    n_harm = 24
    # A falling harmonic profile with this machine's own ripples: its timbre.
    amps = np.exp(-np.arange(1, n_harm + 1) / rng.uniform(5.0, 9.0)) * rng.uniform(0.3, 1.0, n_harm)
    return {"f0": f0, "amps": amps, "res_hz": float(rng.uniform(1200.0, 2600.0)),
            "res_q": float(rng.uniform(3.0, 6.0)), "res_level": float(rng.uniform(0.3, 0.6))}


def _band_noise(rng: np.random.Generator, n: int, sr: int, centre: float, q: float) -> np.ndarray:
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1.0 / sr)
    bw = centre / q
    spec *= 1.0 / (1.0 + ((f - centre) / (bw / 2.0)) ** 2)
    x = np.fft.irfft(spec, n)
    return x / (np.std(x) + 1e-12)


def _pink(rng: np.random.Generator, n: int) -> np.ndarray:
    spec = np.fft.rfft(rng.standard_normal(n))
    spec /= np.sqrt(np.maximum(np.arange(len(spec)), 1.0))
    x = np.fft.irfft(spec, n)
    return x / (np.std(x) + 1e-12)


def machine_clip(cfg: MachineSoundConfig, machine_id: int, index: int, fault: str | None = None,
                 severity: float = 1.0) -> np.ndarray:
    """One synthetic clip (float32, -1..1) of machine ``machine_id``; ``fault`` makes it faulty."""
    if fault is not None and fault not in FAULTS:
        raise KitError(f"unknown fault {fault!r}; choose one of {', '.join(FAULTS)}")
    p = _machine_params(cfg, machine_id)
    rng = np.random.default_rng([cfg.seed, machine_id, index, 0 if fault is None else 1 + FAULTS.index(fault)])
    sr = cfg.sample_rate
    n = int(round(cfg.seconds * sr))
    t = np.arange(n) / sr
    f0 = float(p["f0"]) * rng.uniform(0.985, 1.015)  # load changes the speed a little
    amps = np.asarray(p["amps"]) * rng.uniform(0.85, 1.15, len(np.asarray(p["amps"])))
    res_hz = float(p["res_hz"])
    if fault == "imbalance":  # the once-per-turn component and its first harmonic grow
        amps = amps.copy()
        amps[0] *= 1.0 + 3.0 * severity
        amps[1] *= 1.0 + 1.5 * severity
    x = np.zeros(n)
    for k, a in enumerate(amps, start=1):
        if k * f0 > 7000:
            break
        x += a * np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 2 * np.pi))
    x /= np.std(x) + 1e-12
    if fault == "resonance":  # a loosened part moves the housing's resonance
        res_hz *= 1.0 + (0.15 + 0.35 * severity) * rng.choice([-1.0, 1.0])
    x += float(p["res_level"]) * _band_noise(rng, n, sr, res_hz, float(p["res_q"]))
    if fault == "imbalance":  # and the whole sound wobbles at the turning rate
        x *= 1.0 + 0.5 * severity * np.sin(2 * np.pi * f0 * t)
    if fault == "whine":  # rubbing: a thin tone high up, wandering slowly
        fw = rng.uniform(2500.0, 6000.0)
        drift = 1.0 + 0.01 * np.sin(2 * np.pi * rng.uniform(0.2, 1.0) * t)
        phase = 2 * np.pi * np.cumsum(fw * drift) / sr
        x += 0.5 * severity * np.sin(phase)
    if fault == "bearing":  # a damaged race: short ringing clicks a few times per turn
        rate = f0 * rng.uniform(0.3, 0.45)
        ring_hz = rng.uniform(3000.0, 6000.0)
        m = int(0.004 * sr)
        tt = np.arange(m) / sr
        click = np.sin(2 * np.pi * ring_hz * tt) * np.exp(-tt / 0.0008)
        pulses = np.zeros(n)
        for start in np.arange(rng.uniform(0, 1 / rate), cfg.seconds, 1 / rate):
            pulses[int(start * sr)] = rng.uniform(0.5, 1.0)
        x += 1.2 * severity * np.convolve(pulses, click)[:n] / (np.std(click) + 1e-12) * 0.35
    snr = rng.uniform(*cfg.snr_db)
    x = x / (np.std(x) + 1e-12) + _pink(rng, n) * 10 ** (-snr / 20)
    # A microphone mounted on the machine (as in the DCASE recordings): its level is steady within about
    # +-1 dB. A 12 dB spread here swamped the faults in the log filterbank (AUC 0.47; 0.85 for a plain
    # distance-from-the-mean score once each clip's level was removed).
    level = rng.uniform(0.09, 0.11)
    return (x / (np.max(np.abs(x)) + 1e-12) * level * 3.0).clip(-1, 1).astype(np.float32)


def default_synthetic_dir() -> Path:
    """Where the synthetic set goes unless told otherwise: datasets/machine_sounds/data/."""
    return dataset_dir("machine_sounds")


def nth_fault(cfg: MachineSoundConfig, j: int, rng: np.random.Generator) -> tuple[str, float]:
    """The ``j``-th faulty clip's fault (they cycle through ``FAULTS``) and its strength, drawn from ``rng``
    between ``cfg.min_severity`` and 1."""
    return FAULTS[j % len(FAULTS)], float(rng.uniform(cfg.min_severity, 1.0))


def make_machine_sounds(out: str | os.PathLike[str] | None = None,
                        cfg: MachineSoundConfig = MachineSoundConfig(), progress: bool = False) -> Path:
    """Make the synthetic set once (reused when its settings match); returns the machine-type folder.

    Files are created, never replaced: a folder holding other clips under the same names is an error.
    """
    base = Path(out) if out is not None else default_synthetic_dir()
    root = base / f"{cfg.machine}_{cfg.digest()}" / cfg.machine
    manifest = root.parent / "synthetic.json"
    if manifest.is_file():
        return root
    jobs: list[tuple[str, int, int, int | None]] = []  # split, machine, clip number, index among faulty clips
    count = 0
    for mid in range(cfg.machine_ids):
        for _ in range(cfg.train_per_id):
            jobs.append(("train", mid, count, None))
            count += 1
        for _ in range(cfg.test_normal_per_id):
            jobs.append(("test", mid, count, None))
            count += 1
        for j in range(cfg.test_anomaly_per_id):
            jobs.append(("test", mid, count, j))
            count += 1
    it = jobs
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(jobs, desc="synthetic machine sounds", unit="clip", leave=False)
    sev_rng = np.random.default_rng([cfg.seed, 7])
    for split, mid, idx, j in it:
        fault, severity = nth_fault(cfg, j, sev_rng) if j is not None else (None, 0.0)
        kind = "anomaly" if fault else "normal"
        path = root / split / f"{kind}_id_{mid:02d}_{idx:08d}.wav"
        if path.exists():  # an interrupted earlier run made it with the same settings
            continue
        save_new_file(path, wav_bytes(machine_clip(cfg, mid, idx, fault, severity), cfg.sample_rate))
    atomic_write_text(manifest, json.dumps({
        "synthetic": True,
        "what": "SYNTHETIC machine sounds made by tinymlkit.data.machine_sounds (not recordings)",
        "settings": dataclasses.asdict(cfg), "clips": count}, indent=2) + "\n")
    return root


# ---------------------------------------------------------------- loader

def list_machine_clips(root: str | os.PathLike[str]) -> MachineClips:
    """Read a machine-type folder in the DCASE layout (train/ and test/ with normal_/anomaly_ names)."""
    root = Path(root)
    if not root.is_dir():
        raise KitError(f"{root}: no such folder; give a machine-type folder holding train/ and test/ "
                       "(make one with `tinymlkit data machine-sounds`)")
    if not (root / "train").is_dir() and len([d for d in root.iterdir() if (d / "train").is_dir()]) == 1:
        root = next(d for d in root.iterdir() if (d / "train").is_dir())  # the folder above one machine type
    found: dict[str, list[tuple[Path, int, int]]] = {"train": [], "test": []}
    for split in found:
        folder = root / split
        if not folder.is_dir():
            raise KitError(f"{root}: no {split}/ folder; the DCASE layout is MACHINE/train/normal_id_00_00000000.wav "
                           "and MACHINE/test/(normal|anomaly)_id_00_00000000.wav")
        for f in sorted(folder.glob("*.wav")):
            m = _NAME_RE.match(f.name)
            if not m:
                continue  # other files (notes, a learner's extras) are not part of the set
            found[split].append((f, int(m.group(1) == "anomaly"), int(m.group(2))))
    if not found["train"]:
        raise KitError(f"{root / 'train'}: no clips named normal_id_NN_NNNNNNNN.wav")
    bad = [p for p, y, _ in found["train"] if y == 1]
    if bad:
        raise KitError(f"{bad[0]}: a faulty clip in train/; anomaly detection trains on normal sound only")
    if not found["test"]:
        raise KitError(f"{root / 'test'}: no test clips named normal_id_... or anomaly_id_....wav")
    labels = [y for _, y, _ in found["test"]]
    if len(set(labels)) < 2:
        raise KitError(f"{root / 'test'}: the test clips are all {'faulty' if labels[0] else 'normal'}; "
                       "AUC needs both normal and anomaly clips")
    return MachineClips(root, tuple(p for p, _, _ in found["train"]), tuple(p for p, _, _ in found["test"]),
                        tuple(labels), tuple(i for _, _, i in found["train"]), tuple(i for _, _, i in found["test"]))


# ---------------------------------------------------------------- real data

DCASE2020_DEV_LICENCE = "CC BY-NC-SA 4.0 (non-commercial, share alike), as the Zenodo record 3678171 states"
"""Licence of the DCASE 2020 Task 2 development data: check it again on the record before use."""

DCASE2020_DEV: dict[str, RemoteFile] = {
    name: RemoteFile(url=f"https://zenodo.org/record/3678171/files/dev_data_{name}.zip", sha256=None, size=None)
    for name in ("fan", "pump", "slider", "valve", "ToyCar", "ToyConveyor")
}
"""The six machine types of the DCASE 2020 Task 2 development set (MIMII: fan, pump, slider, valve;
ToyADMOS: ToyCar, ToyConveyor). Zenodo publishes MD5 sums only; the archive is checked as a zip
(every member's CRC) after download instead."""


def extract_zip(archive: str | os.PathLike[str], out: str | os.PathLike[str]) -> Path:
    """Extract a zip into ``out``: every member's CRC checked, none may land outside ``out``."""
    archive, out = Path(archive), Path(out)
    tmp = out.with_name(out.name + ".extracting")
    if tmp.exists():
        shutil.rmtree(tmp)  # our own leftover from an interrupted extraction
    tmp.mkdir(parents=True)
    root = tmp.resolve()
    try:
        with zipfile.ZipFile(archive) as z:
            bad = z.testzip()
            if bad is not None:
                raise KitError(f"{archive}: member {bad!r} is damaged (CRC mismatch); delete the file and download again")
            for info in z.infolist():
                target = (root / info.filename).resolve()
                if target != root and not str(target).startswith(str(root) + os.sep):
                    raise KitError(f"{archive}: member {info.filename!r} would be written outside {out}; not extracting")
                z.extract(info, tmp)
    except zipfile.BadZipFile as e:
        shutil.rmtree(tmp)
        raise KitError(f"{archive}: not a readable zip archive ({e}); delete it and download again") from None
    except KitError:
        shutil.rmtree(tmp)
        raise
    out.mkdir(parents=True, exist_ok=True)
    for item in tmp.iterdir():  # merge: other machine types already in ``out`` stay
        dest = out / item.name
        if dest.exists():
            raise KitError(f"{dest}: already exists; not replacing it (move it away to extract again)")
        item.rename(dest)
    tmp.rmdir()
    return out


def download_machine_sounds(machine: str = "ToyCar", out: str | os.PathLike[str] | None = None,
                            sources: dict[str, RemoteFile] | None = None, progress: bool = True) -> Path:
    """Download and extract one DCASE 2020 Task 2 development machine type; returns its folder."""
    sources = DCASE2020_DEV if sources is None else sources
    if machine not in sources:
        raise KitError(f"unknown machine type {machine!r}; choose one of {', '.join(sources)}")
    base = Path(out) if out is not None else dataset_dir("machine_sounds_dcase2020")
    folder = base / machine
    if (folder / "train").is_dir() and (folder / "test").is_dir():
        return folder
    remote = sources[machine]
    archive = base / f"dev_data_{machine}.zip"
    try:
        download(remote, archive, progress=progress)
    except KitError as e:
        raise KitError(f"{e}\nWithout a network: copy dev_data_{machine}.zip to {archive} and run again, "
                       "or use the synthetic set (`tinymlkit data machine-sounds`)") from None
    extract_zip(archive, base)
    if not (folder / "train").is_dir():
        raise KitError(f"{archive}: extracted, but it holds no {machine}/train/ folder; is it the DCASE 2020 "
                       f"Task 2 development archive of {machine}?")
    return folder


def from_captures(captures: str | os.PathLike[str], out: str | os.PathLike[str], machine: str = "my_machine",
                  test_share: float = 0.2, seed: int = 0) -> Path:
    """Copy clips captured from the board (CAPTURES/normal/*.wav, CAPTURES/anomaly/*.wav) into the DCASE layout.

    Normal clips are split into train/ and test/ (``test_share`` of them, at random but repeatably);
    faulty clips go to test/ only. Files are copied under new names and never overwrite anything;
    running it again after more captures adds only the new ones. Returns the machine-type folder.
    """
    captures = Path(captures)
    normal = sorted((captures / "normal").glob("*.wav")) if (captures / "normal").is_dir() else []
    faulty = sorted((captures / "anomaly").glob("*.wav")) if (captures / "anomaly").is_dir() else []
    if not normal:
        raise KitError(f"{captures}: no normal/*.wav; capture the healthy machine with "
                       "`tinymlkit capture audio --label normal --out {captures} ...`")
    root = Path(out) / machine
    index_file = root / "captures.json"
    done: dict[str, str] = json.loads(index_file.read_text()) if index_file.is_file() else {}
    rng = np.random.default_rng(seed)
    n = len(done)
    for kind, files in (("normal", normal), ("anomaly", faulty)):
        for f in files:
            key = f"{kind}/{f.name}"
            if key in done:
                continue
            split = "test" if kind == "anomaly" or rng.random() < test_share else "train"
            dest = root / split / f"{kind}_id_00_{n:08d}.wav"
            save_new_file(dest, f.read_bytes())
            done[key] = f"{split}/{dest.name}"
            n += 1
    atomic_write_text(index_file, json.dumps(done, indent=1, sort_keys=True) + "\n")
    return root
