"""The keyword pipeline end to end in fast mode (real TTS data, training, conversion, TFLM, export)."""
from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from tinymlkit.config import KwsRunConfig, load_run_config
from tinymlkit.data.synth_speech import tts_available
from tinymlkit.runtime import tflm_available

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def fast_run(tmp_path_factory):
    if not any(tts_available().values()):
        pytest.skip("no text-to-speech program (espeak-ng or flite) to make the offline keyword set")
    from tinymlkit.pipelines.kws import run_kws

    base = tmp_path_factory.mktemp("kws")
    return run_kws(base / "run", fast=True, sketch=base / "sketch", progress=False)


def test_run_folder_holds_models_config_and_metrics(fast_run):
    out = fast_run.out
    for name in ("model_int8.tflite", "model_float.tflite", "config.json", "metrics.json", "model.keras",
                 "training.png", "confusion.png"):
        assert (out / name).is_file(), name
    cfg = load_run_config(out / "config.json")
    assert isinstance(cfg, KwsRunConfig) and cfg.labels == ("silence", "unknown", "yes", "no")
    m = json.loads((out / "metrics.json").read_text())
    for key in ("keras", "float", "int8_litert", "tflm_vs_litert", "model_bytes", "steps_seconds"):
        assert key in m
    for runtime in ("keras", "float", "int8_litert") + (("int8_tflm",) if tflm_available() else ()):
        r = m[runtime]
        assert 0.0 <= r["accuracy"] <= 1.0 and r["n"] == m["keras"]["n"] > 0
        assert sum(map(sum, r["confusion"])) == r["n"]


def test_voices_are_held_out(fast_run):
    split = json.loads((fast_run.out / "metrics.json").read_text())["task"]["split_method"]
    assert "validation_list.txt" in split


@pytest.mark.skipif(not tflm_available(), reason="tflite-micro (TFLM interpreter) is not installed here")
def test_int8_model_fits_the_yes_no_budget(fast_run):
    m = fast_run.metrics
    assert m["model_bytes"]["int8"] <= 20 * 1024
    assert m["arena_bytes"] <= 12 * 1024
    assert m["tflm_vs_litert"]["differing_outputs"] is not None


def test_int8_tracks_float(fast_run):
    m = fast_run.metrics
    # Quantisation may cost a point or two; on a small test split one clip is 1/n.
    assert abs(m["int8_litert"]["accuracy"] - m["float"]["accuracy"]) <= 0.05 + 1.0 / m["float"]["n"]


def test_sketch_files_written_and_compile(fast_run, tmp_path):
    sketch = fast_run.sketch_files[0].parent
    names = {p.name for p in fast_run.sketch_files}
    assert {"model_data.cc", "model_data.h", "model_settings.h", "model_ops.h"} <= names
    settings = (sketch / "model_settings.h").read_text()
    assert "kNumLabels = 4" in settings
    if shutil.which("g++"):
        subprocess.run(["g++", "-std=c++17", "-c", str(sketch / "model_data.cc"), "-o", str(tmp_path / "m.o")],
                       check=True)


def test_same_seed_same_model(fast_run, tmp_path):
    """Determinism: the training step under one seed gives the same weights twice."""
    import numpy as np

    from tinymlkit.config import TrainConfig
    from tinymlkit.models import tiny_conv
    from tinymlkit.train import fit, set_seed

    rng = np.random.default_rng(0)
    x = rng.random((64, 49, 40), dtype=np.float32) * 20
    y = rng.integers(0, 4, 64)
    weights = []
    for _ in range(2):
        set_seed(7)  # before building: the initial weights come from the seed too
        m = tiny_conv((49, 40), 4)
        fit(m, x, y, x[:16], y[:16], TrainConfig(epochs=2, batch_size=16, seed=7), progress=False)
        weights.append(m.get_weights())
    assert all(np.array_equal(a, b) for a, b in zip(*weights))
