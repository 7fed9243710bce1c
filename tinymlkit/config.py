"""Frozen configuration dataclasses: the single source of truth for every track.

Training reads them, they are saved as JSON beside every model, and the sketches' generated
headers are rendered from them (see ``tinymlkit.export``). No constant is typed twice.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import re
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
    "read_json_object",
    "label_problem",
    "FrontendField",
    "FRONTEND_FIELDS",
    "frontend_op_args",
    "IMAGE_NORMALIZATIONS",
    "MAX_LABEL_CHARS",
]


class ConfigError(KitError, ValueError):
    """A configuration file or value that cannot be used."""


# ---------------------------------------------------------------------------------------------------
# Validation: every field's type and range, checked whenever a config is made (from JSON or by code).
# The C audio frontend divides by the stride and sizes buffers from the window, so a bad value there
# would be a SIGFPE or SIGSEGV, not an exception: nothing out of range may get past this point.

class _FieldError(ConfigError):
    """A field value out of range; ``from_dict`` prefixes the file it came from."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field, self.problem = field, problem


MAX_LABEL_CHARS = 64
"""Longest label (a keyword, a class folder name) the kit accepts."""

MIN_WINDOW_SAMPLES = 128
"""Shortest analysis window (samples) the C frontend is run with: shorter FFTs corrupted its heap in tests."""

IMAGE_NORMALIZATIONS = ("minus_one_to_one", "zero_to_one", "raw")
"""Names ``ImageInputConfig.normalization`` may take (``tinymlkit.vision.int8_input.NORMALIZATIONS``)."""


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _int_in(lo: int, hi: int) -> tuple[Any, str]:
    return (lambda v: lo <= v <= hi), f"an integer from {lo} to {hi}"


def _num_in(lo: float, hi: float, lo_open: bool = False) -> tuple[Any, str]:
    lo_text = f"above {lo:g}" if lo_open else f"from {lo:g}"
    return ((lambda v: (lo < v if lo_open else lo <= v) and v <= hi),
            f"a finite number {lo_text} to {hi:g}")


def label_problem(label: Any) -> str | None:
    """Why a string cannot be a label (empty, control characters, too long), or None."""
    if not isinstance(label, str):
        return f"expected a string, got {label!r}"
    if not label.strip():
        return "a label cannot be empty or blank"
    if label != label.strip():
        return f"label {label!r} starts or ends with a space"
    if any(ord(ch) < 32 or 0x7F <= ord(ch) < 0xA0 or ch in "\u2028\u2029" for ch in label):
        return f"label {label!r} holds a control character (newline, tab, NUL...)"
    if len(label) > MAX_LABEL_CHARS:
        return f"label {label[:20]!r}... is longer than {MAX_LABEL_CHARS} characters"
    return None


def _labels_ok(labels: tuple[str, ...], what: str, least: int) -> None:
    for i, lab in enumerate(labels):
        problem = label_problem(lab)
        if problem:
            raise _FieldError(f"{what}[{i}]", problem)
    if len(labels) < least:
        raise _FieldError(what, f"needs at least {least} label(s), got {list(labels)}")
    seen: set[str] = set()
    for lab in labels:
        if lab in seen:
            raise _FieldError(what, f"label {lab!r} appears twice in {list(labels)}; labels must be distinct")
        seen.add(lab)


