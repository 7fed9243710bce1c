"""MobileNetV1: the course's cost arithmetic on the real Keras layers, and starting weights."""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from tinymlkit.models.mobilenet import (BASE_NAME, MOBILENET_V1_BLOCKS, WeightsError, get_base,  # noqa: E402
                                        imagenet_base_weights, layer_costs, load_base_weights, mobilenet_v1,
                                        mobilenet_v1_base, separable_conv_macs, separable_cost_ratio,
                                        set_base_trainable, standard_conv_macs)


@pytest.fixture(scope="module")
def vww_model() -> object:
    """The real architecture of the track: alpha 0.25, 96x96x1, two classes."""
    return mobilenet_v1((96, 96, 1), 2, 0.25)


def test_separable_ratio_of_the_course() -> None:
    assert separable_cost_ratio(10, 3) == Fraction(1, 10) + Fraction(1, 9)
    assert round(float(separable_cost_ratio(10, 3)), 4) == 0.2111
    assert Fraction(separable_conv_macs(3, 16, 10, 8), standard_conv_macs(3, 16, 10, 8)) == separable_cost_ratio(10, 3)


def test_every_layer_count_matches_keras(vww_model: object) -> None:
    costs = {c.name: c for c in layer_costs(vww_model)}
    base = get_base(vww_model)
    layers = [*base.layers, *vww_model.layers]
    counted = 0
    for layer in layers:
        if layer.name in costs:
            assert costs[layer.name].params == layer.count_params(), layer.name
            assert costs[layer.name].output_shape == tuple(layer.output.shape[1:]), layer.name
            counted += 1
    assert counted == len(costs) == 1 + 1 + 13 * 4 + 1  # conv1 + bn, 13 blocks of dw/bn/pw/bn, dense
    assert sum(c.params for c in costs.values()) == vww_model.count_params()


def test_depthwise_separable_blocks_cost_what_the_course_derives(vww_model: object) -> None:
    costs = {c.name: c for c in layer_costs(vww_model)}
    c1 = costs["conv1"]
    assert (c1.kernel, c1.in_channels, c1.out_channels, c1.output_shape) == (3, 1, 8, (48, 48, 8))
    assert c1.macs == standard_conv_macs(3, 1, 8, 48)
    channels, size = 8, 48
    for i, (f, stride) in enumerate(MOBILENET_V1_BLOCKS, start=1):
        dw, pw = costs[f"conv_dw_{i}"], costs[f"conv_pw_{i}"]
        size //= stride
        n = int(f * 0.25)
        assert (dw.in_channels, dw.output_shape) == (channels, (size, size, channels)), i
        assert (pw.in_channels, pw.out_channels, pw.output_shape) == (channels, n, (size, size, n)), i
        assert dw.params == 9 * channels and pw.params == channels * n
        assert dw.macs + pw.macs == separable_conv_macs(3, channels, n, size)
        ratio = Fraction(dw.macs + pw.macs, standard_conv_macs(3, channels, n, size))
        assert ratio == separable_cost_ratio(n, 3), i
        channels = n
    dense = costs["predictions"]
    assert (dense.in_channels, dense.out_channels, dense.macs) == (256, 2, 512)
    total = sum(c.macs for c in costs.values())
    assert 7.0e6 < total < 7.3e6  # ~7.2 M MACs, as measured for this architecture
    assert 218_000 < vww_model.count_params() < 220_000


def test_alpha_range_and_channels_are_checked() -> None:
    with pytest.raises(ValueError, match="between 0.1 and 1.0"):
        mobilenet_v1_base((32, 32, 1), alpha=1.5)
    with pytest.raises(ValueError, match="1 \\(grayscale\\) or 3"):
        mobilenet_v1_base((32, 32, 4))
    tiny = mobilenet_v1_base((32, 32, 3), alpha=0.1)
    assert tiny.name == BASE_NAME and tiny.output.shape[-1] == int(1024 * 0.1)


def test_base_from_a_saved_model_and_rgb_to_gray_first_layer(tmp_path: Path) -> None:
    src = mobilenet_v1((32, 32, 3), 4, 0.25)
    rng = np.random.default_rng(0)
    for layer in get_base(src).layers:  # non-trivial weights, so a copy is visible
        layer.set_weights([rng.normal(0, 0.1, w.shape).astype(np.float32) + (1 if "variance" in v.name else 0)
                           for w, v in zip(layer.get_weights(), layer.weights)])
    path = tmp_path / "shapes.keras"
    src.save(path)
    # Same channels, another input size and class count: the base copies exactly.
    rgb = mobilenet_v1((48, 48, 3), 2, 0.25)
    assert "base of" in load_base_weights(rgb, str(path), 0.25)
    for a, b in zip(get_base(rgb).weights, get_base(src).weights):
        assert np.array_equal(np.asarray(a), np.asarray(b))
    # Grayscale model: the first kernel is the RGB kernel summed over colour, so a gray image gives
    # the same features as that image repeated into three channels.
    gray = mobilenet_v1((32, 32, 1), 2, 0.25)
    load_base_weights(gray, path, 0.25)
    k_rgb = np.asarray(get_base(src).get_layer("conv1").kernel)
    assert np.allclose(np.asarray(get_base(gray).get_layer("conv1").kernel), k_rgb.sum(axis=2, keepdims=True))
    img = rng.uniform(-1, 1, (2, 32, 32, 1)).astype(np.float32)
    f_gray = get_base(gray)(img, training=False)
    f_rgb = get_base(src)(np.repeat(img, 3, axis=3), training=False)
    assert np.allclose(np.asarray(f_gray), np.asarray(f_rgb), atol=1e-4)
    # Another alpha does not fit: a clear error naming the file.
    other = mobilenet_v1((32, 32, 3), 2, 0.5)
    with pytest.raises(WeightsError, match=r"shapes.keras: layer 'conv1' has weights of shape"):
        load_base_weights(other, path, 0.5)
    with pytest.raises(WeightsError, match="no such weights file"):
        load_base_weights(other, tmp_path / "none.keras", 0.5)
    assert load_base_weights(other, "none", 0.5) == "random initialisation"


