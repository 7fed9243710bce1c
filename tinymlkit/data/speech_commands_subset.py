"""Only what a keyword task needs from Speech Commands: chosen words, a sample of the others, the noise.

The full v0.02 archive is 2.4 GB (3.4 GB unpacked). Here it is read as a stream, straight from the
server through gzip and tar, and only the wanted members are written: every clip of the chosen words,
a fixed share of the other words (for 'unknown'), the ``_background_noise_`` recordings, the split
lists and the licence. Nothing else touches the disk, so a yes/no task needs about 300 MB.

Resume: clips already written are kept and skipped when the command runs again (the choice of
'unknown' clips is a hash of the file name, so every run picks the same ones). A gzip stream cannot
be restarted in the middle, so an interrupted run reads the archive again from its start, without
writing what it already has. The archive's SHA-256 is checked as it streams; the folder is marked
complete only when the whole archive arrived and matched.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
import tarfile
import urllib.error
import urllib.request
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import KitError
from ..files import atomic_write_bytes, atomic_write_text, claim_kit_folder, ensure_folder, is_kit_folder
from ..paths import dataset_dir
from .download import SPEECH_COMMANDS_V2, RemoteFile

__all__ = ["SubsetSpec", "download_speech_commands_subset", "wanted_member", "STATE_FILE"]

STATE_FILE = ".subset.json"
"""What the folder holds and whether the last run finished (written by the kit)."""
BACKGROUND = "_background_noise_"
_KEEP_FILES = ("validation_list.txt", "testing_list.txt", "LICENSE", "README.md")


@dataclasses.dataclass(frozen=True)
class SubsetSpec:
    """Which members of the Speech Commands archive a task keeps."""

    words: tuple[str, ...] = ("yes", "no")
    """Keyword folders kept whole."""
    unknown_share: float = 0.1
    """Share (0..1) of every other word's clips kept for the 'unknown' class, chosen by file-name hash."""
    background: bool = True
    """Keep the background-noise recordings (for silence and augmentation)."""


def _share_of(name: str) -> float:
    """A number in [0, 1) fixed by the file name, so every run keeps the same 'unknown' clips."""
    return int(hashlib.sha1(name.encode("utf-8")).hexdigest()[:8], 16) / 2**32


def wanted_member(name: str, spec: SubsetSpec) -> str | None:
    """The relative path to write for a tar member, or None to skip it."""
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        return None
    if len(parts) == 1 and parts[0] in _KEEP_FILES:
        return parts[0]
    if len(parts) != 2 or not parts[1].lower().endswith(".wav"):
        return None
    folder, base = parts
    if folder == BACKGROUND:
        return f"{folder}/{base}" if spec.background else None
    if folder in spec.words:
        return f"{folder}/{base}"
    if folder.startswith("_"):
        return None
    return f"{folder}/{base}" if _share_of(f"{folder}/{base}") < spec.unknown_share else None


class _HashingReader:
    """A file-like wrapper that hashes and counts what passes through (and drives a progress bar)."""

    def __init__(self, raw: Any, bar: Any = None) -> None:
        self.raw, self.bar, self.sha, self.count = raw, bar, hashlib.sha256(), 0

    def read(self, n: int = -1) -> bytes:
        block = self.raw.read(n)
        self.sha.update(block)
        self.count += len(block)
        if self.bar is not None:
            self.bar.update(len(block))
        return block


def _read_state(out: Path) -> dict[str, Any]:
    try:
        return json.loads((out / STATE_FILE).read_text())
    except (OSError, ValueError):
        return {}


