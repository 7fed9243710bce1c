"""Downloads that survive a dropped connection: resume with HTTP Range, verify SHA-256, safe extraction."""
from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
import sys
import tarfile
import urllib.error
import urllib.request
from pathlib import Path

from ..errors import KitError
from ..paths import dataset_dir

__all__ = ["RemoteFile", "SPEECH_COMMANDS_V2", "download", "sha256_of", "extract_tar", "download_speech_commands"]


@dataclasses.dataclass(frozen=True)
class RemoteFile:
    """A file to fetch and how to know it arrived whole."""

    url: str
    """Where it is."""
    sha256: str | None
    """Expected SHA-256 (hex); None skips the check."""
    size: int | None
    """Expected size in bytes, if known (for the progress bar and an early check)."""


# Size and checksum as recorded by TensorFlow Datasets (url_checksums/speech_commands.txt).
SPEECH_COMMANDS_V2 = RemoteFile(
    url="http://download.tensorflow.org/data/speech_commands_v0.02.tar.gz",
    sha256="af14739ee7dc311471de98f5f9d2c9191b18aedfe957f4a6ff791c709868ff58",
    size=2428923189,
)


def sha256_of(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """SHA-256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def download(remote: RemoteFile, dest: str | os.PathLike[str], progress: bool = True, timeout: float = 60.0,
             attempts: int = 5) -> Path:
    """Fetch ``remote`` to ``dest``; resumes a partial ``dest.part`` and checks the checksum.

    An interrupted transfer keeps what arrived; the next call (or the next attempt here) asks the
    server for the rest with a Range request. The finished file only appears under ``dest`` once
    its checksum matches.
    """
    dest = Path(dest)
    if dest.is_file() and (remote.sha256 is None or sha256_of(dest) == remote.sha256):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    last_error: Exception | None = None
    for _ in range(attempts):
        try:
            _fetch_into(remote, part, progress, timeout)
            last_error = None
            break
        except (urllib.error.URLError, OSError, TimeoutError) as e:
            if isinstance(e, urllib.error.HTTPError) and e.code not in (408, 429, 500, 502, 503, 504):
                raise KitError(f"{remote.url}: the server answered {e.code} {e.reason}") from None
            last_error = e
            print(f"tinymlkit: download interrupted ({e}); resuming", file=sys.stderr)
    if last_error is not None:
        raise KitError(f"{remote.url}: could not download ({last_error}). Check the network connection and "
                       f"run the same command again: it resumes from {part} ({part.stat().st_size if part.exists() else 0} "
                       f"bytes so far)") from None
    if remote.sha256 is not None:
        got = sha256_of(part)
        if got != remote.sha256:
            part.unlink()
            raise KitError(f"{remote.url}: checksum mismatch (SHA-256 {got}, expected {remote.sha256}); "
                           "the damaged download was deleted, run again to fetch it anew")
    os.replace(part, dest)
    return dest


def _fetch_into(remote: RemoteFile, part: Path, progress: bool, timeout: float) -> None:
    have = part.stat().st_size if part.exists() else 0
    if remote.size is not None and have == remote.size:
        return
    req = urllib.request.Request(remote.url, headers={"Range": f"bytes={have}-"} if have else {})
    # A fresh opener reads the proxy settings now; urlopen's global one keeps those of its first use.
    with urllib.request.build_opener().open(req, timeout=timeout) as resp:
        if have and resp.status != 206:  # the server ignored the Range: start over
            have = 0
        total = remote.size
        length = resp.headers.get("Content-Length")
        if total is None and length is not None:
            total = have + int(length)
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=total, initial=have, unit="B", unit_scale=True, desc=Path(remote.url).name)
        with open(part, "ab" if have else "wb") as f:
            while block := resp.read(1 << 16):
                f.write(block)
                if bar is not None:
                    bar.update(len(block))
        if bar is not None:
            bar.close()
    got = part.stat().st_size
    if total is not None and got < total:
        raise OSError(f"connection closed after {got} of {total} bytes")


def extract_tar(archive: str | os.PathLike[str], out: str | os.PathLike[str], progress: bool = True) -> Path:
    """Extract a .tar(.gz) into ``out``, refusing members that would land outside it or are links."""
    out = Path(out)
    tmp = out.with_name(out.name + ".extracting")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    root = tmp.resolve()
    with tarfile.open(archive) as tar:
        members = tar.getmembers()
        it = members
        if progress:
            from tqdm.auto import tqdm

            it = tqdm(members, desc=f"extracting {Path(archive).name}", unit="file")
        for m in it:
            target = (root / m.name).resolve()
            if not str(target).startswith(str(root) + os.sep) and target != root:
                raise KitError(f"{archive}: member {m.name!r} would be written outside {out}; not extracting")
            if m.issym() or m.islnk() or m.isdev():
                continue
            tar.extract(m, tmp, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)
    return out


def download_speech_commands(out: str | os.PathLike[str] | None = None, remote: RemoteFile = SPEECH_COMMANDS_V2,
                             progress: bool = True) -> Path:
    """Download and extract Speech Commands v0.02 (2.4 GB) once; returns the dataset folder."""
    out = Path(out) if out is not None else dataset_dir("speech_commands_v0.02")
    if (out / "validation_list.txt").is_file():
        return out
    archive = out.parent / Path(remote.url).name
    try:
        download(remote, archive, progress=progress)
    except KitError as e:
        raise KitError(f"{e}\nWithout a network: copy speech_commands_v0.02.tar.gz from a machine that has it "
                       f"to {archive} and run again, or train on the offline synthetic set (--synthetic).") from None
    return extract_tar(archive, out, progress=progress)
