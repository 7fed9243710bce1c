"""Safe file writing: atomic replacement, create-only writes that never overwrite, and kit-owned folders.

A folder the kit creates for generated or downloaded data carries a marker file
(:data:`KIT_FOLDER_MARKER`); only such a folder may ever be replaced or deleted by the kit. A folder
without the marker holds someone's own files, and the kit refuses to write a data set over it.
"""
from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .errors import KitError

__all__ = [
    "KIT_FOLDER_MARKER",
    "atomic_write_bytes",
    "atomic_write_text",
    "atomic_path",
    "save_new_file",
    "ensure_folder",
    "is_kit_folder",
    "claim_kit_folder",
    "check_output_folder",
    "replace_kit_folder",
    "remove_kit_folder",
    "check_free_space",
]

KIT_FOLDER_MARKER = ".tinymlkit-folder.json"
"""File the kit writes into every folder it creates for data; its presence means 'the kit may replace this'."""

# How the create-only write places its file; tests force the fallback to check it.
_USE_HARD_LINKS = True


def ensure_folder(folder: str | os.PathLike[str]) -> Path:
    """Create ``folder`` (and parents) if missing; a clear error if it, or a parent, is a file."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        # mkdir says 'File exists' when the path (or a parent) is a file: say what is wrong instead.
        raise NotADirectoryError(errno.ENOTDIR, "exists and is a file, not a folder", str(_first_file(folder))) from None
    except NotADirectoryError as e:
        raise NotADirectoryError(errno.ENOTDIR, "a part of this path is a file, not a folder",
                                 str(_first_file(folder) or e.filename)) from None
    return folder


def _first_file(folder: Path) -> Path | None:
    for p in [*reversed(folder.parents), folder]:
        if p.exists() and not p.is_dir():
            return p
    return None


def _write_temp(path: Path, data: bytes) -> str:
    ensure_folder(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        # mkstemp makes the file private (0600); give it the permissions any new file would get.
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return tmp


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write a file so that readers see the old file or the whole new one, never a part."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a folder, a file was expected", str(path))
    tmp = _write_temp(path, data)
    try:
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Text version of :func:`atomic_write_bytes` (UTF-8)."""
    return atomic_write_bytes(path, text.encode("utf-8"))


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """A temporary name beside ``path`` (same suffix) for writers that need a path; moved into place on success.

    Use it for files written by other libraries (``model.save``, ``fig.savefig``)::

        with atomic_path(run / "model.keras") as tmp:
            model.save(tmp)

    Readers see the old file or the whole new one; on an error the temporary file is removed.
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a folder, a file was expected", str(path))
    ensure_folder(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    tmp_path.unlink()  # some writers refuse an existing file; the unique name stays ours in practice
    try:
        yield tmp_path
        if not tmp_path.exists():
            raise FileNotFoundError(errno.ENOENT, "the writer created no file", str(tmp_path))
        umask = os.umask(0)
        os.umask(umask)
        if tmp_path.is_file():
            os.chmod(tmp_path, 0o666 & ~umask)
        os.replace(tmp_path, path)
    finally:
        if tmp_path.is_dir() and not tmp_path.is_symlink():
            shutil.rmtree(tmp_path, ignore_errors=True)
        else:
            tmp_path.unlink(missing_ok=True)


def _exists_error(path: Path) -> FileExistsError:
    return FileExistsError(f"{path}: already exists; the kit never overwrites a recording")


def save_new_file(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically and only if ``path`` does not exist yet.

    The bytes go to a temporary file in the same folder, are flushed to disk, then hard-linked
    into place, which fails rather than replace an existing file: nothing recorded is ever lost,
    and a reader never sees half a file. Where hard links are unavailable (FAT, exFAT, some network
    and cloud mounts) the name is claimed with a create-exclusive open (O_EXCL) and written in place,
    so two writers can never both take one name; a failed write removes only the file it created.
    """
    path = Path(path)
    if path.exists() or path.is_symlink():
        raise _exists_error(path)
    tmp = _write_temp(path, data)
    try:
        try:
            if not _USE_HARD_LINKS:
                raise OSError(errno.EPERM, "hard links disabled")
            os.link(tmp, path)
            return path
        except FileExistsError:
            raise _exists_error(path) from None
        except OSError:
            pass  # file systems without hard links: fall through to the create-exclusive write
    finally:
        Path(tmp).unlink(missing_ok=True)
    _write_exclusive(path, data)
    return path