def download_speech_commands_subset(out: str | Path | None = None, words: Sequence[str] = ("yes", "no"),
                                    unknown_share: float = 0.1, background: bool = True,
                                    remote: RemoteFile = SPEECH_COMMANDS_V2, progress: bool = True,
                                    timeout: float = 60.0) -> Path:
    """Stream the Speech Commands archive and keep only a task's part of it; returns the dataset folder.

    ``words`` are kept whole, ``unknown_share`` of each other word's clips are kept for 'unknown',
    and the noise recordings and split lists always. Run again after an interruption to finish
    (clips already there are not written again). Speaker ids stay in the file names, so the official
    hash split gives the same split as on the full dataset.
    """
    if not 0.0 <= unknown_share <= 1.0:
        raise KitError(f"--unknown-share {unknown_share}: give a share between 0 and 1, such as 0.1")
    spec = SubsetSpec(tuple(words), float(unknown_share), background)
    for w in spec.words:
        if not w or "/" in w or w.startswith((".", "_")):
            raise KitError(f"--words: {w!r} is not a Speech Commands word folder")
    out = Path(out) if out is not None else dataset_dir("speech_commands_subset")
    # Through JSON and back, so it compares equal to what the state file holds (lists, not tuples).
    wanted = json.loads(json.dumps({"spec": dataclasses.asdict(spec), "url": remote.url, "sha256": remote.sha256}))
    state = _read_state(out) if is_kit_folder(out) else {}
    if state.get("complete") and state.get("wanted") == wanted:
        return out
    claim_kit_folder(out, "a Speech Commands subset")
    atomic_write_text(out / STATE_FILE, json.dumps({"wanted": wanted, "complete": False}, indent=2) + "\n")
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=remote.size, unit="B", unit_scale=True, desc=f"{Path(remote.url).name} (streamed)")
    written = kept_before = 0
    try:
        try:
            resp = urllib.request.build_opener().open(urllib.request.Request(remote.url), timeout=timeout)
        except (urllib.error.URLError, OSError) as e:
            raise KitError(f"{remote.url}: cannot download ({getattr(e, 'reason', e)}); check the network and run "
                           "again, or train on the offline synthetic set (--synthetic)") from None
        with resp:
            reader = _HashingReader(resp, bar)
            try:
                with tarfile.open(fileobj=reader, mode="r|gz") as tar:
                    for m in tar:
                        rel = wanted_member(m.name, spec) if m.isfile() else None
                        if rel is None:
                            continue
                        dest = out / rel
                        if dest.is_file() and dest.stat().st_size == m.size:
                            kept_before += 1
                            continue
                        f = tar.extractfile(m)
                        if f is None:
                            continue
                        ensure_folder(dest.parent)
                        atomic_write_bytes(dest, f.read())
                        written += 1
                # Read to the end: the checksum covers the whole archive, tar's zero padding included.
                while reader.read(1 << 20):
                    pass
            except (tarfile.TarError, EOFError, zlib.error) as e:
                raise KitError(f"{remote.url}: the archive broke off or is damaged ({e}); {written} clip(s) were "
                               "saved; run the same command again to finish") from None
            except OSError as e:
                raise KitError(f"{remote.url}: the download stopped ({e}); {written} clip(s) were saved; run the "
                               "same command again to finish") from None
    finally:
        if bar is not None:
            bar.close()
    if remote.size is not None and reader.count != remote.size:
        raise KitError(f"{remote.url}: got {reader.count} bytes, expected {remote.size}; run again to finish")
    got = reader.sha.hexdigest()
    if remote.sha256 is not None and got != remote.sha256:
        raise KitError(f"{remote.url}: checksum mismatch (SHA-256 {got}, expected {remote.sha256}); the clips "
                       f"in {out} may be damaged: delete the folder and run again")
    counts: dict[str, int] = {}
    for d in sorted(p for p in out.iterdir() if p.is_dir()):
        counts[d.name] = sum(1 for f in d.glob("*.wav"))
    atomic_write_text(out / STATE_FILE, json.dumps({"wanted": wanted, "complete": True, "counts": counts},
                                                   indent=2) + "\n")
    print(f"tinymlkit: Speech Commands subset in {out}: {written} clip(s) written now, {kept_before} already there",
          file=sys.stderr)
    return out
