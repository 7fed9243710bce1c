"""Frozen configuration dataclasses: the single source of truth for every track.

Training reads them, they are saved as JSON beside every model, and the sketches' generated
headers are rendered from them (see ``tinymlkit.export``). No constant is typed twice.
"""
from __future__ import annotations

import dataclasses
import json
import os
import typing
from pathlib import Path
from typing import Any, TypeVar

from .errors import KitError
from .files import atomic_write_text

T = TypeVar("T")

__all__ = [
    "AudioFrontendConfig",
    "KwsTaskConfig",
    "TrainConfig",
    "RecognizerConfig",
    "QuantParams",
    "ImageInputConfig",
    "VwwTaskConfig",
    "KwsRunConfig",
    "VwwRunConfig",
    "ConfigError",
    "to_dict",
    "from_dict",
    "save_json",
    "load_json",
    "load_run_config",
]


class ConfigError(KitError, ValueError):
    """A configuration file or value that cannot be used."""


@dataclasses.dataclass(frozen=True)
class AudioFrontendConfig:
    """Settings of the TFLM micro frontend, shared by training and the board."""

    sample_rate: int = 16000
    """Samples per second of every clip (the Nano 33 BLE Sense PDM microphone runs at 16 kHz)."""
    clip_duration_ms: int = 1000
    """Length of one keyword clip in milliseconds."""
    window_size_ms: int = 30
    """Length of one analysis window (frame) in milliseconds."""
    window_stride_ms: int = 20
    """Hop between the starts of two frames in milliseconds."""
    feature_bins: int = 40
    """Number of filterbank channels per frame."""
    lower_band_limit: float = 125.0
    """Lowest frequency (Hz) covered by the filterbank."""
    upper_band_limit: float = 7500.0
    """Highest frequency (Hz) covered by the filterbank."""
    smoothing_bits: int = 10
    """Fixed-point fraction bits of the noise-reduction smoothing."""
    even_smoothing: float = 0.025
    """Noise-estimate smoothing coefficient of even channels."""
    odd_smoothing: float = 0.06
    """Noise-estimate smoothing coefficient of odd channels."""
    min_signal_remaining: float = 0.05
    """Fraction of the signal that noise reduction always keeps."""
    enable_pcan: bool = True
    """Per-channel amplitude normalisation (automatic gain) on or off."""
    pcan_strength: float = 0.95
    """Exponent of the PCAN gain."""
    pcan_offset: float = 80.0
    """Offset added to the noise estimate before PCAN."""
    gain_bits: int = 21
    """Fixed-point bits of the PCAN gain."""
    enable_log: bool = True
    """Take the log of the channel energies."""
    scale_shift: int = 6
    """Right shift applied to the log output."""
    feature_scale_numerator: int = 10
    """Frontend uint16 output times numerator/denominator gives the float feature (TF speech commands 'micro')."""
    feature_scale_denominator: int = 256
    """See ``feature_scale_numerator``."""

    @property
    def clip_samples(self) -> int:
        """Samples in one clip."""
        return self.sample_rate * self.clip_duration_ms // 1000

    @property
    def window_samples(self) -> int:
        """Samples in one analysis window."""
        return self.sample_rate * self.window_size_ms // 1000

    @property
    def stride_samples(self) -> int:
        """Samples between two frame starts."""
        return self.sample_rate * self.window_stride_ms // 1000

    @property
    def num_frames(self) -> int:
        """Frames per clip: 49 for the defaults."""
        return 1 + (self.clip_samples - self.window_samples) // self.stride_samples

    @property
    def feature_shape(self) -> tuple[int, int]:
        """(frames, channels) of one clip's features."""
        return (self.num_frames, self.feature_bins)


@dataclasses.dataclass(frozen=True)
class KwsTaskConfig:
    """What a keyword model recognises and how its training data are drawn."""

    words: tuple[str, ...] = ("yes", "no")
    """Keywords to recognise, in output order after silence and unknown."""
    silence_label: str = "silence"
    """Label of the 'no speech' class (the TFLM models' spelling)."""
    unknown_label: str = "unknown"
    """Label of the 'some other word' class."""
    silence_percentage: float = 10.0
    """Silence clips added, as a percentage of the keyword clips of each split."""
    unknown_percentage: float = 10.0
    """Unknown-word clips kept, as a percentage of the keyword clips of each split."""
    validation_percentage: float = 10.0
    """Share of speakers in validation under the official hash split."""
    testing_percentage: float = 10.0
    """Share of speakers in test under the official hash split."""
    background_volume: float = 0.1
    """Largest background-noise amplitude mixed into a training clip (0..1)."""
    background_frequency: float = 0.8
    """Fraction of training clips that get background noise."""
    time_shift_ms: int = 100
    """Largest random shift of a training clip in milliseconds."""
    split_salt: str = ""
    """Salt prepended to speaker ids before hashing; empty is the official split."""

    @property
    def labels(self) -> tuple[str, ...]:
        """Model output labels in order."""
        return (self.silence_label, self.unknown_label, *self.words)


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """How a model is trained."""

    model: str = "tiny_conv"
    """Architecture name from ``tinymlkit.models``."""
    epochs: int = 30
    """Largest number of epochs (early stopping may end sooner)."""
    batch_size: int = 64
    """Clips per gradient step."""
    learning_rate: float = 0.003
    """Initial Adam learning rate; decays by cosine to 5 % of it."""
    patience: int = 6
    """Epochs without validation improvement before stopping."""
    seed: int = 1234
    """Seed for weights, shuffling and augmentation."""