def _write_exclusive(path: Path, data: bytes) -> None:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags, 0o666)
    except FileExistsError:
        raise _exists_error(path) from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        # The name is ours (O_EXCL made it): a half-written file must not stay behind as a recording.
        path.unlink(missing_ok=True)
        raise


def is_kit_folder(folder: str | os.PathLike[str]) -> bool:
    """True if ``folder`` was created by the kit (it holds the marker file)."""
    return (Path(folder) / KIT_FOLDER_MARKER).is_file()


def check_output_folder(folder: str | os.PathLike[str], what: str, flag: str = "--out") -> Path:
    """Refuse an output folder the kit must not fill or replace: a file, '.', or someone's non-empty folder.

    Returns the folder (which may not exist yet). Nothing is created or changed here, so it can run
    before a long download.
    """
    folder = Path(folder)
    if folder.is_symlink() and not folder.exists():
        raise KitError(f"{flag} {folder}: a broken symbolic link; remove it or choose another folder")
    if folder.exists() and not folder.is_dir():
        raise KitError(f"{flag} {folder}: exists and is a file, not a folder; choose a new folder for {what}")
    resolved = folder.resolve()
    if resolved == Path.cwd().resolve() or resolved == Path(resolved.anchor) or resolved == Path.home().resolve():
        raise KitError(f"{flag} {folder}: the current, home or root folder; give a new folder of its own for {what} "
                       f"(e.g. {flag} {folder / 'data'})")
    if folder.is_dir() and not is_kit_folder(folder):
        try:
            has_files = any(True for _ in folder.iterdir())
        except OSError as e:
            raise KitError(f"{flag} {folder}: cannot read the folder ({e.strerror or e})") from None
        if has_files:
            raise KitError(f"{flag} {folder}: the folder already holds files the kit did not create; the kit never "
                           f"replaces them. Choose a new or empty folder for {what}")
    return folder


def claim_kit_folder(folder: str | os.PathLike[str], what: str, flag: str = "--out") -> Path:
    """Create ``folder`` for ``what`` (or take over an empty one) and mark it as the kit's own."""
    folder = check_output_folder(folder, what, flag)
    ensure_folder(folder)
    if not is_kit_folder(folder):
        atomic_write_text(folder / KIT_FOLDER_MARKER,
                          json.dumps({"created_by": "tinymlkit", "holds": what}, indent=2) + "\n")
    return folder


def replace_kit_folder(new: str | os.PathLike[str], folder: str | os.PathLike[str], what: str,
                       flag: str = "--out") -> Path:
    """Put the finished folder ``new`` in place of ``folder``; an old ``folder`` must be the kit's own.

    ``new`` gets the marker. An existing ``folder`` without the marker is never deleted (KitError).
    """
    new, folder = Path(new), Path(folder)
    check_output_folder(folder, what, flag)
    if not is_kit_folder(new):
        atomic_write_text(new / KIT_FOLDER_MARKER,
                          json.dumps({"created_by": "tinymlkit", "holds": what}, indent=2) + "\n")
    if folder.is_dir():
        # Empty or marked by the kit (checked above): move it aside first, so a crash leaves one whole copy.
        old = folder.with_name(folder.name + ".old")
        remove_kit_folder(old)
        if old.exists():
            raise KitError(f"{old}: in the way and not the kit's; move it away and run again")
        folder.rename(old)
        new.rename(folder)
        remove_kit_folder(old)
    else:
        new.rename(folder)
    return folder


def remove_kit_folder(folder: str | os.PathLike[str]) -> bool:
    """Delete ``folder`` only if the kit made it (marker present) or it is empty; True if it is gone."""
    folder = Path(folder)
    if not folder.exists() and not folder.is_symlink():
        return True
    if folder.is_symlink() or not folder.is_dir():
        return False
    if is_kit_folder(folder):
        shutil.rmtree(folder)
        return True
    try:
        folder.rmdir()  # empty
        return True
    except OSError:
        return False


def check_free_space(folder: str | os.PathLike[str], needed: int, what: str) -> None:
    """KitError if the disk holding ``folder`` (or its nearest existing parent) has less than ``needed`` bytes free."""
    p = Path(folder).absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    try:
        free = shutil.disk_usage(p).free
    except OSError:
        return  # cannot tell: the write itself will say
    if free < needed:
        raise KitError(f"{folder}: {what} needs {needed / 1e9:.1f} GB but the disk has {free / 1e9:.1f} GB free; "
                       "free some space or choose a folder on another disk")
