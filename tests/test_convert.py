"""Conversion: stripping tensor names keeps the model's behaviour and the 16-byte buffer alignment."""
from __future__ import annotations

import numpy as np
import pytest

from tinymlkit.convert import strip_tensor_names
from tinymlkit.runtime import ModelRunner, tflm_available
from tinymlkit.tflite_file import read_tflite, schema

pytestmark = pytest.mark.skipif(not tflm_available(), reason="stripping uses tflite-micro's aligner and TFLM")


def _buffer_offsets(data: bytes) -> list[tuple[int, int]]:
    s = schema()
    m = s.Model.GetRootAsModel(data, 0)
    out = []
    for i in range(m.BuffersLength()):
        b = m.Buffers(i)
        if b.DataLength():
            o = b._tab.Offset(4)
            out.append((b._tab.Vector(o), b.DataLength()))
    return out


def test_stripped_reference_model_runs_the_same_and_is_smaller(person_detection_dir):
    data = (person_detection_dir / "person_detect.tflite").read_bytes()
    stripped = strip_tensor_names(data)
    assert len(stripped) < len(data)
    assert all(t.name == "" for t in read_tflite(stripped).tensors)
    assert read_tflite(stripped).opcodes == read_tflite(data).opcodes
    rng = np.random.default_rng(0)
    a, b = ModelRunner(data, "tflm"), ModelRunner(stripped, "tflm")
    for _ in range(3):
        x = rng.integers(-128, 128, (1, 96, 96, 1)).astype(np.int8)
        assert np.array_equal(a.run_raw(x), b.run_raw(x))
    big = [(off, n) for off, n in _buffer_offsets(stripped) if n >= 16]
    assert big and all(off % 16 == 0 for off, _ in big)


def _tiny_model():
    from tinymlkit.tf_quiet import load_tensorflow

    load_tensorflow()
    import keras

    keras.utils.set_random_seed(3)
    inp = keras.Input((12, 10, 1))
    x = keras.layers.Conv2D(6, 3, strides=2)(inp)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.Dropout(0.5)(x)  # inference mode in the file: the outputs below would differ otherwise
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inp, keras.layers.Dense(3, activation="softmax")(x))


@pytest.mark.filterwarnings("ignore:Statistics for quantized inputs")
def test_int8_conversion_matches_the_converters_keras_entry_point():
    """The kit traces the model itself (no SavedModel round trip); TFLite's own Keras path gives the same model."""
    from tinymlkit.convert import representative_sample, to_int8_tflite
    from tinymlkit.tf_quiet import load_tensorflow

    tf = load_tensorflow()
    import keras

    model = _tiny_model()
    x = np.random.default_rng(0).uniform(0, 5, (64, 12, 10, 1)).astype(np.float32)
    ours = to_int8_tflite(model, x, strip_names=False)

    ref_in = keras.Input(batch_shape=(1, 12, 10, 1))
    ref_model = keras.Model(ref_in, model(ref_in))
    conv = tf.lite.TFLiteConverter.from_keras_model(ref_model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    rep = representative_sample(x, 300)
    conv.representative_dataset = lambda: ([r[None]] for r in rep)
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    ref = bytes(conv.convert())

    a, b = read_tflite(ours), read_tflite(ref)
    assert a.opcodes == b.opcodes
    assert [op[0] for op in a.operators] == [op[0] for op in b.operators]
    assert [(t.shape, t.dtype, t.scales, t.zero_points) for t in a.tensors] == \
           [(t.shape, t.dtype, t.scales, t.zero_points) for t in b.tensors]
    ra, rb = ModelRunner(ours, "tflm"), ModelRunner(ref, "tflm")
    q = np.random.default_rng(1).integers(-128, 128, (20, 12, 10, 1)).astype(np.int8)
    out = ra.predict_raw(q)
    assert np.array_equal(out, rb.predict_raw(q))
    assert len(np.unique(out, axis=0)) > 1  # the outputs follow the inputs (a constant model would pass above)