@dataclasses.dataclass(frozen=True)
class RecognizerConfig:
    """How the sketch turns a stream of scores into commands."""

    average_window_ms: int = 1000
    """Scores are averaged over this many milliseconds of recent inferences."""
    detection_threshold: int = 200
    """Averaged score (0..255) a label must reach to be reported."""
    suppression_ms: int = 1500
    """After a report, no new report for this long."""
    minimum_count: int = 3
    """Fewest inferences in the window needed to report anything."""
    inference_every_frames: int = 2
    """Run the model once every N new feature frames (20 ms each): 2 leaves the 13 ms model estimate
    a 40 ms budget, a margin for the factor-of-two uncertainty of that estimate."""


@dataclasses.dataclass(frozen=True)
class QuantParams:
    """Affine int8 quantisation: real = scale * (q - zero_point)."""

    scale: float
    """Real value of one step of the integer."""
    zero_point: int
    """Integer that stands for real zero."""


@dataclasses.dataclass(frozen=True)
class ImageInputConfig:
    """The image a vision model takes."""

    width: int = 96
    """Model input width in pixels."""
    height: int = 96
    """Model input height in pixels."""
    channels: int = 1
    """1 for grayscale, 3 for RGB."""
    normalization: str = "minus_one_to_one"
    """How pixels 0..255 became the float input in training: 'minus_one_to_one' is pixel/127.5 - 1
    (MobileNet's and the reference person detector's); see ``tinymlkit.vision.int8_input``."""


@dataclasses.dataclass(frozen=True)
class VwwTaskConfig:
    """Visual wake words: labels and model shape."""

    labels: tuple[str, ...] = ("non_person", "person")
    """Model output labels in order; folder names of an image dataset."""
    alpha: float = 0.25
    """MobileNetV1 width multiplier."""
    min_person_area: float = 0.005
    """COCO: an image is 'person' if a person box covers more than this share of it."""


@dataclasses.dataclass(frozen=True)
class KwsRunConfig:
    """Everything a keyword model and its sketch need, saved as ``config.json``."""

    audio: AudioFrontendConfig = AudioFrontendConfig()
    """Front-end settings."""
    task: KwsTaskConfig = KwsTaskConfig()
    """Labels and data drawing."""
    train: TrainConfig = TrainConfig()
    """Training settings."""
    recognizer: RecognizerConfig = RecognizerConfig()
    """Command recognizer of the sketch."""
    kind: str = "kws"
    """Track marker, so a loader knows which config it reads."""

    @property
    def labels(self) -> tuple[str, ...]:
        """Model output labels in order."""
        return self.task.labels


@dataclasses.dataclass(frozen=True)
class VwwRunConfig:
    """Everything a person detector and its sketch need, saved as ``config.json``."""

    image: ImageInputConfig = ImageInputConfig()
    """Model input."""
    task: VwwTaskConfig = VwwTaskConfig()
    """Labels and model width."""
    train: TrainConfig = TrainConfig(model="mobilenet_v1", epochs=20, batch_size=32, learning_rate=0.001)
    """Training settings."""
    detection_threshold: int = 160
    """Person score (0..255) above which the sketch reports a person."""
    kind: str = "vww"
    """Track marker, so a loader knows which config it reads."""

    @property
    def labels(self) -> tuple[str, ...]:
        """Model output labels in order."""
        return self.task.labels


def to_dict(obj: Any) -> dict[str, Any]:
    """Turn a config dataclass (nested) into plain JSON-able data."""
    return json.loads(json.dumps(dataclasses.asdict(obj)))


def _coerce(tp: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected an object, got {type(value).__name__}")
        return from_dict(tp, value, where)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {type(value).__name__}")
        (item_tp, *_rest) = typing.get_args(tp)
        return tuple(_coerce(item_tp, v, f"{where}[{i}]") for i, v in enumerate(value))
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    return value


def from_dict(cls: type[T], data: dict[str, Any], where: str = "config") -> T:
    """Build a config dataclass from JSON data, checking names and types."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = set(data) - names
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) {sorted(unknown)}; known: {sorted(names)}")
    kwargs = {k: _coerce(hints[k], v, f"{where}.{k}") for k, v in data.items()}
    return cls(**kwargs)


def save_json(obj: Any, path: str | os.PathLike[str]) -> Path:
    """Save a config dataclass (or plain data) as indented JSON, atomically."""
    data = to_dict(obj) if dataclasses.is_dataclass(obj) else obj
    return atomic_write_text(path, json.dumps(data, indent=2, sort_keys=False) + "\n")


def load_json(cls: type[T], path: str | os.PathLike[str]) -> T:
    """Load a config dataclass from a JSON file, with errors naming the file."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except json.JSONDecodeError as e:
        raise ConfigError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a JSON object")
    return from_dict(cls, data, where=str(path))


def load_run_config(path: str | os.PathLike[str]) -> KwsRunConfig | VwwRunConfig:
    """Load a run's ``config.json``, whichever track wrote it."""
    path = Path(path)
    try:
        kind = json.loads(path.read_text(encoding="utf-8")).get("kind", "kws")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except (json.JSONDecodeError, AttributeError) as e:
        raise ConfigError(f"{path}: not a config JSON object ({e})") from None
    if kind == "kws":
        return load_json(KwsRunConfig, path)
    if kind == "vww":
        return load_json(VwwRunConfig, path)
    raise ConfigError(f"{path}: unknown config kind {kind!r} (expected 'kws' or 'vww')")
