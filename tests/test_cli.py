"""The command line: --help everywhere, predictions on the reference model, evaluate --json, bad input."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import wave

import numpy as np
import pytest

from tinymlkit.audio.wav import write_wav
from tinymlkit.cli import build_parser, main
from tinymlkit.runtime import tflm_available

LABELS = "silence,unknown,yes,no"


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run([sys.executable, "-m", "tinymlkit", *args], capture_output=True, text=True, env=env,
                          timeout=600)


def _all_commands(parser, prefix=()):
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*prefix, name)
                yield from _all_commands(sub, (*prefix, name))


def test_every_command_has_help(capsys):
    commands = list(_all_commands(build_parser()))
    assert ("kws", "run") in commands and ("export",) in commands
    for cmd in commands:
        with pytest.raises(SystemExit) as e:
            main([*cmd, "--help"])
        assert e.value.code == 0
        assert "usage:" in capsys.readouterr().out


def test_predict_on_the_reference_model(micro_speech_dir):
    model = micro_speech_dir / "micro_speech_quantized.tflite"
    r = _cli("kws", "predict", "--model", str(model), "--labels", LABELS, "--json",
             str(micro_speech_dir / "yes_1000ms.wav"), str(micro_speech_dir / "no_1000ms.wav"))
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert [p["label"] for p in out["predictions"]] == ["yes", "no"]
    assert out["backend"] == ("tflm" if tflm_available() else "litert")


def test_evaluate_json_on_real_speakers(micro_speech_dir, shared_data, tmp_path):
    # A small folder in Speech Commands layout: links to 8 real clips per class.
    src = shared_data / "speech_commands_v0.02_test_dev"
    data = tmp_path / "data"
    for folder in ("yes", "no", "_silence_", "_unknown_", "left"):
        (data / folder).mkdir(parents=True)
        for f in sorted((src / folder).glob("*.wav"))[:8]:
            (data / folder / f.name).symlink_to(f)
    r = _cli("kws", "evaluate", "--model", str(micro_speech_dir / "micro_speech_quantized.tflite"),
             "--data", str(data), "--labels", LABELS, "--json")
    assert r.returncode == 0, r.stderr
    m = json.loads(r.stdout)
    for key in ("accuracy", "balanced_accuracy", "per_class", "confusion", "n"):
        assert key in m
    assert m["n"] == 40
    assert m["support"] == {"silence": 8, "unknown": 16, "yes": 8, "no": 8}  # 'left' is unknown here
    assert m["per_class"]["yes"] >= 0.5


def test_bad_inputs_exit_non_zero_with_one_line(micro_speech_dir, tmp_path):
    model = str(micro_speech_dir / "micro_speech_quantized.tflite")
    stereo = tmp_path / "stereo.wav"
    with wave.open(str(stereo), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"\0" * 64000)
    ok = write_wav(tmp_path / "ok.wav", np.zeros(16000, np.float32))
    cases = [
        (["kws", "predict", "--model", str(tmp_path / "missing.tflite"), "--labels", LABELS, str(ok)], "no such model file"),
        (["kws", "predict", "--model", model, "--labels", LABELS, str(stereo)], "2 channels"),
        (["kws", "predict", "--model", model, "--labels", "yes,no", str(ok)], "4 outputs but 2 labels"),
        (["kws", "predict", "--model", str(ok), "--labels", LABELS, str(ok)], "not a TFLite model"),
        (["kws", "evaluate", "--model", model, "--labels", LABELS, "--data", str(tmp_path / "nothing")], "no such dataset folder"),
    ]
    for args, message in cases:
        r = _cli(*args)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        err = [ln for ln in r.stderr.splitlines() if ln.startswith("tinymlkit: error:")]
        assert len(err) == 1 and message in err[0], r.stderr
        assert "Traceback" not in r.stderr


def test_predict_reports_good_files_and_one_line_per_bad_one(micro_speech_dir, tmp_path):
    model = str(micro_speech_dir / "micro_speech_quantized.tflite")
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00")
    r = _cli("kws", "predict", "--model", model, "--labels", LABELS, str(micro_speech_dir / "yes_1000ms.wav"),
             str(broken), str(tmp_path / "missing.wav"), str(micro_speech_dir / "no_1000ms.wav"))
    assert r.returncode == 2, r.stderr
    assert [ln.split(": ")[1].split()[0] for ln in r.stdout.splitlines()] == ["yes", "no"]
    err = [ln for ln in r.stderr.splitlines() if ln.startswith("tinymlkit: error:")]
    assert len(err) == 2 and "broken.wav" in err[0] and "missing.wav" in err[1], r.stderr
    assert "Traceback" not in r.stderr


def test_kws_run_flags_are_checked_before_any_work(tmp_path, capsys):
    cases = [
        (["--unknown-share", "-5"], "--unknown-share"),
        (["--background-volume", "2"], "--background-volume"),
        (["--lr", "5"], "--lr"),
        (["--init", str(tmp_path / "no_run")], "no model.keras"),
        (["--real-eval", str(tmp_path / "nothing")], "--real-eval"),
        (["--mask", "2,6,2"], "--mask"),
        (["--teacher", str(tmp_path / "no_run")], "--teacher"),
        (["--distill-alpha", "0.3"], "need --teacher"),
    ]
    for extra, message in cases:
        assert main(["kws", "run", "--out", str(tmp_path / "run"), "--fast", *extra]) == 2, extra
        err = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("tinymlkit: error:")]
        assert len(err) == 1 and message in err[0], err
    assert not (tmp_path / "run" / "model_int8.tflite").exists()


def test_run_takes_the_flags_run_kws_takes():
    args = build_parser().parse_args(
        ["kws", "run", "--out", "r", "--data", "a", "--data", "b", "--init", "old", "--lr", "0.001", "--real-eval", "x",
         "--copies", "2", "--unknown-share", "200", "--silence-share", "30", "--background-volume", "0.2",
         "--background-frequency", "0.5", "--patience", "3", "--no-balance", "--no-perturb", "--threads", "1"])
    assert [str(d) for d in args.data] == ["a", "b"] and str(args.init) == "old" and args.lr == 0.001
    assert args.copies == 2 and args.unknown_share == 200 and args.silence_share == 30 and args.threads == 1
    assert args.no_balance and args.no_perturb and args.patience == 3 and args.background_frequency == 0.5
    args = build_parser().parse_args(["kws", "run", "--out", "r", "--mask", "--teacher", "big", "--distill-alpha",
                                      "0.3", "--distill-temperature", "3"])
    assert args.mask == "default" and str(args.teacher) == "big" and args.distill_alpha == 0.3
    assert args.distill_temperature == 3 and build_parser().parse_args(["kws", "run", "--out", "r"]).mask is None
