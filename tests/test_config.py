"""Config dataclasses: derived sizes, JSON round trip, and clear errors on bad files."""
from __future__ import annotations

import json

import pytest

from tinymlkit.config import (AudioFrontendConfig, ConfigError, KwsRunConfig, KwsTaskConfig, VwwRunConfig,
                              load_json, load_run_config, save_json)


def test_default_frontend_gives_49_by_40():
    a = AudioFrontendConfig()
    assert (a.clip_samples, a.window_samples, a.stride_samples) == (16000, 480, 320)
    assert a.feature_shape == (49, 40)


def test_frontend_frames_follow_the_settings():
    a = AudioFrontendConfig(window_size_ms=40, window_stride_ms=20, clip_duration_ms=1000)
    assert a.num_frames == 1 + (16000 - 640) // 320


def test_kws_labels_put_silence_and_unknown_first():
    assert KwsTaskConfig(words=("up", "down")).labels == ("silence", "unknown", "up", "down")


@pytest.mark.parametrize("cfg", [
    KwsRunConfig(),
    KwsRunConfig(task=KwsTaskConfig(words=("on", "off", "go"), split_salt="abc")),
    VwwRunConfig(),
])
def test_json_round_trip(tmp_path, cfg):
    path = save_json(cfg, tmp_path / "config.json")
    assert load_run_config(path) == cfg
    assert load_json(type(cfg), path) == cfg


def test_unknown_field_is_named(tmp_path):
    p = tmp_path / "config.json"
    data = json.loads(json.dumps({"task": {"wrods": ["yes"]}}))
    p.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match=r"config.json.*task.*unknown field.*wrods"):
        load_json(KwsRunConfig, p)


def test_wrong_type_is_named(tmp_path):
    p = tmp_path / "c.json"
    p.write_text(json.dumps({"audio": {"sample_rate": "16k"}}))
    with pytest.raises(ConfigError, match=r"audio\.sample_rate: expected an integer"):
        load_json(KwsRunConfig, p)


def test_not_json_and_missing_file(tmp_path):
    p = tmp_path / "c.json"
    p.write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_json(KwsRunConfig, p)
    with pytest.raises(ConfigError, match="no such config file"):
        load_run_config(tmp_path / "missing.json")


# ---- Strict loading (issue 11 sections 4 and 5): every field present, typed and in range, named in the error.

def _full(cfg=None) -> dict:
    from tinymlkit.config import to_dict
    return to_dict(cfg or KwsRunConfig())


def _write(tmp_path, data, name="config.json"):
    p = tmp_path / name
    p.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return p


def test_empty_config_is_refused_not_filled_with_defaults(tmp_path):
    p = _write(tmp_path, {"kind": "kws"})
    with pytest.raises(ConfigError, match=r"config.json: missing field\(s\) \['audio', 'task', 'train', 'recognizer'\]"):
        load_run_config(p)
    with pytest.raises(ConfigError, match=r"config.json: field 'kind' is None"):
        load_run_config(_write(tmp_path, {}))


def test_missing_nested_field_is_named(tmp_path):
    data = _full()
    del data["audio"]["window_stride_ms"]
    with pytest.raises(ConfigError, match=r"config.json\.audio: missing field\(s\) \['window_stride_ms'\]"):
        load_run_config(_write(tmp_path, data))