_RANGES: dict[str, dict[str, tuple[Any, str]]] = {
    "AudioFrontendConfig": {
        "sample_rate": _int_in(4000, 48000),
        "clip_duration_ms": _int_in(10, 60000),
        "window_size_ms": _int_in(1, 1000),
        "window_stride_ms": _int_in(1, 1000),
        "feature_bins": _int_in(1, 128),
        "lower_band_limit": _num_in(0.0, 24000.0),
        "upper_band_limit": _num_in(0.0, 24000.0, lo_open=True),
        "smoothing_bits": _int_in(0, 16),
        "even_smoothing": _num_in(0.0, 1.0),
        "odd_smoothing": _num_in(0.0, 1.0),
        "min_signal_remaining": _num_in(0.0, 1.0),
        "pcan_strength": _num_in(0.0, 4.0),
        "pcan_offset": _num_in(0.0, 1e6),
        "gain_bits": _int_in(0, 28),
        "scale_shift": _int_in(0, 15),
        "feature_scale_numerator": _int_in(1, 1 << 16),
        "feature_scale_denominator": _int_in(1, 1 << 16),
    },
    "KwsTaskConfig": {
        "silence_percentage": _num_in(0.0, 1000.0),
        "unknown_percentage": _num_in(0.0, 100000.0),
        "validation_percentage": _num_in(0.0, 100.0),
        "testing_percentage": _num_in(0.0, 100.0),
        "background_volume": _num_in(0.0, 1.0),
        "background_frequency": _num_in(0.0, 1.0),
        "time_shift_ms": _int_in(0, 10000),
        "split_salt": ((lambda v: len(v) <= 256), "a string of at most 256 characters"),
    },
    "TrainConfig": {
        "model": ((lambda v: re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", v) is not None),
                  "a model name such as tiny_conv (letters, digits, '_', '-', '.')"),
        "epochs": _int_in(1, 100000),
        "batch_size": _int_in(1, 1 << 16),
        "learning_rate": _num_in(0.0, 10.0, lo_open=True),
        "patience": _int_in(0, 100000),
        "seed": _int_in(0, 2**32 - 1),
    },
    "RecognizerConfig": {
        "average_window_ms": _int_in(1, 60000),
        "detection_threshold": _int_in(0, 255),
        "suppression_ms": _int_in(0, 600000),
        "minimum_count": _int_in(1, 1000),
        "inference_every_frames": _int_in(1, 1000),
    },
    "QuantParams": {
        "scale": _num_in(0.0, 3.4e38, lo_open=True),
        "zero_point": _int_in(-(2**31), 2**31 - 1),
    },
    "ImageInputConfig": {
        "width": _int_in(1, 4096),
        "height": _int_in(1, 4096),
        "channels": ((lambda v: v in (1, 3)), "1 (grayscale) or 3 (RGB)"),
        "normalization": ((lambda v: v in IMAGE_NORMALIZATIONS), f"one of {list(IMAGE_NORMALIZATIONS)}"),
    },
    "VwwTaskConfig": {
        "alpha": _num_in(0.0, 4.0, lo_open=True),
        "min_person_area": _num_in(0.0, 1.0),
    },
    "KwsRunConfig": {
        "kind": ((lambda v: v == "kws"), "'kws' (this is a keyword-spotting config)"),
    },
    "VwwRunConfig": {
        "detection_threshold": _int_in(0, 255),
        "kind": ((lambda v: v == "vww"), "'vww' (this is a person-detection config)"),
    },
}
"""Valid values of every bounded field, by class and field: (test, what a valid value is)."""


def _type_ok(obj: Any, name: str, tp: Any, value: Any) -> Any:
    """The value, normalised (int to float, list to tuple), or a _FieldError saying the type expected."""
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, tp):
            raise _FieldError(name, f"expected a {tp.__name__}, got {type(value).__name__}")
        return value
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise _FieldError(name, f"expected a list of strings, got {value!r}")
        for i, v in enumerate(value):
            if not isinstance(v, str):
                raise _FieldError(f"{name}[{i}]", f"expected a string, got {v!r}")
        return tuple(value)
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _FieldError(name, f"expected a number, got {value!r}")
        if not math.isfinite(value):
            raise _FieldError(name, f"expected a finite number, got {value!r}")
        return float(value)
    if tp is int:
        if not _is_int(value):
            raise _FieldError(name, f"expected an integer, got {value!r}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise _FieldError(name, f"expected true or false, got {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise _FieldError(name, f"expected a string, got {value!r}")
        return value
    return value


def _validate(obj: Any) -> None:
    """Check (and normalise) every field of a config dataclass; a _FieldError names the first bad one."""
    cls = type(obj)
    hints = typing.get_type_hints(cls)
    ranges = _RANGES.get(cls.__name__, {})
    try:
        for f in dataclasses.fields(obj):
            value = _type_ok(obj, f.name, hints[f.name], getattr(obj, f.name))
            object.__setattr__(obj, f.name, value)  # frozen: only normalising int->float, list->tuple
            rule = ranges.get(f.name)
            if rule is not None and not rule[0](value):
                word = "out of range" if isinstance(value, (int, float)) else "not allowed"
                raise _FieldError(f.name, f"{value!r} is {word}; expected {rule[1]}")
        check = _CROSS_CHECKS.get(cls.__name__)
        if check is not None:
            check(obj)
    except _FieldError as e:
        # Made by code, the message names the class; from_dict re-raises it naming the file instead.
        e.args = (f"{cls.__name__}.{e.field}: {e.problem}",)
        raise


def _check_audio(a: AudioFrontendConfig) -> None:
    if a.upper_band_limit <= a.lower_band_limit:
        raise _FieldError("upper_band_limit", f"{a.upper_band_limit:g} Hz is not above lower_band_limit "
                          f"{a.lower_band_limit:g} Hz (an inverted or empty band gives constant features)")
    if a.upper_band_limit > a.sample_rate / 2:
        raise _FieldError("upper_band_limit", f"{a.upper_band_limit:g} Hz is above half the sample rate "
                          f"({a.sample_rate / 2:g} Hz), where no frequency exists")
    if a.stride_samples < 1:
        raise _FieldError("window_stride_ms", f"{a.window_stride_ms} ms is less than one sample at {a.sample_rate} Hz")
    if a.window_stride_ms > a.window_size_ms:
        raise _FieldError("window_stride_ms", f"{a.window_stride_ms} ms is longer than the window ({a.window_size_ms} ms); "
                          "the C frontend overruns its buffer when frames do not overlap or touch")
    if a.window_samples < MIN_WINDOW_SAMPLES:
        raise _FieldError("window_size_ms", f"{a.window_size_ms} ms is {a.window_samples} samples at {a.sample_rate} Hz; "
                          f"the frontend needs at least {MIN_WINDOW_SAMPLES}")
    # The C frontend sizes its FFT to the window and spreads the channels over the FFT bins of the band:
    # more channels than bins, or a band reaching the last bin, makes it fail (or corrupt its heap).
    fft = 1 << max(1, math.ceil(math.log2(a.window_samples)))
    hz_per_bin = a.sample_rate / fft
    if a.upper_band_limit > a.sample_rate / 2 - hz_per_bin:
        raise _FieldError("upper_band_limit", f"{a.upper_band_limit:g} Hz reaches the last FFT bin; keep it at most "
                          f"{a.sample_rate / 2 - hz_per_bin:g} Hz ({fft}-point FFT at {a.sample_rate} Hz)")
    if a.lower_band_limit < hz_per_bin:
        raise _FieldError("lower_band_limit", f"{a.lower_band_limit:g} Hz is inside the first FFT bin; use at least "
                          f"{hz_per_bin:g} Hz")
    bins = math.floor(a.upper_band_limit / hz_per_bin) - math.ceil(a.lower_band_limit / hz_per_bin)
    if bins < 2 * a.feature_bins:
        raise _FieldError("feature_bins", f"{a.feature_bins} channels need at least {2 * a.feature_bins} FFT bins in the "
                          f"band {a.lower_band_limit:g}-{a.upper_band_limit:g} Hz, which holds {bins} ({hz_per_bin:g} Hz "
                          "per bin): widen the band, lengthen the window or use fewer channels")
    if a.window_size_ms > a.clip_duration_ms:
        raise _FieldError("window_size_ms", f"{a.window_size_ms} ms is longer than the clip "
                          f"(clip_duration_ms {a.clip_duration_ms})")


def _check_kws_task(t: KwsTaskConfig) -> None:
    _labels_ok(tuple(t.words), "words", 1)
    for name in ("silence_label", "unknown_label"):
        problem = label_problem(getattr(t, name))
        if problem:
            raise _FieldError(name, problem)
    _labels_ok(t.labels, "words", 1)  # silence and unknown must differ from every word too
    if t.validation_percentage + t.testing_percentage >= 100:
        raise _FieldError("testing_percentage", f"validation ({t.validation_percentage:g} %) plus testing "
                          f"({t.testing_percentage:g} %) leave no speakers for training; keep their sum below 100")


def _check_vww_task(t: VwwTaskConfig) -> None:
    _labels_ok(tuple(t.labels), "labels", 2)


def _check_kws_run(c: KwsRunConfig) -> None:
    if c.task.time_shift_ms > c.audio.clip_duration_ms:
        raise _FieldError("task.time_shift_ms", f"{c.task.time_shift_ms} ms is longer than the clip "
                          f"({c.audio.clip_duration_ms} ms)")


_CROSS_CHECKS: dict[str, Any] = {
    "AudioFrontendConfig": _check_audio,
    "KwsTaskConfig": _check_kws_task,
    "VwwTaskConfig": _check_vww_task,
    "KwsRunConfig": _check_kws_run,
}


class _Checked:
    """Base of the config dataclasses: every instance is checked when it is made, from JSON or by code."""

    def __post_init__(self) -> None:
        _validate(self)


@dataclasses.dataclass(frozen=True)
class AudioFrontendConfig(_Checked):
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
class KwsTaskConfig(_Checked):
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
class TrainConfig(_Checked):
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
class RecognizerConfig(_Checked):
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
class QuantParams(_Checked):
    """Affine int8 quantisation: real = scale * (q - zero_point)."""

    scale: float
    """Real value of one step of the integer."""
    zero_point: int
    """Integer that stands for real zero."""


@dataclasses.dataclass(frozen=True)
class ImageInputConfig(_Checked):
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
class VwwTaskConfig(_Checked):
    """Visual wake words: labels and model shape."""

    labels: tuple[str, ...] = ("non_person", "person")
    """Model output labels in order; folder names of an image dataset."""
    alpha: float = 0.25
    """MobileNetV1 width multiplier."""
    min_person_area: float = 0.005
    """COCO: an image is 'person' if a person box covers more than this share of it."""


@dataclasses.dataclass(frozen=True)
class KwsRunConfig(_Checked):
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
class VwwRunConfig(_Checked):
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


# ---------------------------------------------------------------------------------------------------
# The audio front end's fields: one table maps each to the TF op argument and the C frontend's member.

@dataclasses.dataclass(frozen=True)
class FrontendField:
    """How one ``AudioFrontendConfig`` field reaches TensorFlow's op and the board's C frontend."""

    field: str
    """Field of ``AudioFrontendConfig``."""
    tf_arg: str | None
    """Keyword argument of TF's ``audio_microfrontend`` op, or None when the op does not take it."""
    c_member: str | None
    """Member of the C ``struct FrontendConfig`` (TFLM's microfrontend/lib/frontend_util.h), or None."""
    note: str = ""
    """Where the value goes instead, when it is not an op argument or a struct member."""


FRONTEND_FIELDS: tuple[FrontendField, ...] = (
    FrontendField("sample_rate", "sample_rate", None, "the third argument of FrontendPopulateState()"),
    FrontendField("clip_duration_ms", None, None, "length of a training clip; the board streams"),
    FrontendField("window_size_ms", "window_size", "window.size_ms"),
    FrontendField("window_stride_ms", "window_step", "window.step_size_ms"),
    FrontendField("feature_bins", "num_channels", "filterbank.num_channels"),
    FrontendField("lower_band_limit", "lower_band_limit", "filterbank.lower_band_limit"),
    FrontendField("upper_band_limit", "upper_band_limit", "filterbank.upper_band_limit"),
    FrontendField("smoothing_bits", "smoothing_bits", "noise_reduction.smoothing_bits"),
    FrontendField("even_smoothing", "even_smoothing", "noise_reduction.even_smoothing"),
    FrontendField("odd_smoothing", "odd_smoothing", "noise_reduction.odd_smoothing"),
    FrontendField("min_signal_remaining", "min_signal_remaining", "noise_reduction.min_signal_remaining"),
    FrontendField("enable_pcan", "enable_pcan", "pcan_gain_control.enable_pcan"),
    FrontendField("pcan_strength", "pcan_strength", "pcan_gain_control.strength"),
    FrontendField("pcan_offset", "pcan_offset", "pcan_gain_control.offset"),
    FrontendField("gain_bits", "gain_bits", "pcan_gain_control.gain_bits"),
    FrontendField("enable_log", "enable_log", "log_scale.enable_log"),
    FrontendField("scale_shift", "scale_shift", "log_scale.scale_shift"),
    FrontendField("feature_scale_numerator", None, None, "applied to the frontend's uint16 output (int8 conversion)"),
    FrontendField("feature_scale_denominator", None, None, "applied to the frontend's uint16 output (int8 conversion)"),
)
"""Every ``AudioFrontendConfig`` field, once: the op's arguments and the generated ``KitFillFrontendConfig()``
are both built from this table, so a new field reaches both or a test fails."""


def frontend_op_args(cfg: AudioFrontendConfig) -> dict[str, Any]:
    """Keyword arguments of TF's ``audio_microfrontend`` op for these settings (from ``FRONTEND_FIELDS``)."""
    return {f.tf_arg: getattr(cfg, f.field) for f in FRONTEND_FIELDS if f.tf_arg}


# ---------------------------------------------------------------------------------------------------
# JSON loading

MAX_CONFIG_BYTES = 1 << 20
"""A config.json larger than this is not one the kit wrote."""


def _coerce(tp: Any, value: Any, where: str) -> Any:
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected an object, got {type(value).__name__}")
        return from_dict(tp, value, where)
    try:
        return _type_ok(None, where, tp, value)
    except _FieldError as e:
        raise ConfigError(str(e)) from None


def from_dict(cls: type[T], data: dict[str, Any], where: str = "config") -> T:
    """Build a config dataclass from JSON data: every field present, of its type and in its range."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected an object, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    unknown = set(data) - set(names)
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) {sorted(map(str, unknown))}; known: {sorted(names)}")
    kwargs = {k: _coerce(hints[k], v, f"{where}.{k}") for k, v in data.items()}
    missing = [n for n in names if n not in data]
    if missing:
        raise ConfigError(f"{where}: missing field(s) {missing}; a config must give every field (the kit "
                          "writes complete ones: start from a run's config.json)")
    try:
        return cls(**kwargs)
    except _FieldError as e:
        raise ConfigError(f"{where}.{e.field}: {e.problem}") from None


def save_json(obj: Any, path: str | os.PathLike[str]) -> Path:
    """Save a config dataclass (or plain data) as indented JSON, atomically."""
    data = to_dict(obj) if dataclasses.is_dataclass(obj) else obj
    return atomic_write_text(path, json.dumps(data, indent=2, sort_keys=False, allow_nan=False) + "\n")


def read_json_object(path: str | os.PathLike[str], what: str = "config") -> dict[str, Any]:
    """A JSON object from a file, with one-line errors for a missing, binary, huge, deep or non-object file."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such {what} file") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder, not a {what} file") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read the {what} file ({e.strerror or e})") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path}: larger than {MAX_CONFIG_BYTES // 1024} KB; not a {what} file the kit wrote")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a text file (binary data); expected a JSON {what}") from None

    def no_constants(name: str) -> Any:
        raise ValueError(f"{name} is not a number JSON allows")

    try:
        data = json.loads(text, parse_constant=no_constants)
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply to be a {what} file") from None
    except ValueError as e:  # JSONDecodeError is a ValueError
        raise ConfigError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


def load_json(cls: type[T], path: str | os.PathLike[str]) -> T:
    """Load a config dataclass from a JSON file, with errors naming the file and the field."""
    return from_dict(cls, read_json_object(path), where=str(path))


def load_run_config(path: str | os.PathLike[str]) -> KwsRunConfig | VwwRunConfig:
    """Load a run's ``config.json``, whichever track wrote it."""
    data = read_json_object(path)
    kind = data.get("kind")
    if kind == "kws":
        return from_dict(KwsRunConfig, data, where=str(path))
    if kind == "vww":
        return from_dict(VwwRunConfig, data, where=str(path))
    raise ConfigError(f"{path}: field 'kind' is {kind!r}; expected 'kws' or 'vww' (a run's config.json)")
