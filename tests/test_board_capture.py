"""Capture over a real pseudo-terminal (pyserial, no mocks) into datasets the KWS and VWW loaders read."""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tty
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tinymlkit.audio.wav import read_wav
from tinymlkit.board import protocol as p
from tinymlkit.board.camera import camera_view
from tinymlkit.board.capture import capture, dataset_summary, existing_numbers, format_summary
from tinymlkit.board.link import BoardLink, BoardTimeout, PortError
from tinymlkit.board.virtual import VirtualBoard, generated_clip, generated_image
from tinymlkit.cli import main
from tinymlkit.config import KwsTaskConfig
from tinymlkit.errors import KitError

ROOT = Path(__file__).resolve().parents[1]
BOARD = 0x1A2B3C4D


def _int16(path: Path) -> np.ndarray:
    x, rate = read_wav(path, 16000)
    assert rate == 16000 and len(x) == 16000
    return np.round(x * 32768.0).astype(np.int16)


def _digest(folder: Path) -> dict[str, str]:
    return {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted(folder.iterdir())}


def test_capture_audio_and_images_into_datasets_the_loaders_read(tmp_path):
    from tinymlkit.data.image_folder import load_image_folder, scan_image_folder
    from tinymlkit.data.speech_commands import build_dataset, which_set

    ds = tmp_path / "dataset"
    with VirtualBoard(board_id=BOARD, seed=3) as vb:
        reports = [capture(vb.port, "audio", "yes", 5, ds, progress=False),
                   capture(vb.port, "audio", "no", 5, ds, progress=False),
                   capture(vb.port, "image", "person", 3, ds, progress=False),
                   capture(vb.port, "image", "non_person", 3, ds, progress=False)]
    assert [len(r.saved) for r in reports] == [5, 5, 3, 3]
    assert all(r.stats.clean and r.requests == 1 for r in reports)
    assert dataset_summary(ds) == {"no": 5, "non_person": 3, "person": 3, "yes": 5}

    # Every clip is exactly what the board recorded, in order: the board's clip counter runs on.
    for k, label in enumerate(["yes", "no"]):
        names = [f"1a2b3c4d_nohash_{n}.wav" for n in range(5)]
        assert sorted(f.name for f in (ds / label).iterdir()) == sorted(names)
        for n, name in enumerate(names):
            np.testing.assert_array_equal(_int16(ds / label / name), generated_clip(5 * k + n, seed=3))
    for k, label in enumerate(["person", "non_person"]):
        for n in range(3):
            with Image.open(ds / label / f"1a2b3c4d_nohash_{n}.png") as img:
                assert img.format == "PNG" and img.size == (160, 120) and img.mode == "RGB"
                assert not img.info.keys() - {"dpi"} and "exif" not in img.info and not getattr(img, "text", {})
                pixels = np.asarray(img)
            expected = camera_view(generated_image(3 * k + n, seed=3), p.PIXEL_FORMATS["RGB565_BE"])
            np.testing.assert_array_equal(pixels, expected)

    # The KWS loader reads the clips; one board is one speaker, so its clips share one split.
    task = KwsTaskConfig(words=("yes", "no"), silence_percentage=0.0, unknown_percentage=0.0)
    kws = build_dataset(ds, task)
    assert kws.skipped == []
    loaded = {(path.parent.name, path.name): kws.labels[i] for items in kws.items.values() for path, i in items}
    assert loaded == {(lab, f"1a2b3c4d_nohash_{n}.wav"): lab for lab in ("yes", "no") for n in range(5)}
    assert len({which_set(name, 10, 10) for _, name in loaded}) == 1

    # The VWW loader reads the frames (folder names are the labels).
    index = scan_image_folder(ds, labels=("non_person", "person"))
    assert sorted(index.labels) == [0, 0, 0, 1, 1, 1]
    images = load_image_folder(index, None, 96, 96, 1)
    assert images.x.shape == (6, 96, 96, 1) and images.skipped == ()


def test_capture_resumes_numbering_and_never_touches_existing_files(tmp_path):
    ds = tmp_path / "ds"
    with VirtualBoard(board_id=BOARD) as vb:
        first = capture(vb.port, "audio", "go", 3, ds, progress=False)
        before = _digest(ds / "go")
        again = capture(vb.port, "audio", "go", 3, ds, progress=False)
        more = capture(vb.port, "audio", "go", 5, ds, progress=False)
    assert len(first.saved) == 3 and again.saved == [] and again.already == 3
    assert more.already == 3 and [f.name for f in more.saved] == ["1a2b3c4d_nohash_3.wav", "1a2b3c4d_nohash_4.wav"]
    after = _digest(ds / "go")
    assert {k: after[k] for k in before} == before
    assert existing_numbers(ds / "go", "1a2b3c4d", ".wav") == [0, 1, 2, 3, 4]
    # A second board (another learner) adds its own numbering beside the first one's.
    with VirtualBoard(board_id=0xFEEDBEEF) as vb:
        other = capture(vb.port, "audio", "go", 2, ds, progress=False)
    assert [f.name for f in other.saved] == ["feedbeef_nohash_0.wav", "feedbeef_nohash_1.wav"]
    assert dataset_summary(ds) == {"go": 7}


