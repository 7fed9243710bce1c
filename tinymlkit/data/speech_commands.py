"""Speech Commands: the official folder layout, the official hash split, and task datasets from it.

Layout (Warden 2018, arXiv:1804.03209): ``WORD/SPEAKER_nohash_N.wav``, 16 kHz mono 16-bit 1 s clips,
long noise recordings in ``_background_noise_/``. Test-set style folders ``_silence_``/``_unknown_``
(and the TFLM spellings ``silence``/``unknown``) are read too; ``_unknown_`` files are named
``WORD_SPEAKER_nohash_N.wav``.
"""
from __future__ import annotations

import dataclasses
import hashlib
import math
import re
import sys
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..audio.wav import WavError, load_clip, read_wav
from ..config import KwsTaskConfig
from ..errors import KitError, printable

__all__ = [
    "MAX_NUM_WAVS_PER_CLASS",
    "SPLITS",
    "Clip",
    "KwsDataset",
    "speaker_of",
    "which_set",
    "scan_folder",
    "read_split_lists",
    "build_dataset",
    "load_background_noise",
    "clip_for",
    "label_items",
]

# From the dataset's own split code: hashing maps onto this many buckets.
MAX_NUM_WAVS_PER_CLASS = 2**27 - 1
SPLITS = ("training", "validation", "testing")
BACKGROUND_DIR = "_background_noise_"
SILENCE_DIRS = ("_silence_", "silence")
UNKNOWN_DIRS = ("_unknown_", "unknown")
_SPEAKER = re.compile(r"(?:^|_)([0-9a-zA-Z]+)_nohash_")


@dataclasses.dataclass(frozen=True)
class Clip:
    """One file of a Speech Commands style folder."""

    path: Path
    """The WAV file."""
    word: str
    """The spoken word ('_silence_' for silence clips; for ``_unknown_`` files, the word in the name)."""
    speaker: str
    """Speaker id (the part before ``_nohash_``)."""
    rel: str
    """Path relative to the dataset root with forward slashes, as the official lists write it."""


def speaker_of(filename: str | Path) -> str:
    """Speaker id of a Speech Commands file name, such as '0a7c2a8d' for 'bed/0a7c2a8d_nohash_0.wav'."""
    base = Path(filename).name
    m = _SPEAKER.search(base)
    if m:
        return m.group(1)
    return Path(base).stem


def which_set(filename: str | Path, validation_percentage: float, testing_percentage: float,
              salt: str = "") -> str:
    """The official Speech Commands split of a file: 'training', 'validation' or 'testing'.

    The dataset hashes the speaker part of the name (everything before ``_nohash_``) with SHA-1,
    so all of a speaker's clips land in one split and stay there as the dataset grows. A non-empty
    ``salt`` gives a different, still speaker-disjoint, split.
    """
    base = Path(filename).name
    hash_name = re.sub(r"_nohash_.*$", "", base)
    # _unknown_ files carry the word in front of the speaker: hash the speaker alone, as in WORD/ folders.
    m = _SPEAKER.search(base)
    if m and hash_name != m.group(1):
        hash_name = m.group(1)
    digest = hashlib.sha1((salt + hash_name).encode("utf-8")).hexdigest()
    percentage = (int(digest, 16) % (MAX_NUM_WAVS_PER_CLASS + 1)) * (100.0 / MAX_NUM_WAVS_PER_CLASS)
    if percentage < validation_percentage:
        return "validation"
    if percentage < validation_percentage + testing_percentage:
        return "testing"
    return "training"


def scan_folder(root: str | Path) -> list[Clip]:
    """Every clip of a Speech Commands style folder (background noise excluded), sorted."""
    root = Path(root)
    if not root.is_dir():
        raise KitError(f"{root}: no such dataset folder")
    clips = []
    for d in sorted(p for p in root.iterdir() if p.is_dir()):
        if d.name == BACKGROUND_DIR or d.name.startswith("."):
            continue
        for f in sorted(d.glob("*.wav")):
            if d.name in SILENCE_DIRS:
                word = "_silence_"
            elif d.name in UNKNOWN_DIRS:
                word = f.name.split("_", 1)[0] if f.name.count("_") >= 3 else "_unknown_"
            else:
                word = d.name
            clips.append(Clip(f, word, speaker_of(f), f"{d.name}/{f.name}"))
    return clips


