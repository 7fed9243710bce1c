"""MobileNetV1 (Howard et al. 2017, arXiv:1704.04861) with a width multiplier, and transfer learning.

The network: a 3x3 convolution with stride 2, then 13 depthwise-separable blocks (a 3x3 depthwise
convolution, then a 1x1 pointwise one, each followed by batch norm and ReLU6), global average
pooling and a dense classifier. Layer names follow ``keras.applications.MobileNet`` so ImageNet
weights copy over by name. Stride-2 depthwise layers use 'same' padding, which for even sizes pads
exactly as the Keras application's explicit (0, 1) padding does, without an extra PAD op on the board.

The base (everything before the pooling) is a nested Keras model named ``mobilenet_v1_base``, so it
can be frozen, fine-tuned, saved, and started from in another task.

Cost arithmetic the course derives by hand, per layer (output Df x Df, M input and N output
channels, Dk x Dk kernel): a standard convolution costs Dk^2 M N Df^2 multiply-accumulates; a
depthwise-separable one Dk^2 M Df^2 + M N Df^2, i.e. 1/N + 1/Dk^2 of it. :func:`layer_costs` counts
every layer of a real Keras model by these rules.
"""
from __future__ import annotations

import dataclasses
import os
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import KitError

__all__ = [
    "BASE_NAME",
    "MOBILENET_V1_BLOCKS",
    "IMAGENET_ALPHAS",
    "WeightsError",
    "mobilenet_v1_base",
    "add_classifier_head",
    "mobilenet_v1",
    "get_base",
    "set_base_trainable",
    "imagenet_base_weights",
    "load_base_weights",
    "LayerCost",
    "layer_costs",
    "separable_cost_ratio",
    "standard_conv_macs",
    "separable_conv_macs",
]

BASE_NAME = "mobilenet_v1_base"
"""Name of the nested base model inside a kit classifier."""

MOBILENET_V1_BLOCKS: tuple[tuple[int, int], ...] = (
    (64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
    (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1),
)
"""(pointwise filters at alpha 1, depthwise stride) of the 13 depthwise-separable blocks (paper, Table 1)."""

IMAGENET_ALPHAS = (0.25, 0.5, 0.75, 1.0)
"""Width multipliers for which ``keras.applications`` publishes ImageNet weights."""


class WeightsError(KitError, ValueError):
    """Starting weights that cannot be had or do not fit the model."""


def _filters(f: int, alpha: float) -> int:
    return int(f * alpha)  # keras.applications' rule, so ImageNet weights fit


def mobilenet_v1_base(input_shape: tuple[int, int, int] = (96, 96, 1), alpha: float = 0.25,
                      bn_momentum: float = 0.9, blocks: int | None = None) -> Any:
    """The MobileNetV1 feature extractor (no pooling, no classifier) as a Keras model named ``mobilenet_v1_base``.

    ``bn_momentum`` 0.9 (Keras' default is 0.99) lets batch-norm statistics keep up on small data sets.
    ``blocks`` cuts the network after that many depthwise-separable blocks (None: all 13); the layers
    kept have the same names as in the whole network, so weights by name still fit.
    """
    from ..tf_quiet import load_tensorflow
    load_tensorflow()
    import keras
    from keras import layers

    if not 0.1 <= alpha <= 1.0:
        raise ValueError(f"alpha (width multiplier) must be between 0.1 and 1.0, got {alpha}")
    if input_shape[2] not in (1, 3):
        raise ValueError(f"input channels must be 1 (grayscale) or 3 (RGB), got {input_shape[2]}")
    n_blocks = len(MOBILENET_V1_BLOCKS) if blocks is None else blocks
    if isinstance(n_blocks, bool) or not isinstance(n_blocks, int) or not 1 <= n_blocks <= len(MOBILENET_V1_BLOCKS):
        raise ValueError(f"blocks must be a whole number from 1 to {len(MOBILENET_V1_BLOCKS)}, got {blocks!r}")
    inp = keras.Input(shape=input_shape, name="image")
    x = layers.Conv2D(_filters(32, alpha), 3, strides=2, padding="same", use_bias=False, name="conv1")(inp)
    x = layers.BatchNormalization(momentum=bn_momentum, name="conv1_bn")(x)
    x = layers.ReLU(6.0, name="conv1_relu")(x)
    for i, (f, stride) in enumerate(MOBILENET_V1_BLOCKS[:n_blocks], start=1):
        x = layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False, name=f"conv_dw_{i}")(x)
        x = layers.BatchNormalization(momentum=bn_momentum, name=f"conv_dw_{i}_bn")(x)
        x = layers.ReLU(6.0, name=f"conv_dw_{i}_relu")(x)
        x = layers.Conv2D(_filters(f, alpha), 1, padding="same", use_bias=False, name=f"conv_pw_{i}")(x)
        x = layers.BatchNormalization(momentum=bn_momentum, name=f"conv_pw_{i}_bn")(x)
        x = layers.ReLU(6.0, name=f"conv_pw_{i}_relu")(x)
    return keras.Model(inp, x, name=BASE_NAME)


