"""Scores per recording condition and speaker (notebook 03's bias section), and models side by side on real speakers."""
from __future__ import annotations

import numpy as np
import pytest

from tinymlkit.audio.conditions import bucket, clip_conditions
from tinymlkit.audio.wav import write_wav
from tinymlkit.config import KwsRunConfig, KwsTaskConfig
from tinymlkit.evaluate import metrics_by_group

RATE = 16000
LABELS = ("silence", "unknown", "yes", "no")


def _word(level_db: float, noise_db: float, seed: int = 0) -> np.ndarray:
    """A 0.4-s tone burst at ``level_db`` dBFS (RMS) in noise at ``noise_db`` dBFS (RMS)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(RATE) * 10 ** (noise_db / 20)
    t = np.arange(int(0.4 * RATE)) / RATE
    x[6000:6000 + len(t)] += np.sqrt(2) * 10 ** (level_db / 20) * np.sin(2 * np.pi * 700 * t)
    return x.astype(np.float32)


def test_conditions_read_level_noise_and_snr_off_the_samples():
    c = clip_conditions(_word(-25.0, -60.0))
    assert abs(c.speech_level_dbfs - (-25.0)) < 0.5  # the loud frames are the tone
    assert abs(c.noise_floor_dbfs - (-60.0)) < 1.0  # the quiet frames are the noise
    assert abs(c.snr_db - 35.0) < 1.5 and c.clipped_fraction == 0.0
    noisy = clip_conditions(_word(-25.0, -32.0))
    assert noisy.snr_db < 10 < c.snr_db
    padded = _word(-25.0, -32.0)
    padded[12000:] = 0.0  # a short recording made up to one second with zeros: the zeros are not background
    assert abs(clip_conditions(padded).snr_db - noisy.snr_db) < 2.0
    square = np.sign(np.sin(2 * np.pi * 100 * np.arange(RATE) / RATE)).astype(np.float32)
    assert clip_conditions(square).clipped_fraction > 0.9
    with pytest.raises(ValueError):
        clip_conditions(np.zeros((2, 10)))


def test_bucket_names_each_range_once():
    edges = (-40.0, -30.0, -20.0)
    assert [bucket(v, edges, "dBFS") for v in (-50, -40, -35, -30, -20, 0)] == [
        "< -40 dBFS", "-40..-30 dBFS", "-40..-30 dBFS", "-30..-20 dBFS", ">= -20 dBFS", ">= -20 dBFS"]
    with pytest.raises(ValueError):
        bucket(1.0, (3.0, 1.0), "dB")


def test_metrics_by_group_scores_each_group_on_its_own_clips():
    y_true = [2, 3, 1, 2, 3, 1, 1]
    y_pred = [2, 3, 1, 3, 2, 2, 1]
    groups = ["quiet", "quiet", "quiet", "loud", "loud", "loud", "loud"]
    by = metrics_by_group(y_true, y_pred, groups, LABELS, order=["quiet", "loud"])
    assert list(by) == ["quiet", "loud"]
    assert by["quiet"]["balanced_accuracy"] == 1.0 and by["quiet"]["n"] == 3
    # loud: yes 0/1, no 0/1, unknown 1/2 -> mean recall 1/6; one unknown clip of two taken for a keyword.
    assert by["loud"]["balanced_accuracy"] == pytest.approx(1 / 6)
    assert by["loud"]["unknown_false_accept_rate"] == 0.5 and by["loud"]["support"]["silence"] == 0
    with pytest.raises(ValueError, match="differ in length"):
        metrics_by_group([1, 2], [1], ["a", "b"], LABELS)


def test_scores_by_condition_groups_spoken_clips_and_finds_the_worst_speaker(tmp_path):
    from tinymlkit.pipelines.kws_groups import SplitPredictions, scores_by_condition

    files, y_true, y_pred = [], [], []
    for s, (level, wrong) in enumerate([(-45.0, 3), (-25.0, 0), (-25.0, 1)]):
        spk = f"{0x5000 + s:08x}"
        for k in range(5):
            f = tmp_path / "yes" / f"{spk}_nohash_{k}.wav"
            write_wav(f, _word(level, -70.0, seed=10 * s + k))
            files.append(f)
            y_true.append(2)
            y_pred.append(3 if k < wrong else 2)
    files.append(None)  # made silence: left out of the groups
    y_true.append(0)
    y_pred.append(2)
    pred = SplitPredictions(tuple(files), np.array(y_true), np.array(y_pred), LABELS, "tflm")
    r = scores_by_condition(pred, KwsRunConfig(task=KwsTaskConfig()), min_speaker_clips=5, worst=2)
    assert r["n_spoken"] == 15
    assert r["level"]["< -40 dBFS"]["n"] == 5 and r["level"]["< -40 dBFS"]["accuracy"] == pytest.approx(0.4)
    assert r["level"]["-30..-20 dBFS"]["n"] == 10 and r["level"]["-30..-20 dBFS"]["accuracy"] == pytest.approx(0.9)
    assert list(r["level"])[0] == "< -40 dBFS"  # ordered low to high, not by name
    assert r["clipping"] == {"not clipped": r["clipping"]["not clipped"]}
    sp = r["speakers"]
    assert sp["speakers"] == 3 and sp["with_enough_clips"] == 3
    assert [w["speaker"] for w in sp["worst"]] == [f"{0x5000:08x}", f"{0x5002:08x}"]
    assert sp["worst"][0]["missed"] == 3 and sp["accuracy_percentiles"][50] == pytest.approx(0.8)


def test_side_by_side_scores_every_model_on_the_same_held_out_speakers(shared_data):
    """The reference micro_speech model (labels silence, unknown, yes, no) on the held-out real speakers."""
    from tinymlkit.data.speech_commands import speaker_of
    from tinymlkit.pipelines.kws import DEFAULT_SHARES
    from tinymlkit.pipelines.kws_groups import held_out_real_speakers, side_by_side

    real = shared_data / "speech_commands_v0.02_test_dev"
    ref = (shared_data / "tflite_micro_reference" / "micro_speech" / "micro_speech_quantized.tflite").read_bytes()
    cfg = KwsRunConfig(task=KwsTaskConfig(words=("yes", "no"), **DEFAULT_SHARES))
    ds = held_out_real_speakers(real, cfg)
    heard = {speaker_of(p) for s in ("training", "validation") for p, _ in ds.items[s] if p is not None}
    test = {speaker_of(p) for p, _ in ds.items["testing"] if p is not None and "_silence_" not in str(p)}
    assert test and not heard & test
    r = side_by_side({"reference": ref, "same again": ref}, real, cfg)
    assert r["_clips"] == len(ds.items["testing"]) == r["reference"]["n"]
    assert r["reference"]["confusion"] == r["same again"]["confusion"]
    assert r["reference"]["balanced_accuracy"] > 0.8  # the reference scores ~0.9 on such speakers


def test_real_clips_come_from_the_parameter_then_the_environment(tmp_path, monkeypatch):
    from tinymlkit.course import real_clips
    from tinymlkit.errors import KitError

    monkeypatch.delenv("TINYMLKIT_REAL_CLIPS", raising=False)
    assert real_clips(None) is None
    monkeypatch.setenv("TINYMLKIT_REAL_CLIPS", str(tmp_path))
    assert real_clips(None) == tmp_path
    other = tmp_path / "mine"
    other.mkdir()
    assert real_clips(str(other)) == other  # the notebook's parameter wins
    with pytest.raises(KitError, match="REAL_CLIPS .*missing: no such folder"):
        real_clips(tmp_path / "missing")
    monkeypatch.setenv("TINYMLKIT_REAL_CLIPS", str(tmp_path / "gone"))
    with pytest.raises(KitError, match="TINYMLKIT_REAL_CLIPS"):
        real_clips(None)
