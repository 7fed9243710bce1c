"""Downloads that survive a dropped connection: resume with HTTP Range, verify SHA-256, safe extraction."""
from __future__ import annotations

import dataclasses
import hashlib
import os
import socket
import sys
import tarfile
import urllib.error
import urllib.parse
import urllib.request
import zlib
from pathlib import Path

from ..errors import KitError
from ..files import (KIT_FOLDER_MARKER, check_free_space, check_output_folder, ensure_folder, is_kit_folder,
                     remove_kit_folder, replace_kit_folder)
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
    unpacked_size: int | None = None
    """Rough size of the extracted contents in bytes, if known (for the free-space check before downloading)."""


# Size and checksum as recorded by TensorFlow Datasets (url_checksums/speech_commands.txt).
SPEECH_COMMANDS_V2 = RemoteFile(
    url="http://download.tensorflow.org/data/speech_commands_v0.02.tar.gz",
    sha256="af14739ee7dc311471de98f5f9d2c9191b18aedfe957f4a6ff791c709868ff58",
    size=2428923189,
    # 105,829 one-second 16-bit clips of ~32 KB each plus the noise files: about 3.4 GB on disk.
    unpacked_size=3_400_000_000,
)

_RETRYABLE = (408, 429, 500, 502, 503, 504)


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
    ensure_folder(dest.parent)
    part = dest.with_name(dest.name + ".part")
    last_error: Exception | None = None
    restarted = False
    for _ in range(max(1, attempts)):
        try:
            _fetch_into(remote, part, progress, timeout)
            last_error = None
            break
        except _StartOver as e:
            # The partial file cannot be the start of this archive; resuming would never end. Start over once.
            part.unlink(missing_ok=True)
            if restarted:
                raise KitError(f"{remote.url}: {e}, even after starting the download anew; the server's file "
                               "may be changing, try again later") from None
            restarted = True
            last_error = e
            print(f"tinymlkit: {e}; starting the download anew", file=sys.stderr)
        except (urllib.error.URLError, OSError, TimeoutError) as e:
            if isinstance(e, urllib.error.URLError) and isinstance(e.reason, socket.gaierror):
                # The host name does not resolve: no network (or a typo). Retrying at once will not help.
                raise KitError(f"{remote.url}: cannot reach {urllib.parse.urlsplit(remote.url).hostname} (no network, "
                               f"or the name does not resolve: {e.reason.strerror or e.reason}). Connect and run the "
                               "same command again; a partial download resumes") from None
            if isinstance(e, urllib.error.HTTPError) and e.code not in _RETRYABLE:
                raise KitError(f"{remote.url}: the server answered {e.code} {e.reason}") from None
            if isinstance(e, OSError) and not isinstance(e, (urllib.error.URLError, TimeoutError, ConnectionError)) \
                    and e.errno is not None and e.filename is not None:
                raise  # a local disk problem (full, read-only): retrying will not help
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


class _StartOver(Exception):
    """The partial download is longer than the file on the server (HTTP 416, or more than its size)."""


def _fetch_into(remote: RemoteFile, part: Path, progress: bool, timeout: float) -> None:
    have = part.stat().st_size if part.exists() else 0
    if remote.size is not None and have == remote.size:
        return
    if remote.size is not None and have > remote.size:
        raise _StartOver(f"{part} holds {have} bytes, more than the {remote.size} of the whole file")
    req = urllib.request.Request(remote.url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        # A fresh opener reads the proxy settings now; urlopen's global one keeps those of its first use.
        resp = urllib.request.build_opener().open(req, timeout=timeout)
    except urllib.error.HTTPError as e:
        if e.code == 416 and have:
            total = _total_from_content_range(e.headers.get("Content-Range"))
            if total is not None and total == have:
                return  # the partial file is already whole
            raise _StartOver(f"the server has no bytes after the {have} already in {part} (HTTP 416)") from None
        raise
    with resp:
        if have and resp.status != 206:  # the server ignored the Range: start over
            have = 0
        total = remote.size
        length = resp.headers.get("Content-Length")
        if total is None and length is not None and length.isdigit():
            total = have + int(length)
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=total, initial=have, unit="B", unit_scale=True, desc=Path(remote.url).name)
        try:
            with open(part, "ab" if have else "wb") as f:
                while block := resp.read(1 << 16):
                    f.write(block)
                    if bar is not None:
                        bar.update(len(block))
                    if total is not None and f.tell() > total:
                        raise _StartOver(f"the server sent more than the {total} bytes expected")
        finally:
            if bar is not None:
                bar.close()
    got = part.stat().st_size
    if total is not None and got < total:
        raise OSError(f"connection closed after {got} of {total} bytes")