def add_classifier_head(base: Any, num_classes: int, dropout: float = 0.1) -> Any:
    """A new head on a base: global average pooling, dropout, dense softmax (named 'predictions')."""
    from ..tf_quiet import load_tensorflow
    load_tensorflow()
    import keras
    from keras import layers

    inp = keras.Input(shape=base.input_shape[1:], name="input")
    x = base(inp)
    x = layers.GlobalAveragePooling2D(name="global_pool")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    out = layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inp, out, name="mobilenet_v1")


def mobilenet_v1(input_shape: tuple[int, int, int] = (96, 96, 1), num_classes: int = 2, alpha: float = 0.25,
                 dropout: float = 0.1, bn_momentum: float = 0.9) -> Any:
    """MobileNetV1 classifier with random weights: :func:`mobilenet_v1_base` plus :func:`add_classifier_head`."""
    return add_classifier_head(mobilenet_v1_base(input_shape, alpha, bn_momentum), num_classes, dropout)


def get_base(model: Any) -> Any:
    """The nested ``mobilenet_v1_base`` of a kit classifier (or the model itself if it is a base)."""
    if model.name == BASE_NAME:
        return model
    for layer in model.layers:
        if layer.name == BASE_NAME:
            return layer
    raise WeightsError(f"model {model.name!r} has no {BASE_NAME!r} part; it was not made by tinymlkit.models.mobilenet")


def set_base_trainable(model: Any, trainable: bool) -> None:
    """Freeze (False) or unfreeze (True) the base; frozen batch norm also runs in inference mode."""
    get_base(model).trainable = trainable


def _copy_weights(src_layers: dict[str, Any], base: Any, where: str) -> int:
    """Copy weights by layer name; a grayscale first layer gets the RGB kernel summed over colour."""
    copied = 0
    for layer in base.layers:
        if not layer.weights:
            continue
        src = src_layers.get(layer.name)
        if src is None:
            raise WeightsError(f"{where}: has no layer {layer.name!r}; it is not a MobileNetV1 base")
        w = [np.asarray(v) for v in src.get_weights()]
        want = [tuple(v.shape) for v in layer.get_weights()]
        if layer.name == "conv1" and w and w[0].shape[2] == 3 and want[0][2] == 1:
            # A gray image repeated into R, G, B meets the summed kernel: same output, one channel.
            w[0] = w[0].sum(axis=2, keepdims=True)
        got = [tuple(v.shape) for v in w]
        if got != want:
            raise WeightsError(f"{where}: layer {layer.name!r} has weights of shape {got}, the model needs {want} "
                               "(different alpha or channel count; build the model with the base's alpha)")
        layer.set_weights(w)
        copied += 1
    return copied


def imagenet_base_weights(base: Any, alpha: float) -> int:
    """Load ImageNet weights from ``keras.applications`` into a base (downloads once; KitError offline)."""
    from ..tf_quiet import load_tensorflow
    load_tensorflow()
    import keras

    if alpha not in IMAGENET_ALPHAS:
        raise WeightsError(f"ImageNet weights exist for alpha {', '.join(map(str, IMAGENET_ALPHAS))} only, "
                           f"not {alpha}; choose one of those, or --weights none / --weights PATH")
    try:
        ref = keras.applications.MobileNet(input_shape=(224, 224, 3), alpha=alpha, include_top=False,
                                           weights="imagenet")
    except Exception as e:  # urllib errors arrive wrapped in a plain Exception by keras.utils.get_file
        raise WeightsError(
            f"could not get the ImageNet MobileNet weights (alpha {alpha}) through keras.applications: {e}. "
            "They download once from storage.googleapis.com and are then cached in ~/.keras/models. Either run "
            "once with a network connection, or start from a base the kit trained earlier with --weights PATH "
            "(a model.keras from a previous run), or train from scratch with --weights none"
        ) from None
    return _copy_weights({layer.name: layer for layer in ref.layers}, base, "ImageNet MobileNet")


