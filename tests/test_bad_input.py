"""The bad-input suite: every command, fed hostile input, ends with exit status 2 and ONE clear line.

Table-driven: each case is a command line (run as ``python -m tinymlkit ...`` in a subprocess, in a
fresh folder holding a corpus of hostile files), and the text its one ``tinymlkit: error:`` line must
contain (the file, port, option or field it is about). For every case the suite checks:

- exit status 2 (not 0, not 1, not a signal, not the internal-error status 70),
- exactly one line starting with ``tinymlkit: error:``, naming what was wrong, with no control characters,
- no Python traceback on stdout or stderr,
- no hang (a timeout per case),
- no file that was there before changed or disappeared (the folder is hashed before and after),
  and no temporary file (``.part``, ``.extracting``, ``.tmp``) left behind.

Cases are chosen to fail before TensorFlow loads where the bug class allows (the whole file stays
well under a minute and a half). A case whose fix lives in a file this suite's owner does not own is
marked ``xfail(strict=True)`` with the file and owner: the mark comes off when the fix lands, and a
fix that lands without removing the mark shows up as an unexpected pass.

``test_every_command_has_cases`` fails when a command is added without cases here.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import resource
import struct
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CASE_TIMEOUT = 60.0
"""Seconds a case may take before it counts as a hang."""
TEMP_SUFFIXES = (".part", ".extracting", ".partial")


# --- The corpus: hostile files every case can point at ---------------------------------------------

def _riff(fmt_body: bytes, data: bytes, data_size: int | None = None) -> bytes:
    fmt = b"fmt " + struct.pack("<I", len(fmt_body)) + fmt_body
    d = b"data" + struct.pack("<I", len(data) if data_size is None else data_size) + data
    body = b"WAVE" + fmt + d
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _fmt(rate: int = 16000, channels: int = 1, width: int = 2) -> bytes:
    return struct.pack("<HHIIHH", 1, channels, rate, rate * channels * width, channels * width, 8 * width)


def make_corpus(w: Path) -> None:
    """Write the hostile inputs into ``w`` (the case's working folder)."""
    good_pcm = b"\x01\x00" * 16000
    files = {
        "empty.wav": b"",
        "garbage.wav": os.urandom(3000),
        "cutfmt.wav": _riff(_fmt()[:8], b"\0\0" * 100),
        "onehz.wav": _riff(_fmt(rate=1), good_pcm),
        "liar.wav": _riff(_fmt(), good_pcm[:1000], data_size=2**31 - 2),
        "ok.wav": _riff(_fmt(), good_pcm),
        "empty.tflite": b"",
        "garbage.tflite": os.urandom(4096),
        "text.tflite": b"this is not a model\n" * 50,
        "empty.json": b"",
        "braces.json": b"{}",
        "binary.json": os.urandom(2000),
        "nested.json": b"[" * 100_000 + b"]" * 100_000,
        "wrongtypes.json": json.dumps({"kind": "kws", "labels": "yes,no", "audio": 7}).encode(),
        "garbage.png": os.urandom(500),
        "notes.txt": b"a learner's notes\n",
        "unicod\u00e9 \u2713.json": b"{}",
        "coco_bad_bbox.json": json.dumps({
            "images": [{"id": 1, "file_name": "a.jpg", "width": 10, "height": 10}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": "wide"}],
            "categories": [{"id": 1, "name": "person"}]}).encode(),
        "coco_not_lists.json": json.dumps({"images": 3, "annotations": {}, "categories": "person"}).encode(),
    }
    for name, data in files.items():
        (w / name).write_bytes(data)
    (w / "adir").mkdir()
    (w / "adir" / "inside.txt").write_bytes(b"keep me")
    (w / "images").mkdir()
    (w / "mine").mkdir()  # a learner's folder with their own files: never to be deleted or filled
    (w / "mine" / "take1.wav").write_bytes(_riff(_fmt(), good_pcm))
    (w / "mine" / "notes.txt").write_bytes(b"my notes")
    (w / "emptydir").mkdir()
    (w / "loop.tflite").symlink_to("loop.tflite")  # a symbolic-link loop
    (w / "dangling.wav").symlink_to("nowhere/at/all.wav")
    (w / "sketch").mkdir()
    (w / "sketch" / "sketch.ino").write_bytes(b"void setup() {}\nvoid loop() {}\n")
    (w / "sketch" / "model_settings.h").write_bytes(os.urandom(300))
    (w / "kwsdata" / "yes").mkdir(parents=True)
    (w / "kwsdata" / "yes" / "bad_nohash_0.wav").write_bytes(b"junk")


def snapshot(w: Path) -> dict[str, str]:
    """Every entry under ``w`` with a digest of its content (links by target), without following links."""
    out: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(w, followlinks=False):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            rel = str(p.relative_to(w))
            if p.is_symlink():
                out[rel] = "link:" + os.readlink(p)
            elif p.is_dir():
                out[rel] = "dir"
            else:
                try:
                    out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
                except OSError as e:
                    out[rel] = f"unreadable:{e.errno}"
    return out


# --- The cases ----------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Case:
    """One hostile command line and what its error line must name."""

    id: str
    """Test id: command and what is hostile about the input."""
    argv: tuple[str, ...]
    """Arguments after ``tinymlkit``; ``{MS_MODEL}`` is the micro_speech reference model."""
    names: str
    """Text the one error line must contain (the file, port, option or field)."""
    xfail: str | None = None
    """Where the fix lives, when it is in a file this suite's owner does not own."""
    limit_file_size: int | None = None
    """RLIMIT_FSIZE for the command (a full disk, as far as the command can tell)."""
    board: bool = False
    """Start a virtual board first; ``{PORT}`` is its path."""
    timeout: float = CASE_TIMEOUT
    """Seconds before the case counts as a hang."""



CASES: list[Case] = [
    # -- top level and argument parsing
    Case("unknown-command", ("frobnicate",), "frobnicate"),
    Case("unknown-option", ("ports", "--colour"), "--colour"),
    Case("data-no-dataset", ("data",), "DATASET"),

    # -- kws run
    Case("kws-run-missing-data", ("kws", "run", "--data", "missing_dir", "--out", "run"), "missing_dir"),
    Case("kws-run-data-is-a-file", ("kws", "run", "--data", "notes.txt", "--out", "run"), "notes.txt"),
    Case("kws-run-epochs-0", ("kws", "run", "--epochs", "0", "--out", "run"), "--epochs"),
    Case("kws-run-empty-words", ("kws", "run", "--words", ",", "--out", "run"), "--words"),
    Case("kws-run-out-is-a-file", ("kws", "run", "--data", "kwsdata", "--out", "notes.txt"), "notes.txt"),

    # -- kws download (refused before any network access; the case environment has no route out anyway)
    Case("kws-download-out-learners-folder", ("kws", "download", "--out", "mine"), "mine"),
    Case("kws-download-unknown-share-nan", ("kws", "download", "--unknown-share", "nan", "--out", "sub"),
         "--unknown-share"),
    Case("kws-download-unknown-share-2", ("kws", "download", "--unknown-share", "2", "--out", "sub"),
         "--unknown-share"),
    Case("kws-download-empty-words", ("kws", "download", "--words", ",", "--out", "sub"), "--words"),

    # -- kws evaluate
    Case("kws-evaluate-missing-model", ("kws", "evaluate", "--model", "missing.tflite", "--data", "kwsdata",
                                        "--labels", "yes,no"), "missing.tflite"),
    Case("kws-evaluate-duplicate-labels", ("kws", "evaluate", "--model", "garbage.tflite", "--data", "kwsdata",
                                           "--labels", "yes,yes"), "--labels"),
    Case("kws-evaluate-empty-label", ("kws", "evaluate", "--model", "garbage.tflite", "--data", "kwsdata",
                                      "--labels", "yes,,no"), "--labels"),
    Case("kws-evaluate-config-braces", ("kws", "evaluate", "--model", "garbage.tflite", "--data", "kwsdata",
                                        "--config", "braces.json"), "braces.json"),
    Case("kws-evaluate-config-binary", ("kws", "evaluate", "--model", "garbage.tflite", "--data", "kwsdata",
                                        "--config", "binary.json"), "binary.json"),
    Case("kws-evaluate-config-nested", ("kws", "evaluate", "--model", "garbage.tflite", "--data", "kwsdata",
                                        "--config", "nested.json"), "nested.json"),
    Case("kws-evaluate-config-wrong-types", ("kws", "evaluate", "--model", "garbage.tflite", "--data", "kwsdata",
                                             "--config", "wrongtypes.json"), "wrongtypes.json"),
    Case("kws-evaluate-config-is-a-folder", ("kws", "evaluate", "--model", "garbage.tflite", "--data", "kwsdata",
                                             "--config", "adir"), "adir"),
    Case("kws-evaluate-config-unicode-name", ("kws", "evaluate", "--model", "garbage.tflite", "--data", "kwsdata",
                                              "--config", "unicod\u00e9 \u2713.json"), "unicod\u00e9 \u2713.json"),

    # -- kws predict (the model loads, then the WAV is bad)
    Case("kws-predict-garbage-model", ("kws", "predict", "--model", "garbage.tflite", "--labels", "yes,no",
                                       "ok.wav"), "garbage.tflite"),
    Case("kws-predict-empty-model", ("kws", "predict", "--model", "empty.tflite", "--labels", "yes,no",
                                     "ok.wav"), "empty.tflite"),
    Case("kws-predict-model-is-a-folder", ("kws", "predict", "--model", "adir", "--labels", "yes,no",
                                           "ok.wav"), "adir"),
    Case("kws-predict-model-link-loop", ("kws", "predict", "--model", "loop.tflite", "--labels", "yes,no",
                                         "ok.wav"), "loop.tflite"),
    Case("kws-predict-model-name-with-escapes", ("kws", "predict", "--model", "x\x1b[2Jy\n.tflite", "--labels",
                                                 "yes,no", "ok.wav"), "x\\x1b[2Jy"),
    Case("kws-predict-cut-fmt-wav", ("kws", "predict", "--model", "{MS_MODEL}", "--labels",
                                     "silence,unknown,yes,no", "cutfmt.wav"), "cutfmt.wav"),
    Case("kws-predict-1hz-wav-resample", ("kws", "predict", "--model", "{MS_MODEL}", "--labels",
                                          "silence,unknown,yes,no", "--resample", "onehz.wav"), "onehz.wav"),
    Case("kws-predict-lying-header", ("kws", "predict", "--model", "{MS_MODEL}", "--labels",
                                      "silence,unknown,yes,no", "liar.wav"), "liar.wav"),
    Case("kws-predict-dangling-link", ("kws", "predict", "--model", "{MS_MODEL}", "--labels",
                                       "silence,unknown,yes,no", "dangling.wav"), "dangling.wav"),

    # -- export
    Case("export-missing-model", ("export", "--model", "missing.tflite", "--config", "braces.json",
                                  "--sketch", "out_sketch"), "missing.tflite"),
    Case("export-garbage-model", ("export", "--model", "garbage.tflite", "--config", "braces.json",
                                  "--sketch", "out_sketch"), "garbage.tflite"),
    Case("export-config-nested", ("export", "--model", "{MS_MODEL}", "--config", "nested.json",
                                  "--sketch", "out_sketch"), "nested.json"),
    Case("export-sketch-is-a-file", ("export", "--model", "{MS_MODEL}", "--config", "braces.json",
                                     "--sketch", "notes.txt"), "braces.json"),

    # -- data speech-commands (all refused before any network access)
    Case("speech-commands-out-dot", ("data", "speech-commands", "--out", "."), "--out"),
    Case("speech-commands-out-learners-folder", ("data", "speech-commands", "--out", "mine"), "mine"),
    Case("speech-commands-out-is-a-file", ("data", "speech-commands", "--out", "notes.txt"), "notes.txt"),

    # -- data synth-kws
    Case("synth-kws-out-learners-folder", ("data", "synth-kws", "--out", "mine"), "mine"),
    Case("synth-kws-voices-2", ("data", "synth-kws", "--voices", "2", "--out", "synth"), "--voices"),
    Case("synth-kws-takes-0", ("data", "synth-kws", "--takes", "0", "--out", "synth"), "--takes"),
    Case("synth-kws-voices-not-a-number", ("data", "synth-kws", "--voices", "many", "--out", "synth"), "--voices"),

    # -- data vww-coco
    Case("vww-coco-missing-annotations", ("data", "vww-coco", "--annotations", "missing.json", "--images",
                                          "images", "--out", "vww"), "missing.json"),
    Case("vww-coco-binary-annotations", ("data", "vww-coco", "--annotations", "binary.json", "--images",
                                         "images", "--out", "vww"), "binary.json"),
    Case("vww-coco-nested-annotations", ("data", "vww-coco", "--annotations", "nested.json", "--images",
                                         "images", "--out", "vww"), "nested.json"),
    Case("vww-coco-not-lists", ("data", "vww-coco", "--annotations", "coco_not_lists.json", "--images",
                                "images", "--out", "vww"), "coco_not_lists.json"),
    Case("vww-coco-bad-bbox", ("data", "vww-coco", "--annotations", "coco_bad_bbox.json", "--images",
                               "images", "--out", "vww"), "coco_bad_bbox.json"),
    Case("vww-coco-annotations-is-a-folder", ("data", "vww-coco", "--annotations", "adir", "--images",
                                              "images", "--out", "vww"), "adir"),
    Case("vww-coco-images-missing", ("data", "vww-coco", "--annotations", "coco_bad_bbox.json", "--images",
                                     "noimages", "--out", "vww"), "noimages"),
    Case("vww-coco-size-0", ("data", "vww-coco", "--annotations", "coco_bad_bbox.json", "--images", "images",
                             "--out", "vww", "--size", "0"), "--size"),
    Case("vww-coco-limit-negative", ("data", "vww-coco", "--annotations", "coco_bad_bbox.json", "--images",
                                     "images", "--out", "vww", "--limit", "-3"), "--limit"),
    Case("vww-coco-min-area-nan", ("data", "vww-coco", "--annotations", "coco_bad_bbox.json", "--images",
                                   "images", "--out", "vww", "--min-area", "nan"), "--min-area"),
    Case("vww-coco-out-learners-folder", ("data", "vww-coco", "--annotations", "{COCO}", "--images", "images",
                                          "--out", "mine"), "mine"),
    Case("vww-coco-full-disk", ("data", "vww-coco", "--annotations", "{COCO}", "--images", "images",
                                "--out", "vww"), "vww", limit_file_size=100),

    # -- vww run / evaluate / predict
    Case("vww-run-size-0", ("vww", "run", "--size", "0", "--out", "run"), "--size"),
    Case("vww-run-alpha-nan", ("vww", "run", "--alpha", "nan", "--out", "run"), "--alpha", timeout=20),
    Case("vww-get-base-from-missing", ("vww", "get-base", "--from", "missing.h5"), "missing.h5"),
    Case("vww-get-base-from-garbage", ("vww", "get-base", "--from", "garbage.tflite"), "garbage.tflite"),
    Case("vww-get-base-from-folder", ("vww", "get-base", "--from", "adir"), "adir"),
    Case("vww-run-missing-data", ("vww", "run", "--data", "missing_dir", "--out", "run"), "missing_dir"),
    Case("vww-evaluate-missing-model", ("vww", "evaluate", "--model", "missing.tflite", "--data", "images",
                                        "--labels", "non_person,person"), "missing.tflite"),
    Case("vww-evaluate-duplicate-labels", ("vww", "evaluate", "--model", "garbage.tflite", "--data", "images",
                                           "--labels", "person,person"), "--labels"),
    Case("vww-predict-missing-model", ("vww", "predict", "--model", "missing.tflite", "--labels",
                                       "non_person,person", "garbage.png"), "missing.tflite"),
    Case("vww-predict-config-binary", ("vww", "predict", "--model", "garbage.tflite", "--config", "binary.json",
                                       "garbage.png"), "binary.json"),

    # -- ports
    Case("ports-extra-argument", ("ports", "/dev/ttyACM0"), "/dev/ttyACM0"),

    # -- capture
    Case("capture-missing-port", ("capture", "audio", "--port", "/dev/no-such-port", "--label", "yes",
                                  "--count", "1", "--out", "ds"), "/dev/no-such-port"),
    Case("capture-port-is-a-file", ("capture", "audio", "--port", "notes.txt", "--label", "yes",
                                    "--count", "1", "--out", "ds", "--timeout", "1"), "notes.txt"),
    Case("capture-count-0", ("capture", "audio", "--port", "x", "--label", "yes", "--count", "0",
                             "--out", "ds"), "--count"),
    Case("capture-count-wraps", ("capture", "audio", "--port", "x", "--label", "yes", "--count", str(2**32),
                                 "--out", "ds"), "--count"),
    Case("capture-timeout-nan", ("capture", "audio", "--port", "x", "--label", "yes", "--count", "1",
                                 "--out", "ds", "--timeout", "nan"), "--timeout"),
    Case("capture-timeout-0", ("capture", "audio", "--port", "x", "--label", "yes", "--count", "1",
                               "--out", "ds", "--timeout", "0"), "--timeout"),
    Case("capture-timeout-negative", ("capture", "audio", "--port", "x", "--label", "yes", "--count", "1",
                                      "--out", "ds", "--timeout", "-5"), "--timeout"),
    Case("capture-label-traversal", ("capture", "audio", "--port", "x", "--label", "../escape", "--count", "1",
                                     "--out", "ds"), "../escape"),
    Case("capture-label-path-is-a-file", ("capture", "audio", "--port", "{PORT}", "--label", "notes.txt",
                                          "--count", "1", "--out", "."), "notes.txt", board=True),
    Case("capture-out-is-a-file", ("capture", "audio", "--port", "{PORT}", "--label", "yes",
                                   "--count", "1", "--out", "notes.txt"), "notes.txt", board=True),
    Case("capture-full-disk", ("capture", "audio", "--port", "{PORT}", "--label", "yes", "--count", "2",
                               "--out", "ds", "--no-progress"), "cannot write", limit_file_size=20000, board=True),

    # -- monitor
    Case("monitor-missing-port", ("monitor", "--port", "/dev/no-such-port", "--count", "1"), "/dev/no-such-port"),
    Case("monitor-seconds-nan", ("monitor", "--port", "x", "--seconds", "nan"), "--seconds"),
    Case("monitor-count-wraps", ("monitor", "--port", "x", "--count", str(2**32)), "--count"),
    Case("monitor-timeout-negative", ("monitor", "--port", "x", "--timeout", "-1"), "--timeout"),
    Case("monitor-plot-is-a-folder", ("monitor", "--port", "x", "--count", "1", "--plot", "adir"), "--plot"),
    Case("monitor-duplicate-labels", ("monitor", "--port", "x", "--labels", "a,a", "--plot", "p.png"), "--labels"),
    Case("monitor-board-error", ("monitor", "--port", "{PORT}", "--count", "1", "--timeout", "5"), "no model loaded",
         board=True),

    # -- virtual-board (each must fail before it starts serving, or the case times out)
    Case("virtual-board-board-id-too-long", ("virtual-board", "--board-id", "123456789abcdef0"), "--board-id", timeout=10),
    Case("virtual-board-board-id-not-hex", ("virtual-board", "--board-id", "zz"), "--board-id"),
    Case("virtual-board-missing-audio", ("virtual-board", "--audio", "missing_dir"), "missing_dir"),
    Case("virtual-board-interval-nan", ("virtual-board", "--interval", "nan"), "--interval", timeout=10),
    Case("virtual-board-camera-0x0", ("virtual-board", "--camera", "0x0"), "--camera"),
    Case("virtual-board-garbage-model", ("virtual-board", "--model", "garbage.tflite", "--config", "braces.json"),
         "garbage.tflite"),

    # -- generate-protocol-header
    Case("protocol-header-out-is-a-folder", ("generate-protocol-header", "--out", "adir"), "adir"),
    Case("protocol-header-out-under-a-file", ("generate-protocol-header", "--out", "notes.txt/kit_protocol.h"),
         "notes.txt"),
    Case("protocol-header-check-missing", ("generate-protocol-header", "--check", "--out", "missing.h"),
         "missing.h"),

    # -- inspect
    Case("inspect-missing", ("inspect", "missing.tflite"), "missing.tflite"),
    Case("inspect-empty", ("inspect", "empty.tflite", "--no-arena"), "empty.tflite"),
    Case("inspect-garbage", ("inspect", "garbage.tflite", "--no-arena"), "garbage.tflite"),
    Case("inspect-text", ("inspect", "text.tflite", "--no-arena"), "text.tflite"),
    Case("inspect-folder", ("inspect", "adir"), "adir"),
    Case("inspect-link-loop", ("inspect", "loop.tflite"), "loop.tflite"),
    Case("inspect-bad-target", ("inspect", "garbage.tflite", "--target", "esp32"), "--target"),

    # -- check-sketch
    Case("check-sketch-missing", ("check-sketch", "missing_sketch"), "missing_sketch"),
    Case("check-sketch-a-file", ("check-sketch", "notes.txt"), "notes.txt"),
    Case("check-sketch-garbage-model", ("check-sketch", "sketch", "--model", "garbage.tflite"), "garbage.tflite"),

    # -- record (must fail before it serves the page, or the case times out)
    Case("record-out-is-a-file", ("record", "--out", "notes.txt", "--no-browser"), "notes.txt"),
    Case("record-takes-0", ("record", "--out", "rec", "--takes", "0", "--no-browser"), "--takes"),
    Case("record-speaker-traversal", ("record", "--out", "rec", "--speaker", "../x", "--no-browser"), "--speaker"),
    Case("record-port-out-of-range", ("record", "--out", "rec", "--port", "70000", "--no-browser"), "--port"),
    Case("record-photos-bad-label", ("record", "--photos", "--out", "rec", "--labels", "person,../x", "--no-browser"),
         "label"),
    Case("record-photos-owner-traversal", ("record", "--photos", "--out", "rec", "--owner", "../x", "--no-browser"),
         "--owner"),
    Case("record-photos-with-words", ("record", "--photos", "--out", "rec", "--words", "yes", "--no-browser"),
         "--words"),
    Case("record-labels-without-photos", ("record", "--out", "rec", "--labels", "person", "--no-browser"),
         "--photos"),
    Case("record-photos-max-side-tiny", ("record", "--photos", "--out", "rec", "--max-side", "4", "--no-browser"),
         "--max-side"),

    # -- anomaly
    Case("anomaly-run-missing-data", ("anomaly", "run", "--data", "missing_dir", "--out", "run"), "missing_dir"),
    Case("anomaly-score-config-braces", ("anomaly", "score", "--model", "missing.tflite", "--config",
                                         "braces.json", "ok.wav"), "braces.json"),
    Case("anomaly-export-config-binary", ("anomaly", "export", "--model", "garbage.tflite", "--config",
                                          "binary.json", "--sketch", "out_sketch"), "binary.json"),
    Case("anomaly-score-missing-data", ("anomaly", "score", "--model", "garbage.tflite", "--config",
                                        "braces.json", "--data", "missing_dir"), "braces.json"),

    # -- data wake-vision / machine-sounds (refused before any network access)
    Case("wake-vision-max-images-0", ("data", "wake-vision", "--max-images", "0", "--out", "wv"), "--max-images"),
    Case("wake-vision-max-side-0", ("data", "wake-vision", "--max-images", "4", "--max-side", "0", "--out", "wv"),
         "--max-side"),
    Case("wake-vision-out-learners-folder", ("data", "wake-vision", "--max-images", "4", "--out", "mine"), "mine"),
    Case("machine-sounds-unknown-machine", ("data", "machine-sounds", "--download", "toaster", "--out", "ms"),
         "toaster"),
    Case("machine-sounds-missing-captures", ("data", "machine-sounds", "--from-captures", "missing_dir",
                                             "--machine", "fan", "--out", "ms"), "missing_dir"),
    Case("machine-sounds-captures-is-a-file", ("data", "machine-sounds", "--from-captures", "notes.txt",
                                               "--machine", "fan", "--out", "ms"), "notes.txt"),

    # -- bench
    Case("bench-missing-port", ("bench", "--port", "/dev/no-such-port"), "/dev/no-such-port"),
    Case("bench-runs-0", ("bench", "--port", "x", "--runs", "0"), "--runs"),
    Case("bench-timeout-nan", ("bench", "--port", "x", "--timeout", "nan"), "--timeout"),
    Case("bench-garbage-model", ("bench", "--port", "x", "--model", "garbage.tflite"), "garbage.tflite"),

    # -- grade
    Case("grade-missing-course", ("grade", "missing_course"), "missing_course"),
    Case("grade-workers-negative", ("grade", "adir", "--workers", "-1"), "--workers"),
    Case("grade-cell-timeout-nan", ("grade", "adir", "--cell-timeout", "nan"), "--cell-timeout"),
    Case("grade-kernel-threads-negative", ("grade", "adir", "--kernel-threads", "-2"), "--kernel-threads"),
]


def _command_of(argv: tuple[str, ...], parser: object) -> tuple[str, ...]:
    import argparse

    path: list[str] = []
    for arg in argv:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs or arg not in subs[0].choices:
            break
        path.append(arg)
        parser = subs[0].choices[arg]
    return tuple(path)


def _all_commands() -> list[tuple[str, ...]]:
    """Every runnable command (a parser with no further sub-commands)."""
    import argparse

    from tinymlkit.cli import build_parser

    out = []

    def walk(parser: argparse.ArgumentParser, prefix: tuple[str, ...]) -> None:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            out.append(prefix)
            return
        for name, sub in subs[0].choices.items():
            walk(sub, (*prefix, name))

    walk(build_parser(), ())
    return out


def test_every_command_has_cases() -> None:
    from tinymlkit.cli import build_parser

    parser = build_parser()
    covered = {_command_of(c.argv, parser) for c in CASES}
    missing = [" ".join(cmd) for cmd in _all_commands() if cmd not in covered]
    assert not missing, f"commands without bad-input cases in {Path(__file__).name}: {missing}"


def _params() -> list:
    out = []
    for c in CASES:
        marks = [pytest.mark.xfail(strict=True, reason=c.xfail)] if c.xfail else []
        out.append(pytest.param(c, id=c.id, marks=marks))
    return out


# --- Running one case ---------------------------------------------------------------------------------

def _fill(argv: tuple[str, ...], values: dict[str, str]) -> list[str]:
    out = []
    for a in argv:
        for k, v in values.items():
            a = a.replace("{" + k + "}", v)
        out.append(a)
    return out


def _coco_with_one_image(w: Path) -> str:
    from PIL import Image

    Image.new("RGB", (64, 48), (120, 30, 200)).save(w / "images" / "a.jpg")
    (w / "coco.json").write_text(json.dumps({
        "images": [{"id": 1, "file_name": "a.jpg", "width": 64, "height": 48}],
        "annotations": [], "categories": [{"id": 1, "name": "person"}]}))
    return "coco.json"


# A case runs in a child forked from one Python that imported the kit once (``python -m tinymlkit``
# costs ~1 s of CPU per start, mostly imports; 100+ cases would take minutes). The child runs exactly
# what ``python -m tinymlkit`` runs, ``sys.exit(main(argv))``, with its own working folder, stdin from
# /dev/null and stdout/stderr in files; an exception that escapes is printed the way the interpreter
# prints it. A few tests below run the real ``python -m tinymlkit`` to keep the two honest.
SERVER = r"""
import json, os, resource, selectors, signal, sys, time, traceback
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
from tinymlkit.cli import build_parser, main
build_parser()  # import every command module once, before forking
print("ready", flush=True)
for line in sys.stdin:
    req = json.loads(line)
    pipes = [os.pipe(), os.pipe()]  # pipes, as for a real subprocess (a file-size limit does not apply to them)
    pid = os.fork()
    if pid == 0:
        try:
            os.chdir(req["cwd"])
            if req["fsize"] is not None:
                resource.setrlimit(resource.RLIMIT_FSIZE, (req["fsize"], resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
            null = os.open(os.devnull, os.O_RDONLY)
            os.dup2(null, 0)
            for fd, (r, w) in zip((1, 2), pipes):
                os.dup2(w, fd)
                os.close(w)
                os.close(r)
            sys.argv = ["tinymlkit", *req["argv"]]
            try:
                code = main(req["argv"])
            except SystemExit as e:
                code = e.code
            except BaseException:
                traceback.print_exc()
                code = 1
            if code is None:
                code = 0
            elif not isinstance(code, int):
                print(code, file=sys.stderr)
                code = 1
            sys.stdout.flush()
            sys.stderr.flush()
        except BaseException:
            traceback.print_exc()
            code = 1
        os._exit(code)
    sel = selectors.DefaultSelector()
    chunks = {0: [], 1: []}
    for k, (r, w) in enumerate(pipes):
        os.close(w)
        sel.register(r, selectors.EVENT_READ, k)
    deadline = time.monotonic() + req["timeout"]
    result = {"status": None, "signal": None, "timeout": False}
    open_pipes = 2
    while open_pipes and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=0.1):
            data = os.read(key.fd, 65536)
            if data:
                chunks[key.data].append(data)
            else:
                sel.unregister(key.fd)
                os.close(key.fd)
                open_pipes -= 1
    if open_pipes:
        os.kill(pid, signal.SIGKILL)
        result["timeout"] = True
        for key in list(sel.get_map().values()):
            os.close(key.fd)
    sel.close()
    _, status = os.waitpid(pid, 0)
    if not result["timeout"]:
        if os.WIFSIGNALED(status):
            result["signal"] = os.WTERMSIG(status)
        else:
            result["status"] = os.WEXITSTATUS(status)
    for k, path in ((0, req["out"]), (1, req["err"])):
        with open(path, "wb") as f:
            f.write(b"".join(chunks[k]))
    print(json.dumps(result), flush=True)
"""


def _case_env() -> dict[str, str]:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONIOENCODING="utf-8", PYTHONDONTWRITEBYTECODE="1")
    env.pop("TINYMLKIT_DEBUG", None)
    # Offline for sure: a command that would download goes to a closed local port instead.
    for k in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        env[k] = "http://127.0.0.1:9"
    for k in ("no_proxy", "NO_PROXY"):
        env.pop(k, None)
    return env


class CaseRunner:
    """The fork server: ``run(argv, cwd, ...)`` gives (exit status or None, signal or None, timed out, out, err)."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, cwd=ROOT, env=_case_env())
        first = self.proc.stdout.readline().strip() if self.proc.stdout else ""
        if first != "ready":
            raise RuntimeError(f"the case runner did not start (said {first!r})")

    def run(self, argv: list[str], cwd: Path, limit_file_size: int | None, timeout: float
            ) -> tuple[int | None, int | None, bool, str, str]:
        out, err = cwd.parent / "stdout.txt", cwd.parent / "stderr.txt"
        req = {"argv": argv, "cwd": str(cwd), "fsize": limit_file_size, "timeout": timeout,
               "out": str(out), "err": str(err)}
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the case runner stopped")
        res = json.loads(line)
        read = lambda p: p.read_bytes().decode("utf-8", "replace") if p.exists() else ""  # noqa: E731
        return res["status"], res["signal"], res["timeout"], read(out), read(err)

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture(scope="module")
def runner():
    r = CaseRunner()
    yield r
    r.close()


def _run_real(argv: list[str], cwd: Path, limit_file_size: int | None = None) -> subprocess.CompletedProcess:
    """The real thing: ``python -m tinymlkit ...`` in its own interpreter."""
    preexec = None
    if limit_file_size is not None:
        def preexec() -> None:  # runs in the child before exec
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit_file_size, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
    return subprocess.run([sys.executable, "-m", "tinymlkit", *argv], capture_output=True, cwd=cwd, env=_case_env(),
                          timeout=CASE_TIMEOUT, preexec_fn=preexec)


def _prepare(case: Case, tmp_path: Path, request: pytest.FixtureRequest) -> tuple[Path, dict[str, str]]:
    w = tmp_path / "w"
    w.mkdir()
    make_corpus(w)
    values: dict[str, str] = {}
    if any("{MS_MODEL}" in a for a in case.argv):
        values["MS_MODEL"] = str(request.getfixturevalue("micro_speech_dir") / "micro_speech_quantized.tflite")
    if any("{COCO}" in a for a in case.argv):
        values["COCO"] = _coco_with_one_image(w)
    return w, values


def check_outcome(case: Case, status: int | None, sig: int | None, timed_out: bool, out: str, err: str,
                  before: dict[str, str], w: Path) -> None:
    """Every promise of the suite, for one case's outcome."""
    shown = f"\n--- stdout ---\n{out[-2000:]}\n--- stderr ---\n{err[-3000:]}"
    assert not timed_out, f"tinymlkit {' '.join(case.argv)}: still running after {case.timeout:g} s (a hang){shown}"
    assert sig is None, f"killed by signal {sig}{shown}"
    assert "Traceback (most recent call last)" not in out + err, f"a traceback escaped{shown}"
    assert status == 2, f"exit status {status}, expected 2{shown}"
    errors = [ln for ln in err.splitlines() if ln.startswith("tinymlkit: error:")]
    assert len(errors) == 1, f"{len(errors)} 'tinymlkit: error:' lines, expected exactly one{shown}"
    line = errors[0]
    assert case.names in line, f"the error line does not name {case.names!r}: {line!r}"
    bad_chars = [c for c in line if (ord(c) < 32 and c != "\t") or 0x7F <= ord(c) < 0xA0]
    assert not bad_chars, f"control characters in the error line: {line!r}"
    after = snapshot(w)
    changed = sorted(k for k, v in before.items() if after.get(k) != v)
    assert not changed, f"pre-existing files changed or removed: {changed}"
    leftovers = sorted(k for k in after if k not in before
                       and (k.endswith(TEMP_SUFFIXES) or ".partial-" in k or Path(k).name.startswith(".tmp")
                            or ".tmp." in Path(k).name))
    assert not leftovers, f"temporary files left behind: {leftovers}"


@pytest.mark.parametrize("case", _params())
def test_bad_input(case: Case, tmp_path: Path, request: pytest.FixtureRequest, runner: CaseRunner) -> None:
    w, values = _prepare(case, tmp_path, request)
    board = None
    if case.board:
        from tinymlkit.board.virtual import VirtualBoard

        board = VirtualBoard(board_id=0x0BAD).__enter__()
        values["PORT"] = board.port
    before = snapshot(w)
    try:
        status, sig, timed_out, out, err = runner.run(_fill(case.argv, values), w, case.limit_file_size, case.timeout)
    finally:
        if board is not None:
            board.__exit__(None, None, None)
    check_outcome(case, status, sig, timed_out, out, err, before, w)


REAL_SAMPLE = ("capture-count-wraps", "inspect-garbage", "vww-coco-nested-annotations", "speech-commands-out-dot",
               "capture-full-disk")


@pytest.mark.parametrize("case", [c for c in CASES if c.id in REAL_SAMPLE], ids=lambda c: c.id)
def test_bad_input_with_the_real_entry_point(case: Case, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """A sample of the cases again through ``python -m tinymlkit`` itself: the fork server changes nothing."""
    w, values = _prepare(case, tmp_path, request)
    board = None
    if case.board:
        from tinymlkit.board.virtual import VirtualBoard

        board = VirtualBoard(board_id=0x0BAD).__enter__()
        values["PORT"] = board.port
    before = snapshot(w)
    try:
        r = _run_real(_fill(case.argv, values), w, case.limit_file_size)
    finally:
        if board is not None:
            board.__exit__(None, None, None)
    check_outcome(case, r.returncode if r.returncode >= 0 else None, -r.returncode if r.returncode < 0 else None,
                  False, r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace"), before, w)


def test_internal_errors_are_one_line_and_debug_shows_the_traceback(tmp_path: Path) -> None:
    """A real bug is not disguised as bad input: exit status 70, one line; TINYMLKIT_DEBUG=1 shows the traceback."""
    code = ("import sys\nimport tinymlkit.board.ports as ports\n"
            "def boom(include_all=False):\n    raise ZeroDivisionError('a bug')\n"
            "ports.list_ports = boom\n"
            "from tinymlkit.cli import main\nsys.exit(main(['ports']))\n")
    env = dict(os.environ)
    env.pop("TINYMLKIT_DEBUG", None)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path,
                       timeout=CASE_TIMEOUT)
    assert r.returncode == 70, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "internal error (ZeroDivisionError: a bug)" in lines[0] and "TINYMLKIT_DEBUG=1" in lines[0]
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                       env=dict(env, TINYMLKIT_DEBUG="1"), timeout=CASE_TIMEOUT)
    assert "Traceback (most recent call last)" in r.stderr and "ZeroDivisionError" in r.stderr


def test_progress_bars_stay_off_logs(tmp_path: Path) -> None:
    """With stderr in a file (a log), no carriage-return progress bar is glued onto the next line."""
    src = tmp_path / "src"
    src.mkdir()
    import io
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for i in range(50):
            info = tarfile.TarInfo(f"f{i}.txt")
            info.size = 1
            tar.addfile(info, io.BytesIO(b"x"))
    archive = tmp_path / "speech_commands_v0.02.tar.gz"
    archive.write_bytes(buf.getvalue())
    # A present archive is verified and extracted without any download: the extraction shows a bar on a terminal.
    code = ("import sys\nfrom tinymlkit.data import download as d\n"
            "d.SPEECH_COMMANDS_V2 = d.RemoteFile('http://127.0.0.1:9/speech_commands_v0.02.tar.gz', None, None)\n"
            "import tinymlkit.cli.data_cmd as dc\n"
            "orig = d.download_speech_commands\n"
            "d.download_speech_commands = lambda out=None, **k: orig(out, remote=d.SPEECH_COMMANDS_V2, **k)\n"
            "from tinymlkit.cli import main\nsys.exit(main(['data', 'speech-commands', '--out', sys.argv[1]]))\n")
    log = tmp_path / "log.txt"
    with open(log, "wb") as f:
        r = subprocess.run([sys.executable, "-c", code, str(tmp_path / "sc")], stdout=f, stderr=subprocess.STDOUT,
                           timeout=CASE_TIMEOUT, cwd=tmp_path)
    text = log.read_bytes()
    assert r.returncode == 0, text
    assert b"\r" not in text, text
    assert (tmp_path / "sc" / "f49.txt").is_file()


def test_case_count() -> None:
    """The suite's size, for the record (and a guard against a table emptied by mistake)."""
    assert len(CASES) >= 100, len(CASES)
    assert len({c.id for c in CASES}) == len(CASES), "duplicate case ids"
