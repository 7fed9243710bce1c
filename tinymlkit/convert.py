"""TFLite conversion: float, dynamic-range and full int8 (int8 input and output) with a representative set."""
from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np

__all__ = ["to_float_tflite", "to_dynamic_range_tflite", "to_int8_tflite", "representative_sample",
           "representative_pixels",
           "strip_tensor_names"]


@contextlib.contextmanager
def _quiet_converter() -> Iterator[None]:
    # The converter's MLIR passes print pages of notes to the C-level stderr; keep them off the notebook.
    import io

    from .tf_quiet import capture_stderr_fd

    from .tf_quiet import load_tensorflow
    load_tensorflow()
    import tensorflow as tf

    # TensorFlow's Python logger writes "INFO:tensorflow:Assets written to ..." on stderr, which in a
    # notebook looks like an error and makes nbgrader score the cell 0.
    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("ERROR")
    try:
        with capture_stderr_fd() as log, contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            # Always printed for int8 inputs; the input's range comes from the representative data instead.
            warnings.filterwarnings("ignore", message="Statistics for quantized inputs were expected")
            yield
    finally:
        logger.setLevel(level)
    log.unlink(missing_ok=True)


def _converter(model: Any) -> Any:
    from .tf_quiet import load_tensorflow
    load_tensorflow()
    import tensorflow as tf

    # A batch of exactly one, as on the board: with a free batch size the converter keeps
    # SHAPE/STRIDED_SLICE/PACK ops to compute reshapes at run time, which costs flash and ops.
    specs = [tf.TensorSpec((1, *t.shape[1:]), t.dtype) for t in model.inputs]
    if len(specs) == 1:
        fn = tf.function(lambda x: model(x, training=False))
    else:
        fn = tf.function(lambda *xs: model(list(xs), training=False))
    # The converter's Keras entry point (from_keras_model) exports a SavedModel to a temporary folder and
    # reads it back on every call: measured here, 16 s instead of 7 s for a DS-CNN, 24-38 s instead of 9 s
    # for MobileNetV1. The traced inference function gives the same operators, quantisation and TFLM
    # outputs (tests/test_convert.py); only the file's signature table is left out, which no board reads.
    conv = tf.lite.TFLiteConverter.from_concrete_functions([fn.get_concrete_function(*specs)], model)
    conv.experimental_lower_to_saved_model = False
    return conv


def to_float_tflite(model: Any) -> bytes:
    """A float32 .tflite of a Keras model."""
    conv = _converter(model)
    with _quiet_converter():
        return bytes(conv.convert())


def to_dynamic_range_tflite(model: Any) -> bytes:
    """Weights in int8, activations float: smaller, but not runnable on int8-only kernels."""
    from .tf_quiet import load_tensorflow
    load_tensorflow()
    import tensorflow as tf

    conv = _converter(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    with _quiet_converter():
        return bytes(conv.convert())


def representative_sample(x: np.ndarray, n: int = 300, seed: int = 0) -> np.ndarray:
    """Up to ``n`` examples drawn at random: the converter measures activation ranges on them."""
    x = np.asarray(x)
    if len(x) <= n:
        return x
    idx = np.random.default_rng(seed).choice(len(x), n, replace=False)
    return x[np.sort(idx)]


def representative_pixels(pixels: np.ndarray, n: int = 298, seed: int = 0) -> np.ndarray:
    """Images (raw 0-255 pixels) for an image model's calibration: a black and a white one, then a sample.

    With both ends of the pixel range in the set, the converter's input scale covers every value a camera
    can give (for -1..1 inputs it picks 2/255, so the board's int8 input is pixel - 128). Normalise them the
    way the model was trained before converting.
    """
    x = np.asarray(pixels)
    ends = np.stack([np.zeros_like(x[0]), np.full_like(x[0], 255)])
    return np.concatenate([ends, representative_sample(x, n, seed)])


def strip_tensor_names(data: bytes) -> bytes:
    """The same model without tensor names (Keras' long names cost ~25 KB on MobileNet), re-aligned.

    Names only help people read a model; the board never looks at them. The flatbuffer is rewritten
    with the schema's object API, then TFLM's own aligner (from the tflite-micro package) puts every
    weight buffer back on a 16-byte boundary, which the Python flatbuffer writer does not keep. Where
    tflite-micro is not installed, the model is returned unchanged.
    """
    try:
        from tflite_micro.tensorflow.lite.micro.tools import tflite_flatbuffer_align_wrapper as aligner
    except Exception:
        return data
    import tempfile

    import flatbuffers

    from .tflite_file import schema

    s = schema()
    m = s.ModelT.InitFromObj(s.Model.GetRootAsModel(data, 0))
    for g in m.subgraphs or []:
        for t in g.tensors or []:
            t.name = b""
    b = flatbuffers.Builder(len(data))
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    with tempfile.TemporaryDirectory(prefix="tinymlkit-strip-") as tmp:
        src, dst = os.path.join(tmp, "in.tflite"), os.path.join(tmp, "out.tflite")
        with open(src, "wb") as f:
            f.write(bytes(b.Output()))
        aligner.align_tflite_model(src, dst)
        with open(dst, "rb") as f:
            return f.read()


def to_int8_tflite(model: Any, representative: np.ndarray, max_samples: int = 300,
                   strip_names: bool = True) -> bytes:
    """Full-integer .tflite: int8 weights and activations, int8 input and output tensors.

    ``representative`` should look like real inputs (training examples): the converter picks each
    tensor's scale and zero point from the ranges it sees on them.
    """
    from .tf_quiet import load_tensorflow
    load_tensorflow()
    import tensorflow as tf

    rep = representative_sample(np.asarray(representative, dtype=np.float32), max_samples)
    if len(rep) == 0:
        raise ValueError("the representative dataset is empty; pass some training examples")

    def gen() -> Iterator[list[np.ndarray]]:
        for x in rep:
            yield [x[None, ...]]

    conv = _converter(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = gen
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with _quiet_converter():
        data = bytes(conv.convert())
    return strip_tensor_names(data) if strip_names else data
