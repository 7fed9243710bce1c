"""Capture under faults: damaged frames, a board that vanishes, a folder that cannot be written.

Whatever happens, every saved file is whole and correct, nothing is overwritten or duplicated, and
running the same capture again continues where it stopped.
"""
from __future__ import annotations

import ctypes
import hashlib
import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from tinymlkit.audio.wav import read_wav
from tinymlkit.board.capture import CaptureError, capture, existing_numbers
from tinymlkit.board.virtual import VirtualBoard, generated_clip

ROOT = Path(__file__).resolve().parents[1]


def _clip(path: Path) -> np.ndarray:
    x, _ = read_wav(path, 16000)
    assert len(x) == 16000, path
    return np.round(x * 32768.0).astype(np.int16)


def _assert_folder_clean(folder: Path) -> None:
    leftovers = [f.name for f in folder.iterdir() if f.name.startswith(".") or f.suffix == ".part"]
    assert leftovers == [], f"temporary files left behind: {leftovers}"


def _digests(folder: Path) -> dict[str, str]:
    return {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in folder.iterdir()}


def test_damaged_frames_are_dropped_reported_and_asked_for_again(tmp_path):
    faults = {1: "garbage", 3: "cut", 5: "bad_crc", 7: "too_long", 9: "cut", 11: "bad_crc"}
    with VirtualBoard(board_id=0xAA, seed=5, faults=faults) as vb:
        report = capture(vb.port, "audio", "yes", 10, tmp_path, progress=False, log=lambda s: None)
    assert len(report.saved) == 10
    # Batch 1 (10 asked): frames 3, 5, 7, 9 lost; batch 2 (4 asked): frame 11 lost; batch 3: one more.
    assert report.requests == 3
    kept = [0, 1, 2, 4, 6, 8, 10, 12, 13, 14]
    for n, index in enumerate(kept):
        np.testing.assert_array_equal(_clip(tmp_path / "yes" / f"000000aa_nohash_{n}.wav"),
                                      generated_clip(index, seed=5))
    s = report.stats
    assert s.crc_errors >= 3 and s.bad_lengths >= 1 and s.cut_frames >= 1 and s.dropped_bytes > 0
    assert s.seq_gaps == 5  # the five lost frames, seen in the sequence numbers
    _assert_folder_clean(tmp_path / "yes")


