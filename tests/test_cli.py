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