@pytest.mark.slow
def test_frozen_base_keeps_its_weights_and_statistics() -> None:
    m = mobilenet_v1((32, 32, 1), 2, 0.1)
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, (48, 32, 32, 1)).astype(np.float32)
    y = (x.mean(axis=(1, 2, 3)) > 0).astype(np.int32)

    def train_once() -> None:
        # Eager mode: the same Keras semantics, without 20 s of graph tracing for a unit test.
        m.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy", run_eagerly=True)
        m.fit(x, y, batch_size=16, epochs=1, verbose=0)

    # Train everything once first: at random initialisation the frozen base's outputs are ~1e-14 and
    # the head would barely move either, which would prove nothing.
    train_once()
    base_before = [np.asarray(w).copy() for w in get_base(m).weights]  # includes BN moving mean/variance
    head_before = np.asarray(m.get_layer("predictions").kernel).copy()
    set_base_trainable(m, False)
    train_once()
    for a, b in zip(base_before, get_base(m).weights):
        assert np.array_equal(a, np.asarray(b))
    assert not np.array_equal(head_before, np.asarray(m.get_layer("predictions").kernel))
    set_base_trainable(m, True)
    train_once()
    assert not all(np.array_equal(a, np.asarray(b)) for a, b in zip(base_before, get_base(m).weights))


def test_imagenet_offline_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from keras.src.backend import config as kconfig

    cached = Path(kconfig.keras_home()) / "models" / "mobilenet_2_5_224_tf_no_top.h5"
    if cached.exists():
        pytest.skip(f"{cached} is cached, so the offline path cannot be exercised here")
    # Every proxy variable points at a closed local port: the download fails at once, never reaching out.
    for var in ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")
    for var in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(var, raising=False)
    # urlopen keeps a global opener made with the proxies of its first use: start and end without one.
    import urllib.request

    monkeypatch.setattr(urllib.request, "_opener", None)
    base = mobilenet_v1_base((96, 96, 1), 0.25)
    with pytest.raises(WeightsError) as e:
        imagenet_base_weights(base, 0.25)
    msg = str(e.value)
    assert "ImageNet" in msg and "network connection" in msg and "--weights PATH" in msg and "--weights none" in msg
    with pytest.raises(WeightsError, match="alpha 0.25, 0.5, 0.75, 1.0 only"):
        imagenet_base_weights(mobilenet_v1_base((32, 32, 1), 0.3), 0.3)
    assert not cached.exists()


def test_imagenet_weights_arrive_through_keras_own_download(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The network path, served from 127.0.0.1: keras.applications fetches the .h5, the kit loads it into its base.

    The file served is a MobileNet alpha 0.25 with random weights saved in the legacy HDF5 layout that the real
    ``mobilenet_2_5_224_tf_no_top.h5`` uses; Keras's download cache is pointed at tmp_path, so nothing lands in
    the user's ~/.keras.
    """
    import functools
    import http.server
    import threading

    import h5py
    from keras.src.applications import mobilenet as keras_mobilenet
    from keras.src.backend import config as kconfig
    from keras.src.legacy.saving import legacy_h5_format

    served = tmp_path / "served"
    served.mkdir()
    keras.utils.set_random_seed(3)
    src = keras.applications.MobileNet(input_shape=(224, 224, 3), alpha=0.25, include_top=False, weights=None)
    for layer in src.layers:  # batch norm starts at 0/1: give it values a wrong copy would show
        layer.set_weights([np.random.default_rng(7).normal(0.5, 0.1, w.shape).astype(np.float32)
                           for w in layer.get_weights()])
    with h5py.File(served / "mobilenet_2_5_224_tf_no_top.h5", "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, src)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *a: None  # type: ignore[attr-defined]
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        monkeypatch.setattr(keras_mobilenet, "BASE_WEIGHT_PATH", f"http://127.0.0.1:{httpd.server_address[1]}/")
        (tmp_path / "keras_home").mkdir()  # Keras falls back to /tmp/.keras for a folder it cannot write
        monkeypatch.setattr(kconfig, "_KERAS_DIR", str(tmp_path / "keras_home"))
        model = mobilenet_v1((96, 96, 1), 2, 0.25)
        assert load_base_weights(model, "imagenet", 0.25) == "ImageNet (keras.applications MobileNet alpha 0.25)"
    finally:
        httpd.shutdown()
    assert (tmp_path / "keras_home" / "models" / "mobilenet_2_5_224_tf_no_top.h5").is_file()
    theirs = {layer.name: layer for layer in src.layers}
    checked = 0
    for layer in get_base(model).layers:
        if not layer.weights:
            continue
        want = [np.asarray(w) for w in theirs[layer.name].get_weights()]
        if layer.name == "conv1":  # gray input: the RGB kernel summed over colour
            want[0] = want[0].sum(axis=2, keepdims=True)
        for a, b in zip(want, layer.get_weights()):
            np.testing.assert_allclose(b, a, rtol=1e-6)
        checked += 1
    assert checked >= 27  # conv1 + its batch norm + 13 blocks of (depthwise, pointwise) with batch norms