@pytest.mark.parametrize("section,field,value,message", [
    ("audio", "window_stride_ms", 0, r"audio\.window_stride_ms: 0 is out of range; expected an integer from 1 to 1000"),
    ("audio", "window_size_ms", 10**9, r"audio\.window_size_ms: 1000000000 is out of range"),
    ("audio", "feature_bins", -3, r"audio\.feature_bins: -3 is out of range"),
    ("audio", "lower_band_limit", 8000.0, r"audio\.upper_band_limit: 7500 Hz is not above lower_band_limit 8000 Hz"),
    ("audio", "upper_band_limit", 12000.0, r"audio\.upper_band_limit: 12000 Hz is above half the sample rate"),
    ("audio", "upper_band_limit", 7990.0, r"audio\.upper_band_limit: 7990 Hz reaches the last FFT bin"),
    ("audio", "window_size_ms", 4, r"audio\.window_stride_ms: 20 ms is longer than the window \(4 ms\)"),
    ("audio", "feature_bins", 128, r"audio\.feature_bins: 128 channels need at least 256 FFT bins"),
    ("audio", "window_stride_ms", 40, r"audio\.window_stride_ms: 40 ms is longer than the window \(30 ms\)"),
    ("audio", "lower_band_limit", 10.0, r"audio\.lower_band_limit: 10 Hz is inside the first FFT bin"),
    ("audio", "sample_rate", 16000.5, r"audio\.sample_rate: expected an integer"),
    ("audio", "enable_pcan", 1, r"audio\.enable_pcan: expected true or false"),
    ("task", "words", ["yes", "yes"], r"task\.words: label 'yes' appears twice"),
    ("task", "words", ["yes", ""], r"task\.words\[1\]: a label cannot be empty"),
    ("task", "words", ["yes", "unknown"], r"task\.words: label 'unknown' appears twice"),
    ("task", "words", [], r"task\.words: needs at least 1 label"),
    ("task", "words", ["ye\ns"], r"task\.words\[0\]: label 'ye\\ns' holds a control character"),
    ("task", "testing_percentage", 95.0, r"task\.testing_percentage: validation \(10 %\) plus testing \(95 %\)"),
    ("recognizer", "detection_threshold", 300, r"recognizer\.detection_threshold: 300 is out of range"),
    ("train", "learning_rate", 0, r"train\.learning_rate: 0.0 is out of range"),
])
def test_out_of_range_values_are_named_with_the_valid_range(tmp_path, section, field, value, message):
    data = _full()
    data[section][field] = value
    with pytest.raises(ConfigError, match=r"config\.json\." + message):
        load_run_config(_write(tmp_path, data))


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_never_load(tmp_path, literal):
    text = json.dumps(_full(), indent=1).replace('"pcan_offset": 80.0', f'"pcan_offset": {literal}')
    assert literal in text
    with pytest.raises(ConfigError, match=r"config.json: not valid JSON .*not a number JSON allows"):
        load_run_config(_write(tmp_path, text))


def test_code_made_configs_are_checked_too():
    with pytest.raises(ConfigError, match=r"AudioFrontendConfig\.window_stride_ms: 0 is out of range"):
        AudioFrontendConfig(window_stride_ms=0)
    with pytest.raises(ConfigError, match=r"AudioFrontendConfig\.window_size_ms: 4 ms is 64 samples at 16000 Hz; the "
                                          r"frontend needs at least 128"):
        AudioFrontendConfig(window_size_ms=4, window_stride_ms=4)
    with pytest.raises(ConfigError, match=r"AudioFrontendConfig\.pcan_strength: expected a finite number, got nan"):
        AudioFrontendConfig(pcan_strength=float("nan"))
    with pytest.raises(ConfigError, match=r"VwwTaskConfig\.labels: needs at least 2"):
        from tinymlkit.config import VwwTaskConfig
        VwwTaskConfig(labels=("person",))
    with pytest.raises(ConfigError, match=r"ImageInputConfig\.normalization"):
        from tinymlkit.config import ImageInputConfig
        ImageInputConfig(normalization="other")
    # Lists from code become tuples, ints in float fields become floats: equality and JSON stay stable.
    t = KwsTaskConfig(words=["up", "down"], background_volume=0)
    assert t.words == ("up", "down") and isinstance(t.background_volume, float)


@pytest.mark.parametrize("content", [b"\x00\x01\xff\xfe binary", b"[" * 100000 + b"]" * 100000, b"[1, 2]", b"{" * 3])
def test_binary_nested_or_non_object_files_are_one_line_errors(tmp_path, content):
    p = tmp_path / "config.json"
    p.write_bytes(content)
    with pytest.raises(ConfigError, match=r"config.json: ") as e:
        load_run_config(p)
    assert "\n" not in str(e.value)


def test_folder_given_as_config(tmp_path):
    with pytest.raises(ConfigError, match="is a folder"):
        load_run_config(tmp_path)


