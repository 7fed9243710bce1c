"""A real pretrained person detector as a Keras model: the TFLM example's ``person_detect.tflite``.

``person_detect.tflite`` (TensorFlow Lite Micro's person_detection example, Apache-2.0) is a
MobileNetV1 with width 0.25 on 96x96 grayscale input, trained on the COCO Visual Wake Words set and
stored in int8: every convolution has per-channel int8 weights, an int32 bias, and its batch norm and
ReLU6 already folded in (a convolution op with a fused RELU6). This module reads those weights with
the flatbuffer schema (:mod:`tinymlkit.tflite_file`), checks that the graph is exactly the kit's
MobileNetV1 (same ops, strides, 'same' padding, fused ReLU6, channel counts), dequantises them, and
puts them into :func:`tinymlkit.models.mobilenet.mobilenet_v1`:

- each convolution's kernel gets the dequantised weights ``scale[c] * (q - zero_point[c])``;
- its batch norm becomes the identity plus the folded bias (gamma 1, moving mean 0, moving variance
  ``1 - epsilon``, beta = the dequantised bias ``bias_scale[c] * q``), so conv + BN + ReLU6 computes
  what the folded op computes; the converter folds it back again;
- the final 1x1 convolution on the pooled features (256 -> 2) becomes the ``predictions`` Dense layer.

Because the batch norms hold no real statistics, fine-tuning keeps them frozen (inference mode);
:func:`freeze_batchnorm` does that.

Getting the file: the project does not ship it. :func:`person_detect_path` takes a local file (an
argument or ``$TINYMLKIT_PERSON_DETECT``), else a copy downloaded or kept earlier, else the project's
reference data beside a checkout (``../shared/data``, same SHA-256), else downloads it once from the
TFLM repository (pinned to the commit that last changed it, checked by SHA-256). Offline with none of
these, the error says how to get the file onto the machine.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import KitError
from .mobilenet import MOBILENET_V1_BLOCKS, WeightsError, get_base

__all__ = [
    "PERSON_DETECT_URL",
    "PERSON_DETECT_SHA256",
    "PERSON_DETECT_SIZE",
    "PERSON_DETECT_LABELS",
    "PERSON_DETECT_ENV",
    "PersonDetectUnavailable",
    "person_detect_cache_file",
    "person_detect_path",
    "download_person_detect",
    "read_person_detect_weights",
    "person_detect_model",
    "load_person_detect_weights",
    "freeze_batchnorm",
]

PERSON_DETECT_URL = ("https://raw.githubusercontent.com/tensorflow/tflite-micro/"
                     "aeac6f39e5c7475cea20c54e86d41e3a38312546/tensorflow/lite/micro/models/person_detect.tflite")
"""Upstream file in the TFLM repository, at the commit that last changed it (Aug 2021)."""
PERSON_DETECT_SHA256 = "808cfdfc0cf3a6fa6f6fa26bfa379ea97c16d5db7334637766e39c3408502e9d"
"""SHA-256 of that file."""
PERSON_DETECT_SIZE = 300568
"""Its size in bytes."""
PERSON_DETECT_LABELS = ("non_person", "person")
"""Output order of the reference model (the example's 'no person', 'person')."""
PERSON_DETECT_ENV = "TINYMLKIT_PERSON_DETECT"
"""Environment variable naming a local copy of person_detect.tflite."""

_ALPHA = 0.25
_INPUT = (96, 96, 1)


class PersonDetectUnavailable(WeightsError):
    """person_detect.tflite is neither on this machine nor downloadable now."""


def person_detect_cache_file() -> Path:
    """Where a downloaded (or kept) copy lives: DATA_HOME/person_detect/data/person_detect.tflite."""
    from ..paths import dataset_dir

    return dataset_dir("person_detect") / "person_detect.tflite"


def download_person_detect(dest: str | os.PathLike[str] | None = None, url: str = PERSON_DETECT_URL,
                           sha256: str | None = PERSON_DETECT_SHA256, progress: bool = True) -> Path:
    """Download person_detect.tflite once (resumable, SHA-256 checked); returns the file."""
    from ..data.download import RemoteFile, download

    dest = Path(dest) if dest is not None else person_detect_cache_file()
    size = PERSON_DETECT_SIZE if url == PERSON_DETECT_URL else None
    try:
        return download(RemoteFile(url, sha256, size), dest, progress=progress, attempts=2, timeout=30.0)
    except KitError as e:
        raise PersonDetectUnavailable(
            f"{e}. The kit starts from the TFLM example's person_detect.tflite (Apache-2.0). Without a "
            f"network: copy that file from a machine that has it (it is tensorflow/lite/micro/models/"
            f"person_detect.tflite in the tflite-micro repository) and pass its path (--weights PATH.tflite, "
            f"or set {PERSON_DETECT_ENV}), or put it at {dest}; or train from scratch with --weights none"
        ) from None


def person_detect_path(path: str | os.PathLike[str] | None = None, download: bool = True,
                       url: str = PERSON_DETECT_URL, progress: bool = True) -> Path:
    """Where person_detect.tflite is: ``path``, else $TINYMLKIT_PERSON_DETECT, else a copy kept earlier, else the
    project's reference data where it exists (checked by SHA-256), else downloaded once into the cache."""
    for given, what in ((path, "the given path"), (os.environ.get(PERSON_DETECT_ENV), f"${PERSON_DETECT_ENV}")):
        if given:
            p = Path(given).expanduser()
            if not p.is_file():
                raise PersonDetectUnavailable(f"{p} ({what}): no such file; point it at person_detect.tflite")
            return p
    cached = person_detect_cache_file()
    if cached.is_file():
        return cached
    for copy in _reference_copies():
        from ..data.download import sha256_of

        if copy.is_file() and sha256_of(copy) == PERSON_DETECT_SHA256:
            return copy
    if not download:
        raise PersonDetectUnavailable(
            f"person_detect.tflite is not on this machine (looked at {cached} and ${PERSON_DETECT_ENV}); "
            f"download it with `tinymlkit vww get-base` (needs the network once) or give a local copy")
    return download_person_detect(cached, url=url, progress=progress)


def _reference_copies() -> list[Path]:
    """The project's own reference data (../shared/data beside a checkout, or $TINYMLKIT_SHARED_DATA)."""
    from ..paths import project_root

    env = os.environ.get("TINYMLKIT_SHARED_DATA")
    root = project_root()
    base = Path(env) if env else (root.parent / "shared" / "data" if root is not None else None)
    if base is None:
        return []
    return [base / "tflite_micro_reference" / "person_detection" / "person_detect.tflite"]


# ---------------------------------------------------------------------------------------------
# Reading the weights


def _opts(op: Any) -> Any:
    return op.builtinOptions


def _tensor(g: Any, m: Any, index: int) -> tuple[Any, np.ndarray | None]:
    t = g.tensors[index]
    buf = m.buffers[t.buffer] if t.buffer < len(m.buffers) else None
    data = None
    if buf is not None and buf.data is not None and len(buf.data):
        data = np.asarray(buf.data, dtype=np.uint8)
    return t, data


def _dequantized(g: Any, m: Any, index: int, what: str) -> np.ndarray:
    """A constant tensor as float32, dequantised per channel along its quantised dimension."""
    s = _schema()
    t, raw = _tensor(g, m, index)
    if raw is None:
        raise WeightsError(f"{what}: tensor {index} holds no data")
    dtype = {s.TensorType.INT8: np.int8, s.TensorType.INT32: np.int32, s.TensorType.FLOAT32: np.float32}.get(t.type)
    if dtype is None:
        raise WeightsError(f"{what}: tensor type {t.type} is not int8, int32 or float32")
    shape = tuple(int(d) for d in t.shape)
    q = raw.view(dtype).reshape(shape)
    if dtype is np.float32:
        return q.astype(np.float32)
    qp = t.quantization
    if qp is None or qp.scale is None or len(qp.scale) == 0:
        raise WeightsError(f"{what}: an integer tensor without quantisation parameters")
    scale = np.asarray(qp.scale, dtype=np.float64)
    zp = np.asarray(qp.zeroPoint if qp.zeroPoint is not None else np.zeros_like(scale), dtype=np.float64)
    if len(scale) == 1:
        return ((q.astype(np.float64) - zp[0]) * scale[0]).astype(np.float32)
    # A bias is one-dimensional but may carry its kernel's quantised dimension (3 for depthwise).
    axis = int(qp.quantizedDimension) if q.ndim > 1 else 0
    if q.shape[axis] != len(scale):
        raise WeightsError(f"{what}: {len(scale)} scales for dimension {axis} of shape {q.shape}")
    bshape = [1] * q.ndim
    bshape[axis] = len(scale)
    return ((q.astype(np.float64) - zp.reshape(bshape)) * scale.reshape(bshape)).astype(np.float32)


def _schema() -> Any:
    from ..tflite_file import schema

    return schema()


def read_person_detect_weights(path: str | os.PathLike[str] | bytes) -> dict[str, list[np.ndarray]]:
    """Dequantised weights of person_detect.tflite by kit layer name, in Keras layouts.

    Checks the graph op by op against the kit's MobileNetV1 (alpha 0.25, 96x96x1) and raises
    ``WeightsError`` naming the first difference. Keys: 'conv1', 'conv_dw_i', 'conv_pw_i' (each
    [kernel, bias]) and 'predictions' ([kernel (256, 2), bias (2,)]).
    """
    from ..tflite_file import read_model_bytes

    data = read_model_bytes(path)
    where = "<model bytes>" if isinstance(path, (bytes, bytearray)) else str(path)
    s = _schema()
    try:
        m = s.ModelT.InitFromObj(s.Model.GetRootAsModel(data, 0))
    except Exception as e:
        raise WeightsError(f"{where}: not a readable .tflite flatbuffer ({type(e).__name__}: {e})") from None
    if not m.subgraphs:
        raise WeightsError(f"{where}: the model has no subgraph")
    g = m.subgraphs[0]
    op_names = {v: k for k, v in vars(s.BuiltinOperator).items() if not k.startswith("_") and isinstance(v, int)}

    def name_of(op: Any) -> str:
        oc = m.operatorCodes[op.opcodeIndex]
        return op_names.get(max(oc.builtinCode, oc.deprecatedBuiltinCode), "?")

    ops = list(g.operators)
    want = ["CONV_2D"] + ["DEPTHWISE_CONV_2D", "CONV_2D"] * len(MOBILENET_V1_BLOCKS) + ["AVERAGE_POOL_2D", "CONV_2D"]
    got = [name_of(op) for op in ops]
    # On one input channel the first 3x3 convolution may be stored as a depthwise one with a depth
    # multiplier of 8 (the TFLM model is): the same arithmetic, 8 filters over the single channel.
    first_is_depthwise = bool(got) and got[0] == "DEPTHWISE_CONV_2D"
    if first_is_depthwise:
        got = ["CONV_2D", *got[1:]]
    if got[:len(want)] != want or not set(got[len(want):]) <= {"RESHAPE", "SOFTMAX"}:
        raise WeightsError(f"{where}: its ops are {got}; a MobileNetV1 person detector has {want} then "
                           "RESHAPE/SOFTMAX. This is not the TFLM example's person_detect.tflite")
    in_t = g.tensors[g.inputs[0]]
    if tuple(int(d) for d in in_t.shape) != (1, *_INPUT):
        raise WeightsError(f"{where}: input shape {tuple(in_t.shape)}, expected (1, 96, 96, 1)")
    names = ["conv1"] + [f"conv_{k}_{i}" for i in range(1, len(MOBILENET_V1_BLOCKS) + 1) for k in ("dw", "pw")]
    strides = [2] + [st for _, st in MOBILENET_V1_BLOCKS for st in (st, 1)]
    filters = [int(32 * _ALPHA)] + [int(f * _ALPHA) for f, _ in MOBILENET_V1_BLOCKS for f in (0, f)]
    relu6 = s.ActivationFunctionType.RELU6
    out: dict[str, list[np.ndarray]] = {}
    channels = _INPUT[2]
    for op, name, stride, n in zip(ops, names, strides, filters):
        o = _opts(op)
        what = f"{where}: layer {name}"
        if o.padding != s.Padding.SAME or (o.strideW, o.strideH) != (stride, stride):
            raise WeightsError(f"{what}: padding {o.padding} stride {(o.strideW, o.strideH)}, expected SAME and "
                               f"stride {stride}")
        if o.fusedActivationFunction != relu6:
            raise WeightsError(f"{what}: fused activation {o.fusedActivationFunction}, expected RELU6")
        w = _dequantized(g, m, op.inputs[1], what)
        b = _dequantized(g, m, op.inputs[2], what)
        if name == "conv1" and first_is_depthwise:
            if w.shape != (1, 3, 3, n) or channels != 1 or int(o.depthMultiplier) != n:
                raise WeightsError(f"{what}: depthwise first layer {w.shape} x{o.depthMultiplier}, expected "
                                   f"(1, 3, 3, {n}) with depth multiplier {n} on one channel")
            out[name] = [np.ascontiguousarray(w[0][:, :, None, :]), b]  # Keras Conv2D: (kh, kw, 1, 8)
            channels = n
        elif name.startswith("conv_dw"):
            if w.shape != (1, 3, 3, channels):
                raise WeightsError(f"{what}: depthwise kernel {w.shape}, expected (1, 3, 3, {channels})")
            out[name] = [np.ascontiguousarray(w[0][:, :, :, None]), b]  # Keras: (kh, kw, channels, multiplier)
        else:
            k = 3 if name == "conv1" else 1
            if w.shape != (n, k, k, channels):
                raise WeightsError(f"{what}: kernel {w.shape}, expected {(n, k, k, channels)}")
            out[name] = [np.ascontiguousarray(w.transpose(1, 2, 3, 0)), b]  # Keras: (kh, kw, in, out)
            channels = n
    head = ops[len(want) - 1]
    w = _dequantized(g, m, head.inputs[1], f"{where}: classifier")
    b = _dequantized(g, m, head.inputs[2], f"{where}: classifier")
    if w.shape[1:] != (1, 1, channels):
        raise WeightsError(f"{where}: classifier kernel {w.shape}, expected (classes, 1, 1, {channels})")
    out["predictions"] = [np.ascontiguousarray(w[:, 0, 0, :].T), b]
    return out


# ---------------------------------------------------------------------------------------------
# Into Keras


def _fill(model: Any, weights: dict[str, list[np.ndarray]], head: bool) -> None:
    base = get_base(model)
    for name, (kernel, bias) in weights.items():
        if name == "predictions":
            continue
        layer, bn = base.get_layer(name), base.get_layer(f"{name}_bn")
        if tuple(layer.get_weights()[0].shape) != kernel.shape:
            raise WeightsError(f"layer {name}: the model wants {layer.get_weights()[0].shape}, the file has "
                               f"{kernel.shape}; build MobileNetV1 alpha 0.25 at 96x96x1")
        layer.set_weights([kernel])
        c = kernel.shape[-1] if name.startswith("conv_pw") or name == "conv1" else kernel.shape[2]
        eps = float(bn.epsilon)
        # Identity batch norm plus the folded bias: gamma * (x - 0) / sqrt((1 - eps) + eps) + beta = x + bias.
        bn.set_weights([np.ones(c, np.float32), bias.astype(np.float32), np.zeros(c, np.float32),
                        np.full(c, 1.0 - eps, np.float32)])
    if head:
        dense = model.get_layer("predictions")
        dense.set_weights(weights["predictions"])


def load_person_detect_weights(model: Any, path: str | os.PathLike[str] | None = None, head: bool = True,
                               progress: bool = True) -> str:
    """Fill a kit MobileNetV1 (alpha 0.25, grayscale; 96x96 as trained) with the reference weights; says what it did."""
    p = person_detect_path(path, progress=progress)
    weights = read_person_detect_weights(p)
    if head:
        n = model.get_layer("predictions").get_weights()[0].shape[1]
        head = n == weights["predictions"][0].shape[1]
    _fill(model, weights, head)
    return (f"person_detect.tflite (TFLM example, MobileNetV1 0.25 trained on COCO Visual Wake Words; "
            f"{'base and head' if head else 'base only, new head'}) from {p}")


def person_detect_model(path: str | os.PathLike[str] | None = None, num_classes: int = 2, dropout: float = 0.1,
                        progress: bool = True, size: int = 96) -> Any:
    """The reference person detector as a float Keras MobileNetV1 (its head too, for two classes).

    ``size`` builds it for another square input: the convolutions and the pooled head do not depend on
    the input size, so the same weights run at 64 or 128 pixels (trained at 96, they fit 96 best).
    """
    from .mobilenet import mobilenet_v1

    if size < 32:
        raise WeightsError(f"size {size}: MobileNetV1 halves the input five times; use at least 32 pixels")
    model = mobilenet_v1((size, size, 1), num_classes, _ALPHA, dropout=dropout)
    load_person_detect_weights(model, path, head=num_classes == 2, progress=progress)
    return model


def freeze_batchnorm(model: Any) -> int:
    """Freeze every batch-norm layer of the base (they then run in inference mode); returns how many."""
    from ..tf_quiet import load_tensorflow
    load_tensorflow()
    from keras import layers

    n = 0
    for layer in get_base(model).layers:
        if isinstance(layer, layers.BatchNormalization):
            layer.trainable = False
            n += 1
    return n
