"""What the board feeds the model, written once: a clip or a frame to the model's int8 input.

A :class:`BoardInput` is built from a run's config (``config.json`` or the dataclass) and its model.
It holds the only copy of the rules the sketch runs:

- **image**: camera frame -> centre crop, integer bilinear resize, integer gray (``prepare_frame``)
  -> the 256-entry pixel table computed from the model's own input scale and zero point and the
  config's normalisation (``pixel_to_int8_table``, the table ``model_settings.h`` carries). Photos
  (datasets, a learner's pictures) take the antialiased resize instead (``preprocess_image``) and then
  the same table.
- **audio**: int16 clip -> the TFLM micro frontend (``frontend_uint16``) -> ``frontend_to_int8``
  with the model's input scale and zero point, the rule the generated C++ runs.

Evaluation, the command line, the labs and the virtual board all use it, so a model trained with
another normalisation or front end is fed the same way everywhere. For a float model (no int8 input)
it gives the float values the model was trained on.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from .config import KwsRunConfig, QuantParams, VwwRunConfig, load_run_config
from .errors import KitError
from .runtime import ModelRunner

__all__ = ["BoardInput", "board_input"]


class BoardInput:
    """The board's input path for one model and its run config."""

    def __init__(self, config: KwsRunConfig | VwwRunConfig | str | os.PathLike[str],
                 model: ModelRunner | bytes | str | os.PathLike[str], backend: str | None = None,
                 labels: Sequence[str] | None = None) -> None:
        """``labels`` replaces the config's output labels (a model scored with ``--labels`` and default settings)."""
        self.config: KwsRunConfig | VwwRunConfig = (
            config if isinstance(config, (KwsRunConfig, VwwRunConfig)) else load_run_config(config))
        self.runner = model if isinstance(model, ModelRunner) else ModelRunner(model, backend=backend)
        self.kind = self.config.kind
        self._labels = tuple(labels) if labels is not None else tuple(self.config.labels)
        shape = tuple(self.runner.input_shape[1:])
        want = self.expected_shape
        if int(np.prod(shape)) != int(np.prod(want)):
            raise KitError(f"the model takes input {shape} but its config describes {want} "
                           f"({'image' if self.kind == 'vww' else 'micro features'}); use the config.json of "
                           "the run that made this model")
        if self.runner.num_outputs != len(self._labels):
            raise KitError(f"the model has {self.runner.num_outputs} outputs but the "
                           f"{'config lists' if labels is None else 'labels given are'} "
                           f"{len(self._labels)} labels {list(self._labels)}")
        self._table: np.ndarray | None = None
        self._macs: int | None = None

    @property
    def expected_shape(self) -> tuple[int, ...]:
        """Input shape (no batch axis) the config describes."""
        if isinstance(self.config, VwwRunConfig):
            im = self.config.image
            return (im.height, im.width, im.channels)
        return tuple(self.config.audio.feature_shape)

    @property
    def labels(self) -> tuple[str, ...]:
        """Output labels in order."""
        return self._labels

    @property
    def is_int8(self) -> bool:
        """True when the model takes int8 input (the board's case)."""
        return self.runner.input_dtype == np.int8

    @property
    def input_quant(self) -> QuantParams | None:
        """The model's input scale and zero point (None for a float model)."""
        return self.runner.input_quant

    @property
    def macs(self) -> int:
        """Multiply-accumulates of one inference (``tinymlkit inspect``'s count, for latency estimates)."""
        if self._macs is None:
            from .inspect import inspect_model

            self._macs = inspect_model(self.runner.model_bytes, measure=False).macs
        return self._macs

    # -- images ---------------------------------------------------------------------------------

    def _image_config(self) -> Any:
        if not isinstance(self.config, VwwRunConfig):
            raise KitError("this is a keyword model's config; images need a 'vww' run config")
        return self.config.image

    @property
    def pixel_table(self) -> np.ndarray:
        """int8[256]: the sketch's pixel -> input table (model scale/zero point, config normalisation)."""
        if self._table is None:
            from .vision.int8_input import pixel_to_int8_table

            im = self._image_config()
            if not self.is_int8 or self.input_quant is None:
                raise KitError(f"the model's input is {self.runner.input_dtype}, not int8; use model_int8.tflite")
            self._table = pixel_to_int8_table(self.input_quant.scale, self.input_quant.zero_point,
                                              im.normalization)
        return self._table

    def frame_pixels(self, frame: np.ndarray) -> np.ndarray:
        """A camera frame (uint8 H, W, C) to model pixels, with the sketch's integer crop/resize/gray."""
        from .vision.preprocess import prepare_frame

        im = self._image_config()
        return prepare_frame(frame, im.width, im.height, im.channels)

    def photo_pixels(self, image: Any) -> np.ndarray:
        """A decoded photo (PIL image or uint8 array) to model pixels (antialiased resize for large photos)."""
        from .vision.preprocess import preprocess_image

        im = self._image_config()
        return preprocess_image(image, im.width, im.height, im.channels)

    def pixels_to_input(self, pixels: np.ndarray) -> np.ndarray:
        """uint8 model pixels (H, W, C) or a batch of them to what the input tensor holds."""
        from .vision.int8_input import normalize, pixels_to_int8

        im = self._image_config()
        pixels = np.asarray(pixels, dtype=np.uint8)
        if tuple(pixels.shape[-3:]) != self.expected_shape:
            raise KitError(f"images are {pixels.shape[-3:]} but the model takes {self.expected_shape}")
        if self.is_int8:
            return pixels_to_int8(pixels, self.pixel_table)
        return normalize(pixels, im.normalization)

    def frame_to_input(self, frame: np.ndarray) -> np.ndarray:
        """A camera frame straight to the model's input, as the sketch computes it."""
        return self.pixels_to_input(self.frame_pixels(frame))

    def photo_to_input(self, image: Any) -> np.ndarray:
        """A photo straight to the model's input."""
        return self.pixels_to_input(self.photo_pixels(image))

    # -- audio ----------------------------------------------------------------------------------

    def clip_to_input(self, clip: np.ndarray) -> np.ndarray:
        """A 1 s clip (int16, or float in -1..1) to the model's input: micro features, int8 as the sketch does."""
        from .audio.features import frontend_to_float, frontend_to_int8, frontend_uint16

        if not isinstance(self.config, KwsRunConfig):
            raise KitError("this is a person detector's config; clips need a 'kws' run config")
        cfg = self.config.audio
        raw = frontend_uint16(clip, cfg)
        frames = np.zeros(cfg.feature_shape, dtype=raw.dtype)  # a short clip: the missing frames stay 0
        n = min(len(raw), cfg.num_frames)
        frames[:n] = raw[:n]
        if self.is_int8 and self.input_quant is not None:
            return frontend_to_int8(frames, self.input_quant, cfg).reshape(self.runner.input_shape[1:])
        return frontend_to_float(frames, cfg).reshape(self.runner.input_shape[1:])

    # -- running --------------------------------------------------------------------------------

    def run(self, x: np.ndarray) -> np.ndarray:
        """One prepared input (from the methods above) on the model; raw output (int8 for int8 models)."""
        return self.runner.run_raw(x).reshape(-1)

    def run_batch(self, xs: np.ndarray, progress: bool = False) -> np.ndarray:
        """Raw outputs for a batch of prepared inputs, one row each."""
        rows = np.empty((len(xs), self.runner.num_outputs), dtype=self.runner.output_dtype)
        it: Any = range(len(xs))
        if progress:
            from tqdm.auto import tqdm

            it = tqdm(it, desc=f"{self.runner.backend} inference", unit="ex", leave=False)
        for i in it:
            rows[i] = self.run(xs[i])
        return rows

    def probabilities(self, raw: np.ndarray) -> np.ndarray:
        """Raw outputs to real values (dequantised)."""
        return self.runner.from_output(raw)


def board_input(config: KwsRunConfig | VwwRunConfig | str | os.PathLike[str],
                model: ModelRunner | bytes | str | os.PathLike[str], backend: str | None = None,
                labels: Sequence[str] | None = None) -> BoardInput:
    """The board's input path for a run: ``board_input(RUN / 'config.json', RUN / 'model_int8.tflite')``."""
    return BoardInput(config, model, backend, labels)