def load_base_weights(model: Any, weights: str | os.PathLike[str] | None, alpha: float) -> str:
    """Fill the model's base from 'imagenet', from a saved kit model (path), or leave it random ('none')."""
    base = get_base(model)
    if weights is None or str(weights) == "none":
        return "random initialisation"
    if str(weights) == "imagenet":
        imagenet_base_weights(base, alpha)
        return f"ImageNet (keras.applications MobileNet alpha {alpha})"
    from ..tf_quiet import load_tensorflow
    load_tensorflow()
    import keras

    path = Path(weights)
    if not path.is_file():
        raise WeightsError(f"{path}: no such weights file; give a model.keras saved by a previous run, "
                           "or 'imagenet' or 'none'")
    try:
        saved = keras.models.load_model(path, compile=False)
    except Exception as e:
        raise WeightsError(f"{path}: not a Keras model file the kit can read ({e})") from None
    src = get_base(saved)
    _copy_weights({layer.name: layer for layer in src.layers}, base, str(path))
    return f"base of {path}"


@dataclasses.dataclass(frozen=True)
class LayerCost:
    """Parameters and multiply-accumulates of one layer, counted by the course's rules."""

    name: str
    """Keras layer name."""
    kind: str
    """'conv', 'depthwise', 'pointwise', 'dense' or 'batchnorm'."""
    params: int
    """Weights (and biases, and the four batch-norm vectors) of the layer."""
    macs: int
    """Multiply-accumulates for one input image (batch norm folds into the convolution: 0)."""
    output_shape: tuple[int, ...]
    """Output shape without the batch axis."""
    kernel: int = 0
    """Dk, the kernel's side (0 where there is none)."""
    in_channels: int = 0
    """M, input channels."""
    out_channels: int = 0
    """N, output channels."""


def _flat_layers(model: Any) -> list[Any]:
    out = []
    for layer in model.layers:
        if hasattr(layer, "layers") and layer.layers:  # nested model
            out.extend(_flat_layers(layer))
        else:
            out.append(layer)
    return out


def layer_costs(model: Any) -> list[LayerCost]:
    """Count parameters and MACs of every conv, depthwise, dense and batch-norm layer from its shapes."""
    from ..tf_quiet import load_tensorflow
    load_tensorflow()
    from keras import layers as L

    costs = []
    for layer in _flat_layers(model):
        if not isinstance(layer, (L.Conv2D, L.DepthwiseConv2D, L.Dense, L.BatchNormalization)):
            continue
        out_shape = tuple(int(d) for d in layer.output.shape[1:])
        in_shape = tuple(int(d) for d in layer.input.shape[1:])
        bias = 1 if getattr(layer, "use_bias", False) else 0
        if isinstance(layer, L.DepthwiseConv2D):
            k = int(layer.kernel_size[0]) * int(layer.kernel_size[1])
            m, dm = in_shape[-1], int(layer.depth_multiplier)
            params = k * m * dm + bias * m * dm
            macs = k * m * dm * out_shape[0] * out_shape[1]
            costs.append(LayerCost(layer.name, "depthwise", params, macs, out_shape,
                                   int(layer.kernel_size[0]), m, m * dm))
        elif isinstance(layer, L.Conv2D):
            k = int(layer.kernel_size[0]) * int(layer.kernel_size[1])
            m, n = in_shape[-1], int(layer.filters)
            params = k * m * n + bias * n
            macs = k * m * n * out_shape[0] * out_shape[1]
            costs.append(LayerCost(layer.name, "pointwise" if k == 1 else "conv", params, macs, out_shape,
                                   int(layer.kernel_size[0]), m, n))
        elif isinstance(layer, L.Dense):
            m, n = in_shape[-1], int(layer.units)
            costs.append(LayerCost(layer.name, "dense", m * n + bias * n, m * n, out_shape, 0, m, n))
        elif isinstance(layer, L.BatchNormalization):
            c = in_shape[-1]
            costs.append(LayerCost(layer.name, "batchnorm", 4 * c, 0, out_shape, 0, c, c))
    return costs


def standard_conv_macs(dk: int, m: int, n: int, df: int) -> int:
    """MACs of a standard Dk x Dk convolution from M to N channels with a Df x Df output: Dk^2 M N Df^2."""
    return dk * dk * m * n * df * df


def separable_conv_macs(dk: int, m: int, n: int, df: int) -> int:
    """MACs of the depthwise-separable replacement: Dk^2 M Df^2 (depthwise) + M N Df^2 (pointwise)."""
    return dk * dk * m * df * df + m * n * df * df


def separable_cost_ratio(n: int, dk: int) -> Fraction:
    """Depthwise-separable over standard cost, exactly: 1/N + 1/Dk^2 (0.2111 for N = 10, Dk = 3)."""
    return Fraction(1, n) + Fraction(1, dk * dk)