def read_split_lists(root: str | Path) -> dict[str, set[str]] | None:
    """The dataset's own ``validation_list.txt``/``testing_list.txt``, if the folder has them."""
    root = Path(root)
    v, t = root / "validation_list.txt", root / "testing_list.txt"
    if not (v.is_file() and t.is_file()):
        return None
    read = lambda p: {ln.strip() for ln in p.read_text(encoding="utf-8", errors="replace").splitlines()  # noqa: E731
                      if ln.strip()}
    return {"validation": read(v), "testing": read(t)}


def load_background_noise(root: str | Path, sample_rate: int = 16000,
                          skipped: list[str] | None = None) -> list[np.ndarray]:
    """The long noise recordings of ``_background_noise_/`` as float32 arrays (resampled if needed).

    A file that cannot be read is left out and named on stderr (and added to ``skipped`` if given):
    one bad noise file never stops a run.
    """
    d = Path(root) / BACKGROUND_DIR
    out = []
    for f in sorted(d.glob("*.wav")) if d.is_dir() else []:
        try:
            x, _ = read_wav(f, sample_rate, allow_resample=True, allow_stereo=True)
        except WavError as e:
            print(f"tinymlkit: background noise file skipped: {printable(str(e))}", file=sys.stderr)
            if skipped is not None:
                skipped.append(str(e))
            continue
        out.append(x)
    return out


@dataclasses.dataclass
class KwsDataset:
    """A keyword task drawn from a folder: per split, (file or None for made silence, label index)."""

    root: Path
    """Dataset folder."""
    labels: tuple[str, ...]
    """Output labels in order."""
    items: dict[str, list[tuple[Path | None, int]]]
    """Per split: the clips and their label indices; None is a silence clip made from noise."""
    background: list[np.ndarray]
    """Background-noise recordings for silence and augmentation."""
    split_method: str
    """How the splits were made, in words."""
    skipped: list[str]
    """Files left out, with the reason."""

    def counts(self) -> dict[str, dict[str, int]]:
        """Per split, the number of clips of each label."""
        return {s: {self.labels[k]: v for k, v in sorted(Counter(i for _, i in its).items())}
                for s, its in self.items.items()}


def _assign_splits(clips: Sequence[Clip], root: Path, task: KwsTaskConfig) -> tuple[dict[str, str], str]:
    lists = read_split_lists(root)
    if lists is not None and not task.split_salt:
        where = {}
        for c in clips:
            where[c.rel] = ("validation" if c.rel in lists["validation"]
                            else "testing" if c.rel in lists["testing"] else "training")
        return where, f"the dataset's own validation_list.txt and testing_list.txt in {root}"
    salt = task.split_salt
    where = {c.rel: which_set(c.path.name, task.validation_percentage, task.testing_percentage, salt)
             for c in clips}
    method = (f"official Speech Commands hash split ({task.validation_percentage:g} % validation, "
              f"{task.testing_percentage:g} % test)" + (f" with salt {salt!r}" if salt else ""))
    speech = [c for c in clips if c.word != "_silence_"]  # silence files have no speaker to hash
    if speech and not any(where[c.rel] == "training" for c in speech):
        # A folder taken from the official test split (all of it hashes to 'testing'): re-split by speaker.
        salt = salt or "tinymlkit-resplit"
        where = {c.rel: which_set(c.path.name, task.validation_percentage, task.testing_percentage, salt)
                 for c in clips}
        method = (f"speaker-disjoint re-split with salt {salt!r}: the official split put no clip of {root} "
                  f"in training (it is part of the official test set)")
        print(f"tinymlkit: {method}", file=sys.stderr)
    return where, method


