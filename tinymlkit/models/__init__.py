"""Model architectures, built with Keras 3: keyword spotting (``kws``) and MobileNetV1 (``mobilenet``).

May import: layers 0-1 (errors, paths, tf_quiet, tflite_file) and ``data`` (a pretrained base's
file); TensorFlow only through ``tf_quiet``. Pipelines, compress and the command line import it.
"""
from __future__ import annotations

from .kws import KWS_MODELS, build_kws_model, ds_cnn, tiny_conv
from .mobilenet import (add_classifier_head, layer_costs, load_base_weights, mobilenet_v1, mobilenet_v1_base,
                        separable_conv_macs, separable_cost_ratio, standard_conv_macs)

__all__ = ["KWS_MODELS", "build_kws_model", "ds_cnn", "tiny_conv", "add_classifier_head", "layer_costs",
           "load_base_weights", "mobilenet_v1", "mobilenet_v1_base", "separable_conv_macs", "separable_cost_ratio",
           "standard_conv_macs"]
