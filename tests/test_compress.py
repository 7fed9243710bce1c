"""Advanced track I: budgets, structured pruning, early exit, low-bit weights, latency and energy."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from tinymlkit.compress.budget import Budget, BudgetError, measure_cost, parse_budget
from tinymlkit.energy import NRF52840_DCDC, NRF52840_LDO, estimate
from tinymlkit.errors import KitError
from tinymlkit.targets import get_target

ROOT = Path(__file__).resolve().parents[1]
LABELS = ("silence", "unknown", "yes", "no")


# ---------------------------------------------------------------- energy and budgets (no TensorFlow)

def test_energy_is_datasheet_power_times_the_targets_latency():
    e = estimate(3_000_000)
    t = get_target("nano33ble")
    assert e.latency_ms == pytest.approx(3_000_000 * t.cycles_per_mac / t.clock_hz * 1000)
    assert e.energy_uj == pytest.approx(NRF52840_DCDC.current_a * NRF52840_DCDC.supply_v * e.latency_ms * 1e3)
    assert e.energy_uj < e.energy_uj_ldo
    assert "nRF52840 Product Specification" in e.power_source and e.cycles_source
    assert NRF52840_DCDC.current_a < NRF52840_LDO.current_a


def test_parse_budget_reads_board_units_and_refuses_nonsense():
    b = parse_budget("arena=64KB, latency=100ms, macs=2M, model=40KB")
    assert (b.arena_bytes, b.latency_ms, b.macs, b.model_bytes) == (65536, 100.0, 2_000_000, 40960)
    for bad in ("", "arena=lots", "speed=3", "latency=3s", "arena=3parsecs"):
        with pytest.raises(BudgetError) as ei:
            parse_budget(bad)
        assert isinstance(ei.value, KitError)


# ---------------------------------------------------------------- small Keras models

@pytest.fixture(scope="module")
def tf_ready():
    from tinymlkit.tf_quiet import load_tensorflow
    return load_tensorflow()


def _blobs(n: int, shape: tuple[int, ...], classes: int, seed: int, noise: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian class blobs in feature space, non-negative like micro features."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(99).uniform(0, 20, size=(classes, *shape)).astype(np.float32)
    y = rng.integers(0, classes, n)
    x = centres[y] + rng.normal(0, noise * 6, size=(n, *shape)).astype(np.float32)
    return np.clip(x, 0, 26).astype(np.float32), y.astype(np.int64)


@pytest.fixture(scope="module")
def small_ds_cnn(tf_ready):
    from tinymlkit.models import ds_cnn
    from tinymlkit.train import set_seed

    set_seed(3)
    m = ds_cnn((49, 40), 4, filters=16, blocks=3)
    x, y = _blobs(64, (49, 40), 4, seed=1)
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    m.fit(x, y, epochs=1, batch_size=32, verbose=0)  # moves the batch-norm statistics off their defaults
    return m, x


def test_prune_keep_all_is_the_same_function_and_pruning_keeps_the_strongest_filters(small_ds_cnn):
    from tinymlkit.compress.prune import channel_scores, chain_layers, prune_channels

    m, x = small_ds_cnn
    same = prune_channels(m, 1.0)
    np.testing.assert_allclose(same.predict(x[:8], verbose=0), m.predict(x[:8], verbose=0), atol=1e-5)

    small = prune_channels(m, 0.5)
    convs = {c.name: c.channels for c in chain_layers(small) if c.kind == "conv"}
    assert all(v == 8 for v in convs.values()), convs
    scores = channel_scores(m)
    name = "pw1"
    kept = np.sort(np.argsort(-scores[name])[:8])
    assert np.array_equal(np.sort(np.argsort(-scores[name])[:8]), kept)
    k_small = small.get_layer(name).get_weights()[0]
    k_big = m.get_layer(name).get_weights()[0]
    kept_in = np.sort(np.argsort(-scores["pw0"])[:8])
    np.testing.assert_array_equal(k_small, k_big[:, :, kept_in, :][..., kept])
    assert small.predict(x[:2], verbose=0).shape == (2, 4)


def test_pruning_before_flatten_keeps_the_dense_rows_of_the_kept_filters(tf_ready):
    """tiny_conv: Conv2D -> Flatten -> Dense. Filters that output nothing can go without changing the output."""
    from tinymlkit.compress.prune import chain_layers, prune_channels
    from tinymlkit.models import tiny_conv
    from tinymlkit.train import set_seed

    set_seed(4)
    m = tiny_conv((49, 40), 4, dropout=0.0)
    x, _ = _blobs(16, (49, 40), 4, seed=5)
    kernel, bias = m.get_layer("conv").get_weights()
    dead = [1, 4, 6, 7]  # silenced: zero weights and bias give ReLU(0) = 0 everywhere, so their dense rows add 0
    kernel[..., dead] = 0.0
    bias[dead] = 0.0
    m.get_layer("conv").set_weights([kernel, bias])
    m.get_layer("labels").set_weights([w * 7.0 for w in m.get_layer("labels").get_weights()])  # sharper outputs
    small = prune_channels(m, 0.5)
    assert {c.name: c.channels for c in chain_layers(small) if c.kind == "conv"} == {"conv": 4}
    np.testing.assert_allclose(small.predict(x, verbose=0), m.predict(x, verbose=0), atol=1e-5)
    dense_in = m.get_layer("labels").get_weights()[0].reshape(-1, 8, 4)  # (positions, filters, labels)
    np.testing.assert_array_equal(small.get_layer("labels").get_weights()[0], dense_in[:, [0, 2, 3, 5], :].reshape(-1, 4))


def test_drop_blocks_keeps_the_first_blocks_weights(small_ds_cnn):
    from tinymlkit.compress.prune import PruneError, count_blocks, drop_blocks

    m, x = small_ds_cnn
    assert count_blocks(m) == 3
    short, fresh = drop_blocks(m, 1)
    assert count_blocks(short) == 1 and not fresh  # DS-CNN blocks keep the width: the head is copied
    np.testing.assert_array_equal(short.get_layer("pw0").get_weights()[0], m.get_layer("pw0").get_weights()[0])
    np.testing.assert_array_equal(short.get_layer("labels").get_weights()[0], m.get_layer("labels").get_weights()[0])
    with pytest.raises(PruneError):
        drop_blocks(m, 0)


@pytest.mark.slow
def test_prune_to_budget_meets_a_mac_budget_measured_on_the_int8_model(small_ds_cnn):
    from tinymlkit.compress.prune import int8_cost, prune_to_budget

    m, x = small_ds_cnn
    _, full = int8_cost(m, x)
    budget = Budget(macs=full.macs // 2)
    r = prune_to_budget(m, budget, x, iterations=2, start_cost=full)
    assert r.steps[0].keep_ratio == 1.0 and r.steps[0].cost is full  # measured once, by the caller
    assert r.cost.macs <= budget.macs and r.keep_ratio < 1.0
    assert all(s.fits == budget.fits(s.cost) for s in r.steps)
    # the cost is what the converted file really holds
    data, again = int8_cost(r.model, x)
    assert again.macs == r.cost.macs and again.model_bytes == len(data)
    if full.arena_bytes is not None:
        assert again.arena_bytes is not None and again.arena_bytes < full.arena_bytes
    with pytest.raises(BudgetError):
        prune_to_budget(m, Budget(macs=10), x, iterations=1)


def test_mobilenet_channel_and_depth_pruning(tf_ready):
    from tinymlkit.compress.prune import count_blocks, drop_blocks, prune_channels
    from tinymlkit.models import mobilenet_v1

    m = mobilenet_v1((32, 32, 1), 2, alpha=0.25)
    x = np.random.default_rng(0).uniform(-1, 1, (2, 32, 32, 1)).astype(np.float32)
    np.testing.assert_allclose(prune_channels(m, 1.0).predict(x, verbose=0), m.predict(x, verbose=0), atol=1e-5)
    assert count_blocks(m) == 13
    short, fresh = drop_blocks(m, 11)
    assert count_blocks(short) == 11 and fresh  # 11 blocks end at 128 channels, the head read 256
    assert short.predict(x, verbose=0).shape == (2, 2)


def test_an_untrained_mobilenet_is_refused_in_words_and_measurable_once_its_batch_norms_are_settled(tf_ready):
    # Random weights and default batch-norm statistics: the activations die out over 13 blocks, the converter gives
    # the logits a scale of 7.8e-9 and TFLM's int8 softmax aborts the process on it (prune-vww's width sweep died so).
    from tinymlkit.compress.prune import settle_batchnorm
    from tinymlkit.convert import to_int8_tflite
    from tinymlkit.models import mobilenet_v1
    from tinymlkit.runtime import tflm_available
    from tinymlkit.tflite_file import ModelLoadError, tflm_prepare_problem

    m = mobilenet_v1((32, 32, 1), 2, alpha=0.1)
    x = np.random.default_rng(0).uniform(-1, 1, (8, 32, 32, 1)).astype(np.float32)
    data = to_int8_tflite(m, x)
    assert "its SOFTMAX" in (tflm_prepare_problem(data, "untrained") or "")
    if tflm_available():
        with pytest.raises(ModelLoadError, match=r"^<model bytes>: TFLM cannot run this model: its SOFTMAX"):
            measure_cost(data)
    bn = m.get_layer("mobilenet_v1_base").get_layer("conv_pw_13_bn")
    assert settle_batchnorm(m, x) is m and bn.momentum == 0.9  # momentum put back
    assert not np.allclose(bn.moving_variance.numpy(), 1.0)
    settled = to_int8_tflite(m, x)
    assert tflm_prepare_problem(settled) is None
    if tflm_available():
        assert measure_cost(settled).arena_bytes > 0


# ---------------------------------------------------------------- low-bit weights

def test_quantize_kernel_grids_and_packing_round_trip():
    from tinymlkit.compress.lowbit import pack_codes, quantize_kernel, unpack_codes

    w = np.random.default_rng(0).normal(size=(3, 3, 8, 16)).astype(np.float32)
    for bits, levels in ((4, 15), (2, 3), (1, 2)):
        q = quantize_kernel(w, bits)
        assert max(len(np.unique(q[..., c])) for c in range(16)) <= levels
    assert len(np.unique(quantize_kernel(w, 4, axis=None))) <= 15
    codes = np.random.default_rng(1).integers(0, 16, 1001).astype(np.uint8)
    blob = pack_codes(codes, 4)
    assert len(blob) == 501 and np.array_equal(unpack_codes(blob, 4, 1001), codes)
    blob1 = pack_codes(codes % 2, 1)
    assert len(blob1) == 126 and np.array_equal(unpack_codes(blob1, 1, 1001), codes % 2)
    with pytest.raises(KitError):
        quantize_kernel(w, 0)


@pytest.mark.slow
def test_low_bit_training_packs_honestly_in_the_int8_file(small_ds_cnn):
    from tinymlkit.compress.lowbit import apply_low_bit, lowbit_layers, pack_report, train_low_bit
    from tinymlkit.convert import to_int8_tflite

    import keras

    m0, x = small_ds_cnn
    m = keras.models.clone_model(m0)
    m.set_weights(m0.get_weights())
    plain = to_int8_tflite(m, x, max_samples=32)
    r8 = pack_report(plain, 4)
    assert all(t.bits == 8 for t in r8.tensors)  # trained float weights do not fit 16 levels: nothing packed
    assert r8.packed_model_bytes == r8.model_bytes

    y = np.random.default_rng(0).integers(0, 4, len(x))
    hist = train_low_bit(m, x, y, x[:16], y[:16], bits=4, epochs=1, batch_size=32)
    assert len(hist["val_accuracy"]) == 1
    for layer, axis in lowbit_layers(m):
        k = layer.get_weights()[0]
        if axis is None:
            assert len(np.unique(k)) <= 15
        else:
            assert max(len(np.unique(np.take(k, c, axis=axis))) for c in range(k.shape[axis])) <= 15
    data = to_int8_tflite(m, x, max_samples=32)
    rep = pack_report(data, 4)
    low = [t for t in rep.tensors if t.bits == 4]
    assert len(low) == len(lowbit_layers(m))  # every low-bit layer survived batch-norm folding on its grid
    assert rep.packed_model_bytes < rep.model_bytes
    assert all(t.packed_bytes <= (t.int8_bytes + 1) // 2 + 16 for t in low)  # half a byte per weight + one codebook

    b = keras.models.clone_model(m0)
    b.set_weights(m0.get_weights())
    assert apply_low_bit(b, 1) == len(lowbit_layers(b))
    rep1 = pack_report(to_int8_tflite(b, x, max_samples=32), 1)
    assert sum(t.bits == 1 for t in rep1.tensors) == len(lowbit_layers(b))
    assert rep1.packed_weight_bytes < rep.packed_weight_bytes
    assert measure_cost(data).model_bytes == len(data)


# ---------------------------------------------------------------- early exit, end to end to a sketch

@pytest.fixture(scope="module")
def two_stages(tf_ready, tmp_path_factory):
    import keras
    from keras import layers

    from tinymlkit.convert import to_int8_tflite
    from tinymlkit.train import set_seed

    set_seed(5)
    x, y = _blobs(400, (49, 40), 4, seed=2, noise=1.3)
    xv, yv = _blobs(200, (49, 40), 4, seed=3, noise=1.3)

    def build(hidden: int) -> keras.Model:
        inp = keras.Input((49, 40))
        h = layers.Flatten()(inp)
        if hidden:
            h = layers.Dense(hidden, activation="relu")(h)
        return keras.Model(inp, layers.Dense(4, activation="softmax")(layers.Dense(8, activation="relu")(h)))

    out = tmp_path_factory.mktemp("stages")
    paths = []
    for name, hidden in (("stage1", 0), ("stage2", 64)):
        m = build(hidden)
        m.compile(optimizer=keras.optimizers.Adam(0.003), loss="sparse_categorical_crossentropy")
        m.fit(x, y, epochs=3, batch_size=32, verbose=0)
        p = out / f"{name}.tflite"
        p.write_bytes(to_int8_tflite(m, x, max_samples=64))
        paths.append(p)
    return paths[0], paths[1], xv, yv, out


@pytest.mark.slow
def test_exit_curve_ends_are_the_two_models_and_threshold_is_chosen_within_the_drop(two_stages):
    from tinymlkit.compress.early_exit import cascade_scores, choose_threshold, exit_curve
    from tinymlkit.compress.workbench import int8_accuracy
    from tinymlkit.inspect import inspect_model

    s1, s2, xv, yv, _ = two_stages
    m1, m2 = inspect_model(s1, measure=False).macs, inspect_model(s2, measure=False).macs
    assert m1 < m2
    sc = cascade_scores(s1, s2, xv)
    curve = exit_curve(sc, yv, LABELS, m1, m2)
    first, last = curve[0], curve[-1]
    assert first.exit_fraction == 1.0 and last.exit_fraction == 0.0
    assert first.accuracy == pytest.approx(int8_accuracy(s1.read_bytes(), xv, yv, LABELS)["accuracy"])
    assert last.accuracy == pytest.approx(int8_accuracy(s2.read_bytes(), xv, yv, LABELS)["accuracy"])
    assert last.avg_macs == pytest.approx(m1 + m2)
    fr = [p.exit_fraction for p in curve]
    assert all(a >= b for a, b in zip(fr, fr[1:]))  # a higher threshold never lets more inputs exit
    best = choose_threshold(curve, reference=last.accuracy, max_drop=0.01)
    assert best.accuracy >= last.accuracy - 0.01 - 1e-9
    assert all(p.avg_macs >= best.avg_macs for p in curve if p.accuracy >= last.accuracy - 0.01 - 1e-9)
    with pytest.raises(KitError):
        choose_threshold(curve, reference=1.5, max_drop=0.0)


@pytest.mark.slow
def test_early_exit_sketch_export_passes_check_sketch_for_both_stages(two_stages):
    from tinymlkit.export.checks import check_sketch
    from tinymlkit.compress.early_exit import ExitPoint, export_early_exit
    from tinymlkit.config import KwsRunConfig, save_json

    s1, s2, _, _, out = two_stages
    cfg = out / "config.json"
    save_json(KwsRunConfig(), cfg)
    point = ExitPoint(threshold_int8=90, threshold=0.85, exit_fraction=0.6, accuracy=0.9, balanced_accuracy=0.9,
                      avg_macs=1000.0, mac_saving=0.3, latency_ms=1.0, energy_uj=1.0)
    sketch = out / "early_exit"
    export_early_exit(s1, s2, cfg, sketch, point, 100, 1000)
    header = (sketch / "early_exit.h").read_text()
    assert "constexpr int kExitThresholdInt8 = 90;" in header
    assert (sketch / "stage2" / "model_data.cc").is_file() and (sketch / "stage2_runner.cpp").is_file()
    for folder in (sketch, sketch / "stage2"):
        report = check_sketch(folder)
        assert report.ok, [f.format() for f in report.errors]
    # a stale stage 2 is caught by checking its own folder
    shutil.copy(s1, out / "other.tflite")
    assert not check_sketch(sketch / "stage2", model=out / "other.tflite").ok


def test_committed_early_exit_sketch_is_consistent():
    from tinymlkit.export.checks import check_sketch

    sketch = ROOT / "arduino_sketches" / "early_exit"
    if not (sketch / "model_data.cc").is_file():
        pytest.skip("the early-exit sketch has no exported models yet (benchmarks/bench_compress.py --export-sketch)")
    info = json.loads((sketch / "early_exit.json").read_text())
    assert f"kExitThresholdInt8 = {info['threshold_int8']};" in (sketch / "early_exit.h").read_text()
    for folder in (sketch, sketch / "stage2"):
        report = check_sketch(folder)
        assert report.ok, [f.format() for f in report.errors]
