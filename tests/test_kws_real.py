"""What makes a keyword model work on real voices: perturbations, honest scores, the data draw,
early stopping on balanced accuracy, scoring a folder, fine-tuning from a run."""
from __future__ import annotations

import json

import numpy as np
import pytest

from tinymlkit.audio.perturb import (PerturbConfig, change_speed, perturb_clip, reverberate, room_impulse_response,
                                     shift_pitch, warp_vocal_tract)
from tinymlkit.audio.wav import write_wav
from tinymlkit.config import KwsTaskConfig
from tinymlkit.evaluate import classification_metrics, headline

RATE = 16000
LABELS = ("silence", "unknown", "yes", "no")


def _tone(freq: float, seconds: float = 1.0, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(RATE * seconds)) / RATE
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _peak_hz(x: np.ndarray) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.argmax(spec) * RATE / len(x))


def test_speed_change_moves_pitch_and_keeps_length():
    y = change_speed(_tone(200), 1.1)
    assert len(y) == RATE and y.dtype == np.float32
    assert abs(_peak_hz(y) - 220) <= 2
    assert abs(_peak_hz(change_speed(_tone(200), 0.9)) - 180) <= 2


def test_pitch_shift_keeps_duration():
    y = shift_pitch(_tone(200), 12.0)
    assert len(y) == RATE
    assert abs(_peak_hz(y) - 400) <= 4
    # The tone still fills the second: duration kept, unlike a plain speed change.
    assert np.abs(y[: RATE // 4]).max() > 0.1 and np.abs(y[-RATE // 4:]).max() > 0.1


def test_vocal_tract_warp_moves_formants_up_or_down():
    feats = np.zeros((49, 40), np.float32)
    feats[:, 15] = 10.0
    up, down = warp_vocal_tract(feats, 1.15), warp_vocal_tract(feats, 0.85)
    assert up.shape == feats.shape
    assert np.argmax(up[0]) > 15 > np.argmax(down[0])
    assert np.array_equal(warp_vocal_tract(feats, 1.0), feats)


def test_reverberation_adds_a_decaying_tail():
    clip = np.zeros(RATE, np.float32)
    clip[1000] = 0.8
    rir = room_impulse_response(0.4, RATE, np.random.default_rng(0))
    wet = reverberate(clip, rir)
    assert len(wet) == RATE and abs(np.abs(wet).max() - 0.8) < 1e-5
    tail = np.abs(wet[1000 + 800:1000 + 1600]).mean()
    late = np.abs(wet[1000 + 5600:1000 + 6400]).mean()
    assert tail > late > 0  # energy after the impulse, fading


def test_perturbation_is_repeatable_and_leaves_silence_alone():
    clip = _tone(300) * np.hanning(RATE).astype(np.float32)
    cfg = PerturbConfig(reverb_probability=1.0, speed_probability=1.0)
    a = perturb_clip(clip, cfg, np.random.default_rng(5))
    b = perturb_clip(clip, cfg, np.random.default_rng(5))
    assert np.array_equal(a, b) and not np.array_equal(a, clip)
    assert np.abs(a).max() <= 1.0
    assert not np.any(perturb_clip(np.zeros(RATE, np.float32), cfg, np.random.default_rng(1)))


def test_metrics_lead_with_balanced_accuracy_and_false_accepts():
    # 4 unknown clips: 2 taken for yes/no (false accepts), 1 for silence, 1 right.
    y_true = [1, 1, 1, 1, 2, 2, 3, 3, 0]
    y_pred = [2, 3, 0, 1, 2, 2, 3, 1, 2]
    m = classification_metrics(y_true, y_pred, LABELS)
    assert list(m)[:3] == ["balanced_accuracy", "per_class", "unknown_false_accept_rate"]
    assert m["unknown_false_accept_rate"] == pytest.approx(0.5)
    assert m["silence_false_accept_rate"] == pytest.approx(1.0)
    assert m["per_class"] == {"silence": 0.0, "unknown": 0.25, "yes": 1.0, "no": 0.5}
    assert m["balanced_accuracy"] == pytest.approx((0 + 0.25 + 1 + 0.5) / 4)
    line = headline(m)
    assert line.startswith("balanced 0.438") and "unknown 0.25" in line and "50.0%" in line


def _make_folder(root, speakers, words, takes=2):
    rng = np.random.default_rng(0)
    for spk in speakers:
        for w in words:
            for k in range(takes):
                write_wav(root / w / f"{spk}_nohash_{k}.wav", (0.1 * rng.standard_normal(RATE)).astype(np.float32))
    write_wav(root / "_background_noise_" / "noise.wav", (0.1 * rng.standard_normal(3 * RATE)).astype(np.float32))
    return root


def test_validation_and_test_keep_every_unknown_clip(tmp_path):
    from tinymlkit.pipelines.kws import draw_dataset

    speakers = [f"{i:08x}" for i in range(0x1000, 0x1000 + 60)]
    root = _make_folder(tmp_path / "d", speakers, ["yes", "no", "cat", "dog", "tree", "wow"], takes=1)
    task = KwsTaskConfig(words=("yes", "no"), unknown_percentage=10.0, silence_percentage=10.0)
    ds = draw_dataset([root], task, seed=3)
    counts = ds.counts()
    for split in ("validation", "testing"):
        c = counts[split]
        if c.get("yes", 0) + c.get("no", 0) == 0:
            continue
        # All four other words of the split's speakers, not 10 % of the keyword clips.
        assert c["unknown"] == 2 * (c["yes"] + c["no"])
        assert c["silence"] >= 1
    tr = counts["training"]
    assert tr["unknown"] == int(np.ceil((tr["yes"] + tr["no"]) * 0.10))


def test_several_folders_are_mixed(tmp_path):
    from tinymlkit.pipelines.kws import draw_dataset

    a = _make_folder(tmp_path / "a", [f"{i:08x}" for i in range(0x2000, 0x2000 + 30)], ["yes", "no", "cat"])
    b = _make_folder(tmp_path / "b", [f"{i:08x}" for i in range(0x3000, 0x3000 + 30)], ["yes", "no", "dog"])
    task = KwsTaskConfig(words=("yes", "no"), unknown_percentage=100.0)
    ds = draw_dataset([a, b], task, seed=1)
    paths = {str(p) for its in ds.items.values() for p, _ in its if p is not None}
    assert any(p.startswith(str(a)) for p in paths) and any(p.startswith(str(b)) for p in paths)
    assert len(ds.background) == 2


def test_early_stopping_keeps_the_best_balanced_epoch():
    from tinymlkit.config import TrainConfig
    from tinymlkit.models import tiny_conv
    from tinymlkit.train import fit, set_seed

    rng = np.random.default_rng(0)
    x = rng.random((96, 49, 40), dtype=np.float32) * 20
    y = rng.integers(0, 4, 96)
    set_seed(3)
    m = tiny_conv((49, 40), 4)
    r = fit(m, x, y, x[:32], y[:32], TrainConfig(epochs=3, batch_size=32, seed=3, patience=5), progress=False)
    h = r.history["val_balanced_accuracy"]
    assert len(h) == 3 and all(0.0 <= v <= 1.0 for v in h)
    assert r.best_epoch == int(np.argmax(h)) + 1
    # The kept weights are those of the best epoch: recomputing its balanced accuracy gives the same figure.
    pred = np.argmax(m.predict(x[:32], verbose=0), 1)
    got = classification_metrics(y[:32], pred, LABELS)["balanced_accuracy"]
    assert got == pytest.approx(max(h), abs=1e-6)


def test_score_folder_on_real_speakers_skips_bad_files(shared_data, micro_speech_dir, tmp_path):
    from tinymlkit.evaluate import score_folder

    src = shared_data / "speech_commands_v0.02_test_dev"
    data = tmp_path / "real"
    for folder in ("yes", "no", "_silence_", "_unknown_", "go"):
        (data / folder).mkdir(parents=True)
        for f in sorted((src / folder).glob("*.wav"))[:6]:
            (data / folder / f.name).symlink_to(f)
    (data / "yes" / "broken_nohash_0.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt ")
    m = score_folder(micro_speech_dir / "micro_speech_quantized.tflite", data, LABELS, details=True)
    assert m["n"] == 30 and m["skipped"] == 1 and "broken_nohash_0.wav" in m["skipped_files"][0]
    assert m["support"] == {"silence": 6, "unknown": 12, "yes": 6, "no": 6}
    assert len(m["files"]) == len(m["predicted"]) == 30
    assert m["per_class"]["yes"] >= 0.5
    assert m["unknown_false_accept_rate"] is not None


def test_threads_can_be_capped():
    from tinymlkit.tf_quiet import load_tensorflow
    from tinymlkit.train import limit_threads

    limit_threads(None)  # no-op
    tf = load_tensorflow()
    limit_threads(1)  # after TensorFlow started it is ignored, never an error
    assert tf.config.threading.get_intra_op_parallelism_threads() in (0, 1)


@pytest.mark.slow
def test_fine_tune_from_a_run_with_real_eval(tmp_path, shared_data):
    """--init: a synthetic fast run, then fine-tuning on a few real speakers, scored on other real speakers."""
    from tinymlkit.data.synth_speech import tts_available
    from tinymlkit.pipelines.kws import format_summary, run_kws

    if not any(tts_available().values()):
        pytest.skip("no text-to-speech program (espeak-ng or flite) to make the offline keyword set")
    src = shared_data / "speech_commands_v0.02_test_dev"
    mine, held = tmp_path / "mine", tmp_path / "held"
    for folder in ("yes", "no", "_unknown_", "left"):
        files = sorted((src / folder).glob("*.wav"))
        for dest, chunk in ((mine, files[:24]), (held, files[24:32])):
            (dest / folder).mkdir(parents=True, exist_ok=True)
            for f in chunk:
                (dest / folder / f.name).symlink_to(f)
    base = run_kws(tmp_path / "base", fast=True, epochs=1, progress=False, perturb=False)
    r = run_kws(tmp_path / "tuned", data=mine, init=base.out, epochs=1, progress=False, real_eval=held,
                augment_copies=1)
    m = json.loads((r.out / "metrics.json").read_text())
    assert m["task"]["init"] == str(base.out)
    assert m["task"]["data_roots"][0] == str(mine) and len(m["task"]["data_roots"]) == 2  # base data mixed in
    real = m["real_eval"][str(held)]
    assert real["n"] == 32 and real["support"]["unknown"] == 16
    assert list(m)[:3] == ["balanced_accuracy", "per_class", "unknown_false_accept_rate"]
    text = format_summary(r)
    assert "started from the model of" in text and str(held) in text


def test_ds_cnn_first_stride_sets_the_positions_every_layer_works_on():
    from tinymlkit.models.kws import ds_cnn

    wide = ds_cnn((49, 40), 4, filters=8, blocks=1)
    narrow = ds_cnn((49, 40), 4, filters=8, blocks=1, strides=(2, 4))
    assert wide.get_layer("dw0").output.shape[1:3] == (25, 20)
    assert narrow.get_layer("dw0").output.shape[1:3] == (25, 10)
    assert narrow.count_params() == wide.count_params()  # same weights on half the positions


@pytest.mark.slow
def test_a_run_distils_from_a_teacher_run_and_masks_its_features(tmp_path, shared_data):
    """--teacher and --mask: a student run takes a teacher run's model for soft targets and says so; a teacher
    with other words is refused before any work."""
    from tinymlkit.errors import KitError
    from tinymlkit.pipelines.kws import run_kws
    from tinymlkit.train import DistillConfig

    src = shared_data / "speech_commands_v0.02_test_dev"
    data = tmp_path / "data"
    for folder in ("yes", "no", "left", "_unknown_"):
        (data / folder).mkdir(parents=True)
        for f in sorted((src / folder).glob("*.wav"))[:40]:
            (data / folder / f.name).symlink_to(f)
    teacher = run_kws(tmp_path / "teacher", data=data, fast=True, epochs=1, progress=False, perturb=False)
    r = run_kws(tmp_path / "student", data=data, fast=True, epochs=1, progress=False, perturb=False,
                teacher=teacher.out, distill=DistillConfig(alpha=0.3, temperature=3.0), mask=True)
    m = json.loads((r.out / "metrics.json").read_text())
    assert m["task"]["teacher"] == str(teacher.out)
    assert m["task"]["distill"] == {"alpha": 0.3, "temperature": 3.0}
    assert m["task"]["mask"]["time_masks"] == 2 and teacher.metrics["task"]["mask"] is None
    with pytest.raises(KitError, match="--teacher .*labels"):
        run_kws(tmp_path / "other", data=data, words=("yes", "left"), fast=True, epochs=1, progress=False,
                teacher=teacher.out)
    assert not (tmp_path / "other" / "model_int8.tflite").exists()


def test_the_named_ds_cnns_fit_their_size_classes():
    """ds_cnn (Nano class) and ds_cnn_tiny (micro_speech's size), as kws run builds them: int8 within their size
    class, and an inference inside the recognizer's stride by inspect's latency estimate for the Nano 33 BLE."""
    from tinymlkit.config import KwsRunConfig
    from tinymlkit.convert import to_int8_tflite
    from tinymlkit.inspect import inspect_model
    from tinymlkit.models.kws import build_kws_model
    from tinymlkit.pipelines.tail import board_arena
    from tinymlkit.targets import get_target

    cfg = KwsRunConfig()
    stride_ms = cfg.recognizer.inference_every_frames * cfg.audio.window_stride_ms
    x = np.random.default_rng(0).uniform(0, 26, (32, *cfg.audio.feature_shape)).astype(np.float32)
    for name, model_limit, arena_limit in (("ds_cnn", 64_000, 96_000), ("ds_cnn_tiny", 20_000, 12_000)):
        tfl = to_int8_tflite(build_kws_model(name, cfg.audio.feature_shape, len(cfg.labels)), x)
        assert len(tfl) <= model_limit and board_arena(tfl) <= arena_limit, name
        latency = get_target("nano33ble").latency_ms(inspect_model(tfl).macs)
        assert latency <= stride_ms, (name, latency, stride_ms)