def test_capture_from_folders_of_real_recordings_and_photos(tmp_path, micro_speech_dir, shared_data):
    audio = tmp_path / "audio"
    audio.mkdir()
    for name in ("yes_1000ms.wav", "no_1000ms.wav"):
        shutil.copy(micro_speech_dir / name, audio / name)
    photos = shared_data / "people_smoke" / "dollarstreet_ccby4" / "person"
    ds = tmp_path / "ds"
    with VirtualBoard(audio, photos, board_id=BOARD, pixel_format="gray8", camera_size=(96, 96)) as vb:
        capture(vb.port, "audio", "words", 2, ds, progress=False)
        capture(vb.port, "image", "person", 2, ds, progress=False)
    # Sorted folder order: no_1000ms.wav, then yes_1000ms.wav.
    for n, name in enumerate(["no_1000ms.wav", "yes_1000ms.wav"]):
        x, _ = read_wav(micro_speech_dir / name)
        np.testing.assert_array_equal(_int16(ds / "words" / f"1a2b3c4d_nohash_{n}.wav"),
                                      np.round(x * 32768).astype(np.int16))
    with Image.open(ds / "person" / "1a2b3c4d_nohash_0.png") as img:
        assert img.mode == "L" and img.size == (96, 96)


def test_board_speaking_another_protocol_version_is_refused_clearly(tmp_path):
    with VirtualBoard(board_id=BOARD, protocol_version=p.PROTOCOL_VERSION + 1) as vb:
        with pytest.raises(p.ProtocolVersionError) as e:
            capture(vb.port, "audio", "yes", 1, tmp_path, progress=False)
    assert vb.port in str(e.value) and "update tinymlkit" in str(e.value)
    assert not (tmp_path / "yes").exists()


def test_silent_port_times_out_with_advice(tmp_path):
    master, slave = os.openpty()
    try:
        tty.setraw(slave)
        port = os.ttyname(slave)
        with pytest.raises(BoardTimeout) as e:
            capture(port, "audio", "yes", 1, tmp_path, progress=False, hello_timeout=0.6)
        assert port in str(e.value) and "HELLO" in str(e.value) and "reset" in str(e.value)
    finally:
        os.close(master)
        os.close(slave)


def test_missing_port_and_bad_label_are_clear_errors(tmp_path):
    with pytest.raises(PortError, match="/dev/ttyNOPE0.*tinymlkit ports"):
        BoardLink("/dev/ttyNOPE0")
    for label in ("../up", "_hidden", "a b", ""):
        with pytest.raises(KitError, match="label"):
            capture("/dev/ttyNOPE0", "audio", label, 1, tmp_path, progress=False)
    with pytest.raises(KitError, match="count"):
        capture("/dev/ttyNOPE0", "audio", "yes", 0, tmp_path, progress=False)


def test_cli_capture_prints_the_dataset_summary(tmp_path, capsys):
    ds = tmp_path / "ds"
    with VirtualBoard(board_id=BOARD) as vb:
        rc = main(["capture", "audio", "--port", vb.port, "--label", "yes", "--count", "2", "--out", str(ds),
                   "--no-progress"])
        assert rc == 0
        rc = main(["capture", "image", "--port", vb.port, "--label", "cat", "--count", "1", "--out", str(ds),
                   "--no-progress"])
        assert rc == 0
    out = capsys.readouterr().out
    assert "saved 2 new audio file(s)" in out and "saved 1 new image file(s)" in out
    assert out.rstrip().endswith(format_summary(ds))
    assert "yes" in format_summary(ds) and "total" in format_summary(ds)


def test_cli_virtual_board_prints_its_path_and_serves(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "tinymlkit", "virtual-board", "--board-id", "0c0ffee0",
                             "--pixel-format", "gray8", "--camera", "32x24"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        port = proc.stdout.readline().strip()
        assert port.startswith("/dev/"), proc.stderr.read() if proc.poll() is not None else port
        report = capture(port, "image", "tiny", 2, tmp_path, progress=False)
        assert [f.name for f in report.saved] == ["0c0ffee0_nohash_0.png", "0c0ffee0_nohash_1.png"]
        with Image.open(report.saved[0]) as img:
            assert img.size == (32, 24) and img.mode == "L"
    finally:
        proc.kill()
        proc.wait(timeout=10)
