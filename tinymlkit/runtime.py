"""Run .tflite models the way the board does: the TFLM interpreter, or LiteRT where TFLM is missing.

The ``tflite-micro`` package ships the real TFLM interpreter (Linux x86_64 wheels only); it is the
board's stand-in. LiteRT (``ai-edge-litert``) runs the same models with TFLite's kernels, which are
not always bit-identical to TFLM's (see the project's FACTS): use it to compare, not as the answer.
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from .config import QuantParams
from .errors import KitError

__all__ = [
    "RuntimeUnavailable",
    "ModelLoadError",
    "tflm_available",
    "default_backend",
    "quantize",
    "dequantize",
    "ModelRunner",
    "ArenaMeasurement",
    "measure_arena",
    "read_model_bytes",
    "capture_stderr_fd",
]

TFLM = "tflm"
LITERT = "litert"
BACKENDS = (TFLM, LITERT)

_warned_fallback = False


class RuntimeUnavailable(KitError, RuntimeError):
    """The requested interpreter is not installed on this machine."""


class ModelLoadError(KitError, ValueError):
    """A file that is not a model an interpreter can run."""


def tflm_available() -> bool:
    """True when the ``tflite-micro`` interpreter can be imported here."""
    try:
        from tflite_micro.python.tflite_micro import runtime  # noqa: F401
    except Exception:  # ImportError, or a wheel built for another CPU
        return False
    return True


def default_backend() -> str:
    """TFLM where available; otherwise LiteRT, saying once that it is not the board's runtime."""
    global _warned_fallback
    if tflm_available():
        return TFLM
    if not _warned_fallback:
        _warned_fallback = True
        print(
            "tinymlkit: the TFLM interpreter (pip package 'tflite-micro', Linux x86_64 only) is not "
            "available here; using the LiteRT interpreter with reference kernels instead. Its int8 "
            "results can differ from the board's by a few LSB.",
            file=sys.stderr,
        )
    return LITERT


def quantize(x: np.ndarray, qp: QuantParams, dtype: Any = np.int8) -> np.ndarray:
    """Real values to integers: floor(x / scale + 0.5) + zero_point, saturated (the sketches' rule)."""
    info = np.iinfo(dtype)
    q = np.floor(np.asarray(x, dtype=np.float64) / np.float64(np.float32(qp.scale)) + 0.5) + qp.zero_point
    return np.clip(q, info.min, info.max).astype(dtype)


def dequantize(q: np.ndarray, qp: QuantParams) -> np.ndarray:
    """Integers to real values: scale * (q - zero_point), in float32."""
    return (np.float32(qp.scale) * (np.asarray(q, dtype=np.int32) - qp.zero_point)).astype(np.float32)


def read_model_bytes(model: bytes | str | os.PathLike[str]) -> bytes:
    """Model bytes from bytes or a path, with a clear error for a missing or non-TFLite file."""
    if isinstance(model, (bytes, bytearray)):
        data, name = bytes(model), "<model bytes>"
    else:
        path = Path(model)
        if not path.is_file():
            raise ModelLoadError(f"{path}: no such model file")
        data, name = path.read_bytes(), str(path)
    # A .tflite flatbuffer carries the identifier "TFL3" at byte 4.
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise ModelLoadError(f"{name}: not a TFLite model (no 'TFL3' flatbuffer identifier)")
    return data


