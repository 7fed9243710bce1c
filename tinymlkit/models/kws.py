"""Keyword-spotting models: tiny_conv (TFLM micro_speech) and DS-CNN (MLPerf Tiny KWS)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["tiny_conv", "ds_cnn", "KWS_MODELS", "build_kws_model"]


def tiny_conv(input_shape: tuple[int, int], num_labels: int, dropout: float = 0.25) -> Any:
    """The micro_speech model: one 10x8 convolution with 8 filters, stride 2, then a dense layer.

    With one input channel the converter turns the convolution into a depthwise one, which is why
    the micro_speech sketch registers DEPTHWISE_CONV_2D, FULLY_CONNECTED, SOFTMAX and RESHAPE.
    """
    from ..tf_quiet import load_tensorflow
    load_tensorflow()
    import keras
    from keras import layers

    inp = keras.Input(shape=input_shape, name="features")
    x = layers.Reshape((*input_shape, 1))(inp)
    x = layers.Conv2D(8, (10, 8), strides=(2, 2), padding="same", activation="relu", name="conv")(x)
    x = layers.Dropout(dropout)(x)
    x = layers.Flatten()(x)
    out = layers.Dense(num_labels, activation="softmax", name="labels")(x)
    return keras.Model(inp, out, name="tiny_conv")


def ds_cnn(input_shape: tuple[int, int], num_labels: int, filters: int = 64, blocks: int = 4,
           dropout: float = 0.2, strides: tuple[int, int] = (2, 2)) -> Any:
    """Depthwise-separable CNN as in the MLPerf Tiny keyword-spotting reference (Zhang et al. 2017).

    A 10x4 convolution with ``strides`` (frames, channels), then ``blocks`` depthwise 3x3 + pointwise 1x1
    pairs, each with batch norm and ReLU, global average pooling and a dense layer. The first stride
    sets how many positions every later layer works on, so most of the multiply-accumulates: (2, 4) on
    the 40 filterbank channels leaves 25 x 10, as many as the MLPerf model's 49 x 10 MFCC input gives.
    """
    from ..tf_quiet import load_tensorflow
    load_tensorflow()
    import keras
    from keras import layers

    inp = keras.Input(shape=input_shape, name="features")
    x = layers.Reshape((*input_shape, 1))(inp)
    x = layers.Conv2D(filters, (10, 4), strides=tuple(strides), padding="same", use_bias=False)(x)
    x = layers.BatchNormalization(momentum=0.9)(x)
    x = layers.ReLU()(x)
    x = layers.Dropout(dropout)(x)
    for i in range(blocks):
        x = layers.DepthwiseConv2D((3, 3), padding="same", use_bias=False, name=f"dw{i}")(x)
        x = layers.BatchNormalization(momentum=0.9)(x)
        x = layers.ReLU()(x)
        x = layers.Conv2D(filters, (1, 1), use_bias=False, name=f"pw{i}")(x)
        x = layers.BatchNormalization(momentum=0.9)(x)
        x = layers.ReLU()(x)
    x = layers.Dropout(dropout)(x)
    x = layers.GlobalAveragePooling2D()(x)
    out = layers.Dense(num_labels, activation="softmax", name="labels")(x)
    return keras.Model(inp, out, name="ds_cnn")


KWS_MODELS: dict[str, Callable[..., Any]] = {"tiny_conv": tiny_conv, "ds_cnn": ds_cnn}


def build_kws_model(name: str, input_shape: tuple[int, int], num_labels: int) -> Any:
    """Build a keyword model by name, with a clear error for an unknown one."""
    from ..errors import KitError

    if name not in KWS_MODELS:
        raise KitError(f"unknown keyword model {name!r}; choose one of {sorted(KWS_MODELS)}")
    return KWS_MODELS[name](input_shape, num_labels)