def _start_board_process(*args: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", "tinymlkit.cli.virtual_board", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    port = proc.stdout.readline().strip()
    if not port.startswith("/dev/"):
        proc.kill()
        raise AssertionError(f"virtual board did not start: {proc.stderr.read()}")
    return proc, port


def test_board_killed_mid_capture_then_resumed(tmp_path):
    folder = tmp_path / "no"
    proc, port = _start_board_process("--board-id", "0badcafe", "--interval", "0.05", "--seed", "4")

    def kill_after_three() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if folder.is_dir() and len(list(folder.glob("*.wav"))) >= 3:
                proc.kill()
                return
            time.sleep(0.005)

    killer = threading.Thread(target=kill_after_three)
    killer.start()
    try:
        with pytest.raises(CaptureError) as e:
            capture(port, "audio", "no", 12, tmp_path, progress=False, log=lambda s: None)
    finally:
        killer.join()
        proc.kill()
        proc.wait(timeout=10)
    text = str(e.value)
    assert port in text and "disappeared" in text and "Run the same command again" in text
    numbers = existing_numbers(folder, "0badcafe", ".wav")
    k = len(numbers)
    assert 3 <= k < 12 and numbers == list(range(k))
    for n in range(k):  # every saved clip is whole and is the clip the board sent
        np.testing.assert_array_equal(_clip(folder / f"0badcafe_nohash_{n}.wav"), generated_clip(n, seed=4))
    _assert_folder_clean(folder)
    before = _digests(folder)

    proc, port = _start_board_process("--board-id", "0badcafe", "--seed", "4")
    try:
        report = capture(port, "audio", "no", 12, tmp_path, progress=False, log=lambda s: None)
    finally:
        proc.kill()
        proc.wait(timeout=10)
    assert report.already == k and len(report.saved) == 12 - k
    assert existing_numbers(folder, "0badcafe", ".wav") == list(range(12))
    after = _digests(folder)
    assert {name: after[name] for name in before} == before
    for n in range(k, 12):  # the new board's clip counter started again at 0
        np.testing.assert_array_equal(_clip(folder / f"0badcafe_nohash_{n}.wav"), generated_clip(n - k, seed=4))


# --- a folder that cannot be written ---------------------------------------------------------

_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH, _CAP_FOWNER = 1, 2, 3


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def _drop_root_file_override() -> None:
    """Make root obey file permissions in the calling thread only (Linux capabilities are per thread)."""
    libc = ctypes.CDLL(None, use_errno=True)
    header = _CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    data = (_CapData * 2)()
    if libc.capget(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capget failed")
    for bit in (_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH, _CAP_FOWNER):
        data[0].effective &= ~(1 << bit)
    if libc.capset(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capset failed")


def _run_as_plain_user(fn):
    """Run ``fn`` in a thread where folder permissions apply (as root: without the override capabilities)."""
    box: dict[str, object] = {}

    def target() -> None:
        try:
            if os.geteuid() == 0:
                _drop_root_file_override()
            box["value"] = fn()
        except BaseException as e:  # handed to the caller
            box["error"] = e

    t = threading.Thread(target=target)
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box.get("value")


def test_unwritable_folder_mid_capture_stops_cleanly_and_resumes(tmp_path):
    if not sys.platform.startswith("linux"):
        pytest.skip("the permission switch of this test uses Linux capabilities")
    folder = tmp_path / "up"
    seen: list[Path] = []

    def lock_after_three(path: Path) -> None:
        seen.append(path)
        if len(seen) == 3:
            os.chmod(folder, 0o555)  # as if the disk were full from here on

    with VirtualBoard(board_id=0xBB, seed=6, interval=0.01) as vb:
        try:
            with pytest.raises(CaptureError) as e:
                _run_as_plain_user(lambda: capture(vb.port, "audio", "up", 8, tmp_path, progress=False,
                                                   on_saved=lock_after_three, log=lambda s: None))
        except OSError as err:
            pytest.skip(f"cannot drop root's file-permission override here ({err})")
        finally:
            os.chmod(folder, 0o755)
        text = str(e.value)
        assert "cannot write" in text and str(folder) in text and "Permission denied" in text
        assert "disk full" in text and "holds 3 of 8" in text
        assert existing_numbers(folder, "000000bb", ".wav") == [0, 1, 2]
        _assert_folder_clean(folder)
        report = capture(vb.port, "audio", "up", 8, tmp_path, progress=False, log=lambda s: None)
    assert report.already == 3 and len(report.saved) == 5
    assert existing_numbers(folder, "000000bb", ".wav") == list(range(8))
    for n in range(8):
        assert len(_clip(folder / f"000000bb_nohash_{n}.wav")) == 16000
    _assert_folder_clean(folder)


def test_disk_full_while_writing_leaves_no_partial_file(tmp_path):
    """A write that fails half-way (file-size limit: EFBIG, like ENOSPC) through the command line."""
    with VirtualBoard(board_id=0xCC, seed=7) as vb:

        def limit_file_size() -> None:  # runs in the child before exec
            resource.setrlimit(resource.RLIMIT_FSIZE, (20000, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))

        r = subprocess.run([sys.executable, "-m", "tinymlkit", "capture", "audio", "--port", vb.port, "--label",
                            "yes", "--count", "3", "--out", str(tmp_path), "--no-progress"],
                           capture_output=True, text=True, cwd=ROOT, preexec_fn=limit_file_size, timeout=120)
        assert r.returncode == 2, r.stderr
        assert "cannot write" in r.stderr and "File too large" in r.stderr and "Run the same command again" in r.stderr
        assert r.stderr.count("\n") <= 3  # one clear message, no traceback
        folder = tmp_path / "yes"
        assert not folder.exists() or list(folder.iterdir()) == []
        report = capture(vb.port, "audio", "yes", 3, tmp_path, progress=False, log=lambda s: None)
    assert report.already == 0 and len(report.saved) == 3
    _assert_folder_clean(tmp_path / "yes")


# --- Hostile boards: text with control characters, malformed frames that pass their CRC -------------

import dataclasses  # noqa: E402

from tinymlkit.board import protocol as p  # noqa: E402
from tinymlkit.errors import KitError  # noqa: E402

EVIL = "\x1b[2J\x1b[H\rall clips saved\u202e\x07"


class HostileBoard(VirtualBoard):
    """The virtual board on its real pty, but with a hostile name, hostile log text and one malformed clip."""

    sent_bad = False

    def _hello(self) -> p.Hello:
        return dataclasses.replace(super()._hello(), name=EVIL)

    def _produce(self) -> None:
        job = self._job
        if job is not None and job.op == p.COMMANDS["CAPTURE_AUDIO"] and not self.sent_bad:
            self.sent_bad = True
            self._send(p.LogLine(p.LOG_LEVELS["INFO"], EVIL))
            # Valid CRC, nonsense inside: an odd number of sample bytes.
            self._send(p.AudioClip(16000, b"\x01\x02\x03"))
            return
        super()._produce()


@pytest.mark.timeout(60)
def test_a_malformed_frame_with_a_valid_crc_does_not_end_the_capture(tmp_path):
    logs: list[str] = []
    with HostileBoard(board_id=0xDD, seed=8) as vb:
        report = capture(vb.port, "audio", "yes", 3, tmp_path, progress=False, log=logs.append)
    assert len(report.saved) == 3
    assert existing_numbers(tmp_path / "yes", "000000dd", ".wav") == [0, 1, 2]
    text = "\n".join(logs)
    assert "malformed frame" in text
    assert "all clips saved" in text  # the log line is shown...
    for ch in ("\x1b", "\r", "\u202e", "\x07"):  # ...with no control character left in it
        assert ch not in text


@pytest.mark.timeout(60)
def test_board_text_reaches_the_terminal_without_control_characters(tmp_path):
    with HostileBoard(board_id=0xDE, seed=8) as vb:
        r = subprocess.run([sys.executable, "-m", "tinymlkit", "capture", "audio", "--port", vb.port, "--label",
                            "yes", "--count", "2", "--out", str(tmp_path), "--no-progress"],
                           capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr
    for ch in ("\x1b", "\r", "\u202e", "\x07"):
        assert ch not in r.stdout + r.stderr
    assert "all clips saved" in r.stderr


@pytest.mark.timeout(60)
def test_a_label_path_that_is_a_file_is_an_error_not_a_spin(tmp_path):
    (tmp_path / "yes").write_bytes(b"my notes")
    with VirtualBoard(board_id=0xEE) as vb:
        with pytest.raises(KitError, match="--label.*is a file"):
            capture(vb.port, "audio", "yes", 2, tmp_path, progress=False, log=lambda s: None)
    assert (tmp_path / "yes").read_bytes() == b"my notes"


@pytest.mark.parametrize("kwargs, message", [
    ({"count": 2**32}, "--count"),
    ({"count": 0}, "--count"),
    ({"timeout": float("nan")}, "--timeout"),
    ({"timeout": 0.0}, "--timeout"),
    ({"timeout": -1.0}, "--timeout"),
])
def test_capture_options_are_checked_before_the_port_is_opened(tmp_path, kwargs, message):
    args = {"count": 2, "timeout": 1.0} | kwargs
    with pytest.raises(KitError, match=message):
        capture(str(tmp_path / "no-such-port"), "audio", "yes", args["count"], tmp_path, timeout=args["timeout"],
                progress=False)