def build_dataset(root: str | Path, task: KwsTaskConfig = KwsTaskConfig(), seed: int = 1234,
                  validate: bool = True, sample_rate: int = 16000) -> KwsDataset:
    """Draw a keyword task from a Speech Commands style folder, split by speaker.

    Keyword clips keep their word; other words become ``unknown`` at ``unknown_percentage`` of the
    keyword clips of each split; ``silence`` takes the folder's silence clips, topped up with clips
    cut from background noise, to ``silence_percentage``. With ``validate``, each file's header is
    checked and bad files are reported in ``skipped`` instead of stopping the run.
    """
    root = Path(root)
    labels = task.labels
    word_index = {w: i for i, w in enumerate(labels)}
    clips = scan_folder(root)
    skipped: list[str] = []
    if validate:
        good = []
        for c in clips:
            try:
                read_wav(c.path, sample_rate)
                good.append(c)
            except WavError as e:
                skipped.append(str(e))
        if skipped:
            print(f"tinymlkit: skipped {len(skipped)} bad file(s) in {root}:", file=sys.stderr)
            for s in skipped[:10]:
                print(f"  {printable(s)}", file=sys.stderr)
        clips = good
    missing = [w for w in task.words if not any(c.word == w for c in clips)]
    if missing:
        raise KitError(f"{root}: no clips for keyword(s) {missing}; folders found: "
                       f"{sorted({c.rel.split('/')[0] for c in clips})}")
    where, method = _assign_splits(clips, root, task)
    rng = np.random.default_rng(seed)
    items: dict[str, list[tuple[Path | None, int]]] = {s: [] for s in SPLITS}
    unknown: dict[str, list[Path]] = defaultdict(list)
    silence: dict[str, list[Path]] = defaultdict(list)
    for c in clips:
        split = where[c.rel]
        if c.word in word_index and c.word not in (task.silence_label, task.unknown_label):
            items[split].append((c.path, word_index[c.word]))
        elif c.word == "_silence_":
            silence[split].append(c.path)
        else:
            unknown[split].append(c.path)
    background = load_background_noise(root, sample_rate, skipped)
    for split in SPLITS:
        n_words = len(items[split])
        n_unknown = min(len(unknown[split]), math.ceil(n_words * task.unknown_percentage / 100))
        picks = rng.permutation(len(unknown[split]))[:n_unknown]
        items[split] += [(unknown[split][int(i)], word_index[task.unknown_label]) for i in picks]
        n_silence = math.ceil(n_words * task.silence_percentage / 100)
        have = silence[split][:n_silence] if n_silence else []
        items[split] += [(p, word_index[task.silence_label]) for p in have]
        items[split] += [(None, word_index[task.silence_label])] * (n_silence - len(have))
        order = rng.permutation(len(items[split]))
        items[split] = [items[split][int(i)] for i in order]
    return KwsDataset(root, labels, items, background, method, skipped)


def clip_for(path: Path | None, sample_rate: int = 16000, samples: int = 16000) -> np.ndarray:
    """Audio of a dataset item: the file's clip, or zeros for a made silence clip (noise is added later)."""
    if path is None:
        return np.zeros(samples, dtype=np.float32)
    return load_clip(path, sample_rate, samples)


def _find_label(labels: Sequence[str], names: Sequence[str]) -> int | None:
    for n in names:
        if n in labels:
            return list(labels).index(n)
    return None


def label_items(root: str | Path, labels: Sequence[str], sample_rate: int = 16000
                ) -> tuple[list[tuple[Path, int]], list[str]]:
    """Every clip of a folder with its label index for scoring a model, and the files skipped (with why).

    A word among the labels keeps its label; ``_silence_`` clips count as the silence label; any
    other word counts as the unknown label where the labels have one, and is skipped otherwise.
    """
    silence = _find_label(labels, ("silence", "_silence_"))
    unknown = _find_label(labels, ("unknown", "_unknown_"))
    items, skipped = [], []
    for c in scan_folder(root):
        if c.word in labels:
            y = list(labels).index(c.word)
        elif c.word == "_silence_" and silence is not None:
            y = silence
        elif c.word != "_silence_" and unknown is not None:
            y = unknown
        else:
            skipped.append(f"{c.path}: '{c.word}' is not among the labels {list(labels)}")
            continue
        try:
            read_wav(c.path, sample_rate)
        except WavError as e:
            skipped.append(str(e))
            continue
        items.append((c.path, y))
    return items, skipped