def _total_from_content_range(value: str | None) -> int | None:
    # 'bytes */1234' (RFC 9110, 14.4) on a 416 answer.
    if not value or "/" not in value:
        return None
    tail = value.rsplit("/", 1)[1].strip()
    return int(tail) if tail.isdigit() else None


def extract_tar(archive: str | os.PathLike[str], out: str | os.PathLike[str], progress: bool = True) -> Path:
    """Extract a .tar(.gz) into ``out``, refusing members that would land outside it or are links.

    The files go to ``out.extracting`` first and replace ``out`` only when all arrived; an existing
    ``out`` is replaced only if the kit made it (it holds the kit's marker) or it is empty.
    """
    out = Path(out)
    check_output_folder(out, f"the contents of {Path(archive).name}")
    tmp = out.with_name(out.name + ".extracting")
    if (tmp.exists() or tmp.is_symlink()) and not remove_kit_folder(tmp):
        raise KitError(f"{tmp}: a folder the kit did not make is in the way of the extraction; move it away")
    ensure_folder(tmp)
    (tmp / KIT_FOLDER_MARKER).write_text('{"created_by": "tinymlkit", "holds": "an unfinished extraction"}\n',
                                         encoding="utf-8")
    try:
        root = tmp.resolve()
        try:
            tar = tarfile.open(archive)
        except (tarfile.TarError, EOFError) as e:
            raise KitError(f"{archive}: not a readable tar archive ({e}); delete it and run again to download "
                           "it anew") from None
        with tar:
            try:
                members = tar.getmembers()
            except (tarfile.TarError, EOFError, zlib.error) as e:
                raise KitError(f"{archive}: damaged archive ({e}); delete it and run again to download it anew") from None
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
                if Path(m.name).name == KIT_FOLDER_MARKER:
                    continue
                tar.extract(m, tmp, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
        return replace_kit_folder(tmp, out, f"the contents of {Path(archive).name}")
    except BaseException:
        remove_kit_folder(tmp)  # never leave a half extraction behind
        raise


def download_speech_commands(out: str | os.PathLike[str] | None = None, remote: RemoteFile = SPEECH_COMMANDS_V2,
                             progress: bool = True) -> Path:
    """Download and extract Speech Commands v0.02 (2.4 GB) once; returns the dataset folder.

    Everything that can be checked is checked before the download starts: the output folder must be
    new, empty or one the kit made, and the disk must have room for the archive and its contents.
    """
    out = Path(out) if out is not None else dataset_dir("speech_commands_v0.02")
    if is_kit_folder(out) and (out / "validation_list.txt").is_file():
        return out
    what = "Speech Commands"
    check_output_folder(out, what)
    archive = out.parent / Path(remote.url).name
    if archive.exists() and not archive.is_file():
        raise KitError(f"{archive}: is in the way of the download (not a file); move it away")
    part = archive.with_name(archive.name + ".part")
    have = archive.stat().st_size if archive.is_file() else part.stat().st_size if part.is_file() else 0
    needed = max(0, (remote.size or 0) - have) + (remote.unpacked_size or 0)
    if needed:
        check_free_space(out.parent, needed, f"downloading and extracting {Path(remote.url).name}")
    try:
        download(remote, archive, progress=progress)
    except KitError as e:
        raise KitError(f"{e} Without a network: copy speech_commands_v0.02.tar.gz from a machine that has it "
                       f"to {archive} and run again, or train on the offline synthetic set (--synthetic).") from None
    return extract_tar(archive, out, progress=progress)