@contextlib.contextmanager
def capture_stderr_fd() -> Iterator[Path]:
    """Send what C++ writes to file descriptor 2 into a temporary file (yielded) instead of the terminal."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.NamedTemporaryFile(prefix="tinymlkit-stderr-", delete=False) as tmp:
        path = Path(tmp.name)
    try:
        with open(path, "wb") as f:
            os.dup2(f.fileno(), 2)
            try:
                yield path
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)


def _quant_from_details(details: dict[str, Any]) -> QuantParams | None:
    qp = details.get("quantization_parameters") or {}
    scales = qp.get("scales")
    if scales is None or len(scales) == 0:
        scale, zp = details.get("quantization", (0.0, 0))
        return QuantParams(float(scale), int(zp)) if scale else None
    return QuantParams(float(scales[0]), int(qp["zero_points"][0]))


class ModelRunner:
    """One model on one interpreter, taking and giving real (float) values.

    Inputs are quantised with the model's own input scale and zero point, outputs dequantised
    with its output parameters, exactly as the generated sketch code does.
    """

    def __init__(self, model: bytes | str | os.PathLike[str], backend: str | None = None,
                 arena_size: int | None = None) -> None:
        self.model_bytes = read_model_bytes(model)
        self.backend = backend or default_backend()
        if self.backend not in BACKENDS:
            raise ValueError(f"unknown backend {self.backend!r}; choose one of {BACKENDS}")
        if self.backend == TFLM:
            if not tflm_available():
                raise RuntimeUnavailable("the TFLM interpreter ('pip install tflite-micro', Linux x86_64) is not installed")
            from tflite_micro.python.tflite_micro import runtime as tflm

            size = arena_size or max(len(self.model_bytes) * 10, 64 * 1024)
            with capture_stderr_fd() as log:
                try:
                    self._tflm = tflm.Interpreter.from_bytes(self.model_bytes, arena_size=size)
                except RuntimeError as e:
                    detail = log.read_text(errors="replace").strip()
                    raise ModelLoadError(f"TFLM could not load the model: {e}. {detail}") from None
            log.unlink(missing_ok=True)
            in_d, out_d = self._tflm.get_input_details(0), self._tflm.get_output_details(0)
        else:
            from ai_edge_litert.interpreter import Interpreter, OpResolverType

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                # Reference kernels are the closest to TFLM's (FACTS: identical or +-1 LSB).
                self._lite = Interpreter(model_content=self.model_bytes,
                                         experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
            self._lite.allocate_tensors()
            in_d, out_d = self._lite.get_input_details()[0], self._lite.get_output_details()[0]
            self._in_index, self._out_index = in_d["index"], out_d["index"]
        self.input_shape: tuple[int, ...] = tuple(int(d) for d in in_d["shape"])
        self.output_shape: tuple[int, ...] = tuple(int(d) for d in out_d["shape"])
        self.input_dtype = np.dtype(in_d["dtype"])
        self.output_dtype = np.dtype(out_d["dtype"])
        self.input_quant = _quant_from_details(in_d) if self.input_dtype.kind == "i" else None
        self.output_quant = _quant_from_details(out_d) if self.output_dtype.kind == "i" else None

    @property
    def num_outputs(self) -> int:
        """Values in the output tensor (classes, for a classifier)."""
        return int(np.prod(self.output_shape[1:]))

    def run_raw(self, x: np.ndarray) -> np.ndarray:
        """One example already in the input dtype (int8 for int8 models); raw output, batch axis dropped."""
        x = np.asarray(x, dtype=self.input_dtype).reshape(self.input_shape)
        if self.backend == TFLM:
            self._tflm.set_input(x, 0)
            self._tflm.invoke()
            return np.array(self._tflm.get_output(0)).reshape(self.output_shape[1:])
        self._lite.set_tensor(self._in_index, x)
        self._lite.invoke()
        return np.array(self._lite.get_tensor(self._out_index)).reshape(self.output_shape[1:])

    def to_input(self, x: np.ndarray) -> np.ndarray:
        """Real values to what the input tensor holds (quantised for an int8 model)."""
        if self.input_quant is not None:
            return quantize(x, self.input_quant, self.input_dtype)
        return np.asarray(x, dtype=self.input_dtype)

    def from_output(self, y: np.ndarray) -> np.ndarray:
        """What the output tensor holds to real values."""
        if self.output_quant is not None:
            return dequantize(y, self.output_quant)
        return np.asarray(y, dtype=np.float32)

    def predict_raw(self, xs: np.ndarray, progress: bool = False, desc: str = "") -> np.ndarray:
        """A batch of real-valued inputs; raw (integer, for int8) outputs, one row per example."""
        xs = np.asarray(xs)
        rows = np.empty((len(xs), self.num_outputs), dtype=self.output_dtype)
        it: Any = range(len(xs))
        if progress:
            from tqdm.auto import tqdm

            it = tqdm(it, desc=desc or f"{self.backend} inference", unit="ex", leave=False)
        for i in it:
            rows[i] = self.run_raw(self.to_input(xs[i])).reshape(-1)
        return rows

    def predict(self, xs: np.ndarray, progress: bool = False, desc: str = "") -> np.ndarray:
        """A batch of real-valued inputs; dequantised outputs (N, classes) as float32."""
        return self.from_output(self.predict_raw(xs, progress=progress, desc=desc))


@dataclasses.dataclass(frozen=True)
class ArenaMeasurement:
    """The smallest tensor arena TFLM accepted for a model, and how that was found."""

    arena_bytes: int
    """Smallest arena size (bytes, 16-byte steps) with which TFLM allocated and ran the model."""
    method: str
    """How it was measured, in words, for reports."""


def measure_arena(model: bytes | str | os.PathLike[str], upper: int = 4 * 1024 * 1024) -> ArenaMeasurement:
    """Find the smallest arena with which the TFLM interpreter allocates and invokes the model."""
    data = read_model_bytes(model)
    if not tflm_available():
        raise RuntimeUnavailable("measuring the arena needs the TFLM interpreter ('pip install tflite-micro', Linux x86_64)")
    from tflite_micro.python.tflite_micro import runtime as tflm

    def fits(size: int) -> bool:
        with capture_stderr_fd() as log:
            try:
                it = tflm.Interpreter.from_bytes(data, arena_size=size)
                d = it.get_input_details(0)
                it.set_input(np.zeros(d["shape"], dtype=d["dtype"]), 0)
                it.invoke()
                ok = True
            except RuntimeError:
                ok = False
            except Exception as e:  # a damaged flatbuffer fails inside the wrapper in other ways
                raise ModelLoadError(f"TFLM could not read the model ({type(e).__name__}: {e})") from None
        log.unlink(missing_ok=True)
        return ok

    if not fits(upper):
        raise ModelLoadError(f"TFLM could not run the model even with a {upper}-byte arena")
    lo, hi = 0, upper // 16  # in 16-byte units: hi fits, lo does not
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if fits(mid * 16):
            hi = mid
        else:
            lo = mid
    return ArenaMeasurement(
        arena_bytes=hi * 16,
        method=("bisection on the tflite-micro Python interpreter (64-bit host): smallest arena, in "
                "16-byte steps, that allocates the tensors and runs one inference; a 32-bit Cortex-M "
                "needs slightly less for the interpreter's own structures"),
    )
