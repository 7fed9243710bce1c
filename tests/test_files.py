"""Safe file writing: atomic writes, create-only saves (with and without hard links), kit-owned folders."""
from __future__ import annotations

import errno
import os
import threading
from pathlib import Path

import pytest

from tinymlkit import files
from tinymlkit.errors import KitError
from tinymlkit.files import (KIT_FOLDER_MARKER, atomic_path, atomic_write_bytes, check_free_space, check_output_folder,
                             claim_kit_folder, ensure_folder, is_kit_folder, remove_kit_folder, replace_kit_folder,
                             save_new_file)


@pytest.fixture(params=["hard links", "no hard links"])
def link_mode(request, monkeypatch):
    """Run a test with hard links, then as on FAT/exFAT/network mounts where os.link fails."""
    if request.param == "no hard links":
        def no_link(src, dst, *a, **k):
            raise OSError(errno.EPERM, "Operation not permitted (no hard links on this file system)", str(src))

        monkeypatch.setattr(os, "link", no_link)
    return request.param


def test_save_new_file_never_overwrites(tmp_path, link_mode):
    path = tmp_path / "clip.wav"
    save_new_file(path, b"first")
    with pytest.raises(FileExistsError, match="never overwrites"):
        save_new_file(path, b"second")
    assert path.read_bytes() == b"first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.wav"]  # no temporary file left


def test_two_writers_racing_for_one_name_never_overwrite(tmp_path, link_mode, monkeypatch):
    # The race the old fallback lost: both writers see 'no file yet', then both place theirs.
    path = tmp_path / "clip.wav"
    real_exists = Path.exists
    barrier = threading.Barrier(2, timeout=10)

    def exists_then_wait(self, *a, **k):
        result = real_exists(self, *a, **k)
        if self == path:
            try:
                barrier.wait()
            except threading.BrokenBarrierError:
                pass
        return result

    monkeypatch.setattr(Path, "exists", exists_then_wait)
    outcomes: dict[bytes, str] = {}

    def writer(data: bytes) -> None:
        try:
            save_new_file(path, data)
            outcomes[data] = "saved"
        except FileExistsError:
            outcomes[data] = "refused"

    threads = [threading.Thread(target=writer, args=(d,)) for d in (b"A" * 1000, b"B" * 1000)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert sorted(outcomes.values()) == ["refused", "saved"], outcomes
    winner = next(d for d, o in outcomes.items() if o == "saved")
    assert path.read_bytes() == winner


def test_fallback_write_error_removes_only_its_own_file(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "_USE_HARD_LINKS", False)
    path = tmp_path / "frame.png"
    real_fdopen = os.fdopen
    calls = {"n": 0}

    class Full:
        def __init__(self, f):
            self.f = f

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")

        def flush(self):
            pass

        def fileno(self):
            return self.f.fileno()

    def fdopen(fd, *a, **k):
        calls["n"] += 1
        f = real_fdopen(fd, *a, **k)
        return Full(f) if calls["n"] == 2 else f  # the temp copy works; the in-place write hits a full disk

    monkeypatch.setattr(os, "fdopen", fdopen)
    with pytest.raises(OSError, match="No space"):
        save_new_file(path, b"data")
    assert list(tmp_path.iterdir()) == []


def test_a_file_in_place_of_the_folder_is_an_error_not_a_loop(tmp_path, link_mode):
    (tmp_path / "yes").write_bytes(b"not a folder")
    with pytest.raises(NotADirectoryError, match="not a folder"):
        save_new_file(tmp_path / "yes" / "a.wav", b"x")
    with pytest.raises(NotADirectoryError):
        ensure_folder(tmp_path / "yes" / "deeper")
    assert (tmp_path / "yes").read_bytes() == b"not a folder"


def test_atomic_write_replaces_whole_and_refuses_a_folder(tmp_path):
    p = tmp_path / "a.json"
    atomic_write_bytes(p, b"1")
    atomic_write_bytes(p, b"22")
    assert p.read_bytes() == b"22"
    (tmp_path / "d").mkdir()
    with pytest.raises(IsADirectoryError):
        atomic_write_bytes(tmp_path / "d", b"x")
    assert sorted(x.name for x in tmp_path.iterdir()) == ["a.json", "d"]


def test_atomic_path_for_writers_that_need_a_path(tmp_path):
    target = tmp_path / "model.keras"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            assert tmp.suffix == ".keras" and tmp.parent == tmp_path
            tmp.write_bytes(b"half")
            raise RuntimeError("crash while saving")
    assert target.read_bytes() == b"old" and sorted(p.name for p in tmp_path.iterdir()) == ["model.keras"]
    with atomic_path(target) as tmp:
        tmp.write_bytes(b"new")
    assert target.read_bytes() == b"new" and sorted(p.name for p in tmp_path.iterdir()) == ["model.keras"]


def test_output_folder_rules(tmp_path, monkeypatch):
    mine = tmp_path / "recordings"
    mine.mkdir()
    (mine / "take1.wav").write_bytes(b"precious")
    with pytest.raises(KitError, match="did not create"):
        check_output_folder(mine, "a data set")
    (tmp_path / "afile").write_bytes(b"x")
    with pytest.raises(KitError, match="is a file"):
        check_output_folder(tmp_path / "afile", "a data set")
    monkeypatch.chdir(tmp_path / "recordings")
    with pytest.raises(KitError, match="current, home or root"):
        check_output_folder(Path("."), "a data set")
    # New and empty folders are fine; claiming marks them.
    assert check_output_folder(tmp_path / "new", "x") == tmp_path / "new" and not (tmp_path / "new").exists()
    (tmp_path / "empty").mkdir()
    claim_kit_folder(tmp_path / "empty", "x")
    assert is_kit_folder(tmp_path / "empty")
    (tmp_path / "empty" / "data.bin").write_bytes(b"kit data")
    check_output_folder(tmp_path / "empty", "x")  # the kit's own: allowed


def test_replace_and_remove_only_touch_the_kits_folders(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "take1.wav").write_bytes(b"precious")
    assert remove_kit_folder(mine) is False and (mine / "take1.wav").read_bytes() == b"precious"
    new = tmp_path / "new"
    new.mkdir()
    (new / "a.txt").write_text("a")
    with pytest.raises(KitError, match="did not create"):
        replace_kit_folder(new, mine, "a data set")
    assert (mine / "take1.wav").read_bytes() == b"precious"
    out = tmp_path / "out"
    replace_kit_folder(new, out, "a data set")
    assert (out / "a.txt").read_text() == "a" and (out / KIT_FOLDER_MARKER).is_file()
    again = tmp_path / "again"
    again.mkdir()
    (again / "b.txt").write_text("b")
    replace_kit_folder(again, out, "a data set")  # the kit's own folder may be replaced
    assert (out / "b.txt").read_text() == "b" and not (out / "a.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine", "out"]


def test_free_space_check(tmp_path):
    check_free_space(tmp_path / "not" / "yet", 1, "a small file")
    with pytest.raises(KitError, match="GB free"):
        check_free_space(tmp_path, 1 << 60, "an impossible download")
