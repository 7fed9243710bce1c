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