def test_frontend_table_covers_every_field_once():
    from tinymlkit.config import FRONTEND_FIELDS, frontend_op_args
    fields = [f.name for f in __import__("dataclasses").fields(AudioFrontendConfig)]
    assert [f.field for f in FRONTEND_FIELDS] == fields  # every field, once, in order
    for f in FRONTEND_FIELDS:
        assert f.tf_arg or f.note, f"{f.field}: neither an op argument nor a note saying where it goes"
        assert f.c_member is None or f.tf_arg, f"{f.field} reaches the board but not training"
    members = [f.c_member for f in FRONTEND_FIELDS if f.c_member]
    assert len(members) == len(set(members))
    args = frontend_op_args(AudioFrontendConfig(window_stride_ms=10))
    assert args["window_step"] == 10 and "clip_duration_ms" not in args and len(args) == 16


def test_frontend_table_matches_the_tf_op_signature():
    import inspect as pyinspect
    from tinymlkit.config import FRONTEND_FIELDS
    try:
        from tinymlkit.tf_quiet import load_tensorflow
        load_tensorflow()
        from tensorflow.lite.experimental.microfrontend.python.ops import audio_microfrontend_op as op
    except ImportError:
        pytest.skip("TensorFlow is not installed here (the op's signature cannot be read)")
    params = set(pyinspect.signature(op.audio_microfrontend).parameters)
    assert {f.tf_arg for f in FRONTEND_FIELDS if f.tf_arg} <= params


def test_image_normalisations_match_the_vision_table():
    from tinymlkit.config import IMAGE_NORMALIZATIONS
    from tinymlkit.vision.int8_input import NORMALIZATIONS
    assert set(IMAGE_NORMALIZATIONS) == set(NORMALIZATIONS)


_EDGE_PROBE = r"""
import sys, numpy as np
from tinymlkit.config import AudioFrontendConfig
from tinymlkit.audio.features import frontend_uint16
rng = np.random.default_rng(0)
# Each at the edge of what config.py accepts (128-sample window, band one bin inside the FFT, 2 bins a channel).
for kw in [dict(window_stride_ms=1), dict(window_size_ms=1000, clip_duration_ms=1000, feature_bins=128),
           dict(feature_bins=1), dict(lower_band_limit=3000.0, upper_band_limit=7968.75, feature_bins=79),
           dict(sample_rate=4000, window_size_ms=32, lower_band_limit=31.25, upper_band_limit=1968.75, feature_bins=31),
           dict(sample_rate=8000, window_size_ms=16, window_stride_ms=16, lower_band_limit=62.5, upper_band_limit=3937.5,
                feature_bins=31),
           dict(window_size_ms=8, window_stride_ms=1, lower_band_limit=125.0, upper_band_limit=7875.0, feature_bins=31),
           dict(sample_rate=48000, clip_duration_ms=10, window_size_ms=10, window_stride_ms=10, lower_band_limit=93.75,
                upper_band_limit=23906.25, feature_bins=127),
           dict(smoothing_bits=16, gain_bits=28, scale_shift=15, pcan_strength=4.0, pcan_offset=1e6),
           dict(smoothing_bits=0, gain_bits=0, scale_shift=0, pcan_strength=0.0, pcan_offset=0.0),
           dict(even_smoothing=0.0, odd_smoothing=1.0, min_signal_remaining=0.0)]:
    cfg = AudioFrontendConfig(**kw)
    clip = (rng.standard_normal(cfg.clip_samples) * 3000).astype(np.int16)
    out = frontend_uint16(clip, cfg)
    print(kw, out.shape, flush=True)
print("done")
"""


@pytest.mark.slow
def test_the_c_frontend_survives_every_edge_of_the_valid_ranges(tmp_path):
    # The op's C code crashed (SIGFPE, SIGSEGV) on values the old loader let through; the ranges now
    # stop at values it handles. A child process, so a crash fails this test instead of ending the run.
    import os
    import subprocess
    import sys
    try:
        import tensorflow  # noqa: F401
    except ImportError:
        pytest.skip("TensorFlow is not installed here")
    r = subprocess.run([sys.executable, "-c", _EDGE_PROBE], capture_output=True, text=True, timeout=600,
                       env={**os.environ, "PYTHONPATH": str(__import__("pathlib").Path(__file__).parents[1])})
    assert r.returncode == 0, (r.returncode, r.stdout[-2000:], r.stderr[-2000:])
    assert r.stdout.strip().endswith("done")
