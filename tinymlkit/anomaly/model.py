"""The dense autoencoder of the MLPerf Tiny anomaly benchmark (Banbury et al., arXiv 2106.07597), scaled down."""
from __future__ import annotations

from typing import Any

from .config import AutoencoderConfig

__all__ = ["build_autoencoder"]


def build_autoencoder(input_size: int, cfg: AutoencoderConfig = AutoencoderConfig()) -> Any:
    """Dense -> BatchNorm -> ReLU layers down to a small code and back up to ``input_size`` linear outputs.

    Batch normalisation folds into the dense layers at conversion, so the int8 model holds only
    FULLY_CONNECTED ops: cheap on a Cortex-M4 and available in every TFLM build.
    """
    from ..tf_quiet import load_tensorflow
    load_tensorflow()
    import keras

    x = inp = keras.Input(shape=(input_size,), name="frames")
    widths = [cfg.hidden_units] * cfg.hidden_layers + [cfg.bottleneck] + [cfg.hidden_units] * cfg.hidden_layers
    for i, w in enumerate(widths):
        x = keras.layers.Dense(w, name=f"dense_{i}")(x)
        x = keras.layers.BatchNormalization(name=f"bn_{i}")(x)
        x = keras.layers.ReLU(name=f"relu_{i}")(x)
    out = keras.layers.Dense(input_size, name="reconstruction")(x)
    return keras.Model(inp, out, name="anomaly_autoencoder")
