"""Data minimisation study: the obfuscations themselves, and the real person detector on real photos under them."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from tinymlkit.errors import KitError
from tinymlkit.privacy.minimise import detail_bytes, minimisation_study, obfuscate
from tinymlkit.runtime import tflm_available


def _frames(n: int = 3) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (n, 96, 96, 1)).astype(np.uint8)


def test_obfuscations_keep_the_shape_and_remove_detail():
    x = _frames()
    for kind, level in (("downscale", 12), ("blur", 3), ("pixelate", 8)):
        y = obfuscate(x, kind, level)
        assert y.shape == x.shape and y.dtype == np.uint8
        assert detail_bytes(y) < 0.6 * detail_bytes(x), kind  # noise compresses badly; smoothed noise well
    p = obfuscate(x, "pixelate", 8)
    assert np.all(p[0, :8, :8, 0] == p[0, 0, 0, 0])  # one value per block
    assert np.all(obfuscate(x, "pixelate", 1) == x)
    with pytest.raises(KitError, match="unknown obfuscation"):
        obfuscate(x, "smear", 2)
    with pytest.raises(KitError, match="grayscale"):
        obfuscate(x[..., 0], "blur", 2)


@pytest.mark.skipif(not tflm_available(), reason="the TFLM interpreter (tflite-micro) is not installed")
def test_study_on_real_photos_with_the_reference_detector(shared_data, person_detection_dir):
    from tinymlkit.pipelines.vww import load_real_photos
    from tinymlkit.runtime import ModelRunner
    from tinymlkit.vision.int8_input import pixel_to_int8_table, pixels_to_int8

    photos = load_real_photos(shared_data / "people_smoke", labels=("non_person", "person"))
    model = person_detection_dir / "person_detect.tflite"
    rows = minimisation_study(photos.x, photos.y, model, levels={"pixelate": (16, 48)}, backend="tflm")
    none = rows[0]
    # The untouched row is the detector's own verdict, recomputed here frame by frame.
    r = ModelRunner(model, backend="tflm")
    t = pixel_to_int8_table(r.input_quant.scale, r.input_quant.zero_point)
    pred = np.array([np.argmax(r.run_raw(pixels_to_int8(f, t))) for f in photos.x])
    assert none.person_recall == pytest.approx(np.mean(pred[photos.y == 1] == 1))
    assert none.non_person_recall == pytest.approx(np.mean(pred[photos.y == 0] == 0))
    assert none.balanced_accuracy > 0.7  # the reference detector works on these photos (FACTS: 14/15, 31/38)
    coarse = rows[-1]  # 2x2 blocks of 48 pixels: almost nothing of the photo is left
    assert coarse.detail_bytes < rows[1].detail_bytes < none.detail_bytes
    assert coarse.balanced_accuracy < none.balanced_accuracy


# --- Keyword yes, speaker no: the obfuscator in front of the keyword model, and the fresh adversary ---

def _made_speaker_data(seed: int = 0):
    """Tiny micro-feature-like maps: each keyword a bump in its own band, each speaker its own channel profile."""
    from tinymlkit.privacy.obfuscator import SpeakerData

    rng = np.random.default_rng(seed)
    labels = ("silence", "unknown", "yes", "no")
    bands = {1: (15, 25), 2: (5, 15), 3: (25, 35)}
    profiles = rng.uniform(0, 4, (4, 40))

    def make(n_per: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        xs, ys, ss = [], [], []
        for s in range(4):
            for y in (1, 2, 3):
                for _ in range(n_per):
                    x = rng.uniform(0, 3, (49, 40)) + profiles[s]
                    lo, hi = bands[y]
                    x[10:35, lo:hi] += 12
                    xs.append(x), ys.append(y), ss.append(s)
        for _ in range(2 * n_per):
            xs.append(rng.uniform(0, 2, (49, 40))), ys.append(0), ss.append(-1)
        return np.stack(xs).astype(np.float32), np.array(ys), np.array(ss)

    xt, yt, st = make(5)
    xh, yh, sh = make(2)
    return SpeakerData(labels, ("a", "b", "c", "d"), xt, yt, st, xh, yh, sh,
                       np.zeros((0, 49, 40), np.float32), np.zeros(0, np.int64), "made feature maps")


@pytest.mark.slow
@pytest.mark.skipif(not tflm_available(), reason="the TFLM interpreter (tflite-micro) is not installed")
def test_obfuscated_keyword_model_is_one_int8_model_and_the_fresh_adversary_sees_a_frozen_obfuscator(tmp_path):
    from tinymlkit.convert import to_int8_tflite
    from tinymlkit.evaluate import classification_metrics
    from tinymlkit.models import build_kws_model
    from tinymlkit.privacy.obfuscator import (ObfuscatorConfig, build_speaker_model, fresh_adversary,
                                              train_obfuscator)
    from tinymlkit.runtime import ModelRunner
    from tinymlkit.train import set_seed

    data = _made_speaker_data()
    cfg = ObfuscatorConfig(epochs=1, adversary_epochs=2, batch_size=32, code_channels=0, fresh_attackers=("cnn",))
    t = train_obfuscator(data, 1.0, cfg)
    # One int8 model (obfuscator in front), scored on TFLM: its outputs are what the study reported.
    assert t.backend == "tflm"
    r = ModelRunner(t.int8_model, backend="tflm")
    raw = r.predict_raw(data.x_keyword_test)
    np.testing.assert_array_equal(raw, t.keyword_raw)
    m = classification_metrics(data.y_keyword_test, np.argmax(raw, 1), data.labels)
    assert m["balanced_accuracy"] == t.keyword_metrics["balanced_accuracy"]
    assert t.co_adversary_accuracy is not None
    # The keyword sketch runs it unchanged: the same input tensor as the plain keyword model.
    plain = ModelRunner(to_int8_tflite(build_kws_model("tiny_conv", (49, 40), 4), data.x_train), backend="tflm")
    assert r.input_shape == plain.input_shape == (1, 49, 40)
    assert r.input_dtype == plain.input_dtype == np.int8
    assert r.num_outputs == plain.num_outputs == 4
    assert len(r.model_info.operators) > len(plain.model_info.operators)  # the obfuscator's layers are in it
    # ... and it goes into the keyword sketch, which check-sketch accepts with the arena measured on TFLM.
    from tinymlkit.errors import KitError
    from tinymlkit.export.checks import check_sketch
    from tinymlkit.privacy.obfuscator import export_obfuscated_sketch

    with pytest.raises(KitError, match="labels"):
        export_obfuscated_sketch(t, tmp_path / "wrong", tmp_path / "wrong_sketch", words=("up", "down"))
    export_obfuscated_sketch(t, tmp_path / "run", tmp_path / "sketch", words=("yes", "no"), cfg=cfg)
    assert (tmp_path / "run" / "model_int8.tflite").read_bytes() == t.int8_model
    assert (tmp_path / "sketch" / "kws.ino").is_file()
    report = check_sketch(tmp_path / "sketch")
    assert report.ok, [str(f) for f in report.errors]
    assert "kNumLabels = 4" in (tmp_path / "sketch" / "model_settings.h").read_text().replace("int ", "")
    # The fresh adversary trains after the fact: the obfuscator is frozen, the adversary really learns.
    before = [w.copy() for w in t.obfuscator.get_weights()]
    fa = fresh_adversary(t.obfuscator, data, cfg)
    assert all(np.array_equal(a, b) for a, b in zip(before, t.obfuscator.get_weights()))
    assert len(fa.history["loss"]) == cfg.adversary_epochs
    set_seed(cfg.seed + 1)
    untrained = build_speaker_model((49, 40), 4)
    assert not np.array_equal(untrained.get_layer("speaker").get_weights()[0],
                              fa.model.get_layer("speaker").get_weights()[0])
    held = data.s_held >= 0
    z = t.obfuscator(data.x_held[held], training=False)
    assert fa.accuracy == pytest.approx(np.mean(np.argmax(fa.model(z, training=False), 1) == data.s_held[held]))
    assert fa.chance == pytest.approx(0.25)  # four speakers with two clips of each word


@pytest.mark.slow
@pytest.mark.skipif(not tflm_available(), reason="the TFLM interpreter (tflite-micro) is not installed")
def test_obfuscator_levers_train_and_stay_one_int8_model_on_tflm():
    from tinymlkit.errors import KitError
    from tinymlkit.privacy.obfuscator import ObfuscatorConfig, build_obfuscator, train_obfuscator
    from tinymlkit.runtime import ModelRunner

    data = _made_speaker_data()
    cfg = ObfuscatorConfig(epochs=2, adversary_epochs=2, batch_size=32, code_channels=0, bottleneck=4,
                           normalise_clip=True, fresh_attackers=("cnn",),
                           adversary_steps=2, adversary_reset_epochs=1, adversary_objective="uniform")
    t = train_obfuscator(data, 3.0, cfg)
    assert t.obfuscator.get_layer("obf_squeeze").filters == 4
    # Clip normalisation: a per-channel offset held over the whole clip (a speaker's or microphone's average
    # spectrum) does not reach the obfuscator's output.
    x = data.x_held[:4]
    offset = np.random.default_rng(0).normal(0, 20, size=(1, 1, 40)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(t.obfuscator(x + offset)), np.asarray(t.obfuscator(x)), atol=1e-3)
    r = ModelRunner(t.int8_model, backend="tflm")
    assert r.input_shape == (1, 49, 40) and r.num_outputs == 4
    np.testing.assert_array_equal(r.predict_raw(data.x_keyword_test), t.keyword_raw)
    assert t.co_adversary_accuracy is not None
    with pytest.raises(KitError, match="bottleneck"):
        build_obfuscator((49, 40), bottleneck=41)
    with pytest.raises(KitError, match="adversary_objective"):
        train_obfuscator(data, 1.0, ObfuscatorConfig(epochs=1, adversary_objective="entropy"))


@pytest.mark.slow
@pytest.mark.skipif(not tflm_available(), reason="the TFLM interpreter (tflite-micro) is not installed")
def test_code_obfuscator_is_a_small_bounded_code_inside_one_int8_model(tmp_path):
    from tinymlkit.privacy.obfuscator import (ObfuscatorConfig, build_code_obfuscator, fresh_attack,
                                              train_obfuscator)
    from tinymlkit.runtime import ModelRunner

    data = _made_speaker_data()
    cfg = ObfuscatorConfig(epochs=2, adversary_epochs=2, batch_size=32, code_channels=3, code_pool=5,
                           code_noise=0.3, adversaries=2, adversary_reset_epochs=1)
    t = train_obfuscator(data, 1.0, cfg)
    # What could leave the device is 5 steps of 3 values, each in -1..1 (tanh), whatever the input.
    assert t.obfuscator.output_shape[1:] == (5, 3)
    z = np.asarray(t.obfuscator(data.x_held * 50.0, training=False))
    assert z.shape == (len(data.x_held), 5, 3) and np.all(np.abs(z) <= 1.0)
    # The training noise is not on the device: the inference-time code is deterministic, the training one is not.
    quiet = np.asarray(t.obfuscator(data.x_held[:4], training=False))
    np.testing.assert_array_equal(quiet, np.asarray(t.obfuscator(data.x_held[:4], training=False)))
    assert not np.allclose(np.asarray(t.obfuscator(data.x_held[:4], training=True)), quiet, atol=0.01)
    # Still ONE int8 model with the plain keyword model's input, scored on TFLM (the sketch runs it unchanged).
    r = ModelRunner(t.int8_model, backend="tflm")
    assert r.input_shape == (1, 49, 40) and r.input_dtype == np.int8 and r.num_outputs == 4
    np.testing.assert_array_equal(r.predict_raw(data.x_keyword_test), t.keyword_raw)
    assert t.co_adversary_accuracy is not None
    # The fresh attackers are trained on the code itself, and the verdict is the best of them.
    best, each = fresh_attack(t.obfuscator, data, cfg)
    assert set(each) == {"cnn", "mlp", "trees"} and best.accuracy == max(each.values())
    mlp = fresh_attack(t.obfuscator, data, dataclasses.replace(cfg, fresh_attackers=("mlp",)))[0]
    assert mlp.kind == "mlp" and mlp.model.input_shape[1:] == (5, 3)  # trained on the code itself
    with pytest.raises(KitError, match="fresh attacker"):
        fresh_attack(t.obfuscator, data, dataclasses.replace(cfg, fresh_attackers=("svm",)))
    # The default obfuscator (a code) goes into the keyword sketch as it is, and check-sketch accepts it.
    from tinymlkit.export.checks import check_sketch
    from tinymlkit.privacy.obfuscator import export_obfuscated_sketch

    export_obfuscated_sketch(t, tmp_path / "run", tmp_path / "sketch", words=("yes", "no"), cfg=cfg)
    report = check_sketch(tmp_path / "sketch")
    assert report.ok, [str(f) for f in report.errors]
    with pytest.raises(KitError, match="code_pool"):
        build_code_obfuscator((49, 40), 4, pool=26)
    with pytest.raises(KitError, match="code_activation"):
        build_code_obfuscator((49, 40), 4, activation="sigmoid")


@pytest.mark.slow
def test_a_per_clip_code_hides_a_speaker_trait_the_raw_features_give_away():
    """The lever's claim on data where the answer is known: each speaker is a per-channel offset over the whole
    clip (the fresh attacker names it from raw features), each keyword a bump in its own band. A code of four
    values per clip trained for the keyword alone keeps the keyword and leaves the attacker far less; the same
    front with no squeeze and no pooling (40 channels for each of 25 steps) does not."""
    from tinymlkit.privacy.obfuscator import ObfuscatorConfig, fresh_attack, train_obfuscator

    data = _made_speaker_data()
    cfg = ObfuscatorConfig(epochs=25, adversary_epochs=30, batch_size=16, code_channels=4, code_pool=25,
                           code_head_units=0, fresh_attackers=("mlp",), learning_rate=0.005,
                           adversary_learning_rate=0.003)
    raw, _ = fresh_attack(None, data, cfg)
    assert raw.accuracy >= 0.9  # the trait is there to be found
    t = train_obfuscator(data, 0.0, cfg)
    coded, _ = fresh_attack(t.obfuscator, data, cfg)
    assert t.keyword_float_balanced_accuracy >= 0.9
    assert coded.accuracy <= raw.accuracy - 0.4, (raw.accuracy, coded.accuracy)
    wide = dataclasses.replace(cfg, code_channels=40, code_pool=1, code_activation="linear")
    t = train_obfuscator(data, 0.0, wide)
    unsqueezed, _ = fresh_attack(t.obfuscator, data, wide)
    assert unsqueezed.accuracy >= raw.accuracy - 0.1, (raw.accuracy, unsqueezed.accuracy)


def test_target_check_measures_against_the_plain_model():
    from tinymlkit.privacy.obfuscator import ObfuscationRow, target_check

    def row(lam: float, kw: float, spk: float) -> ObfuscationRow:
        return ObfuscationRow(lam, kw, kw, spk, 1.0, 0.1, None, "tflm", 1000, 1.0)

    checks = target_check([row(0, 0.90, 0.70), row(1, 0.86, 0.35), row(3, 0.80, 0.20), row(0.3, 0.90, 0.50)])
    assert [c["meets_target"] for c in checks] == [True, False, False]
    assert checks[0]["share_of_speaker_gap_removed"] == pytest.approx(0.583, abs=1e-3)
    assert checks[2]["share_of_speaker_gap_removed"] == pytest.approx(0.333, abs=1e-3)  # too little removed
    assert checks[1]["keyword_drop_points"] == pytest.approx(10.0)
    with pytest.raises(KitError, match="lambda 0"):
        target_check([row(1, 0.9, 0.5)])
    # With the plain reference (keyword model and fresh adversaries on the raw features), every row is checked,
    # lambda 0 included, against the raw features' speaker gap.
    plain = dataclasses.replace(row(0, 0.90, 0.80), setting="plain")
    checks = target_check([row(0, 0.86, 0.40), row(1, 0.84, 0.30)], plain=plain)
    assert [c["lam"] for c in checks] == [0, 1]
    assert [c["meets_target"] for c in checks] == [True, False]  # 4 points and 4/7 of the gap; 6 points lost
    assert checks[0]["share_of_speaker_gap_removed"] == pytest.approx(0.571, abs=1e-3)


def test_speaker_data_holds_out_clips_of_the_same_real_speakers(shared_data):
    from tinymlkit.privacy.obfuscator import load_speaker_data

    d = load_speaker_data(shared_data / "speech_commands_v0.02_test_dev", max_speakers=3, min_clips=40,
                          max_other_clips=10)
    assert len(d.speakers) == 3
    assert set(d.s_train[d.s_train >= 0]) == set(d.s_held[d.s_held >= 0]) == {0, 1, 2}
    assert d.x_train.shape[1:] == d.x_held.shape[1:] == (49, 40) and len(d.x_other) == 10
    silence = d.labels.index("silence")
    assert np.all((d.y_train == silence) == (d.s_train == -1))
    for s in range(3):  # about 30 % of each speaker's clips held out
        n_tr, n_he = np.sum(d.s_train == s), np.sum(d.s_held == s)
        assert 0.2 < n_he / (n_tr + n_he) < 0.4
