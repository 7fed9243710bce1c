"""Settings of an anomaly-detection run, saved beside the model as ``config.json`` (kind 'anomaly')."""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from ..config import AudioFrontendConfig, ConfigError, from_dict, read_json_object, save_json

__all__ = ["ANOMALY_AUDIO", "AutoencoderConfig", "AnomalyScoringConfig", "AnomalyRunConfig",
           "save_anomaly_config", "load_anomaly_config"]

ANOMALY_AUDIO = AudioFrontendConfig(
    clip_duration_ms=64 + 4 * 32,  # exactly one model input: 5 frames
    window_size_ms=64,
    window_stride_ms=32,
    feature_bins=64,
    # Noise reduction and automatic gain would learn the machine's steady hum as 'background' and
    # remove it: the very sound we model. min_signal_remaining=1 makes noise reduction pass everything.
    min_signal_remaining=1.0,
    enable_pcan=False,
)
"""Front end of the anomaly track: 64 ms windows every 32 ms (as the MLPerf Tiny features: 1024-sample
FFT, hop 512), 64 log filterbank channels, computed by the same TFLM frontend the board runs."""


@dataclasses.dataclass(frozen=True)
class AutoencoderConfig:
    """Shape and training of the dense autoencoder."""

    frames: int = 5
    """Consecutive frames in one input vector (MLPerf Tiny: 5)."""
    hidden_units: int = 128
    """Units of each hidden dense layer (MLPerf Tiny: 128)."""
    hidden_layers: int = 3
    """Dense layers on each side of the bottleneck (MLPerf Tiny: 4; 3 here to save flash)."""
    bottleneck: int = 8
    """Units of the code layer (MLPerf Tiny: 8)."""
    epochs: int = 30
    """Training epochs."""
    batch_size: int = 64
    """Vectors per step (MLPerf Tiny: 512, on far more data; smaller batches learn faster on a small set)."""
    learning_rate: float = 0.001
    """Adam learning rate."""
    validation_share: float = 0.1
    """Share of the normal training clips held out to set the alarm threshold."""
    seed: int = 1234
    """Seed for weights, shuffling and the held-out draw."""


@dataclasses.dataclass(frozen=True)
class AnomalyScoringConfig:
    """How reconstruction errors become an alarm, in Python and in the sketch alike."""

    threshold: float = 0.0
    """Average reconstruction error (mean squared error per value) above which a clip is anomalous;
    set from held-out normal clips by the run."""
    threshold_quantile: float = 0.95
    """Quantile of the held-out normal clips' scores the threshold is set at (about 5 % false alarms)."""
    average_inferences: int = 60
    """The sketch averages this many inferences (one every frame, 32 ms: ~2 s) before deciding,
    like a 2-second clip score in Python."""


@dataclasses.dataclass(frozen=True)
class AnomalyRunConfig:
    """Everything the anomaly model and its sketch need, saved as ``config.json``."""

    audio: AudioFrontendConfig = ANOMALY_AUDIO
    """Front-end settings (one model input = ``audio.num_frames`` frames)."""
    model: AutoencoderConfig = AutoencoderConfig()
    """Autoencoder settings."""
    scoring: AnomalyScoringConfig = AnomalyScoringConfig()
    """Alarm rule."""
    machine: str = ""
    """Machine type the model was trained on."""
    kind: str = "anomaly"
    """Track marker, so a loader knows which config it reads."""

    @property
    def input_size(self) -> int:
        """Values in one model input: frames x channels."""
        return self.model.frames * self.audio.feature_bins


def save_anomaly_config(cfg: AnomalyRunConfig, path: str | os.PathLike[str]) -> Path:
    """Write the config as JSON, atomically."""
    return save_json(cfg, path)


def load_anomaly_config(path: str | os.PathLike[str]) -> AnomalyRunConfig:
    """Read an anomaly run's config.json, checking every field; errors name the file."""
    path = Path(path)
    # The kit's strict reader: size, encoding, nesting and JSON errors all name the file.
    data = read_json_object(path)
    if data.get("kind") != "anomaly":
        kind = data.get("kind") if isinstance(data, dict) else None
        raise ConfigError(f"{path}: a {kind!r} config, but this command needs an 'anomaly' one "
                          "(the config.json written by `tinymlkit anomaly run`)")
    cfg = from_dict(AnomalyRunConfig, data, where=str(path))
    if cfg.audio.num_frames != cfg.model.frames:
        raise ConfigError(f"{path}: audio.clip_duration_ms makes {cfg.audio.num_frames} frames but model.frames "
                          f"is {cfg.model.frames}")
    return cfg
