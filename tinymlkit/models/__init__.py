"""Model architectures, built with Keras 3: keyword spotting here, MobileNetV1 in ``mobilenet``."""
from __future__ import annotations

from .kws import KWS_MODELS, build_kws_model, ds_cnn, tiny_conv

__all__ = ["KWS_MODELS", "build_kws_model", "ds_cnn", "tiny_conv"]
