"""Read a .tflite flatbuffer with the schema that ships with tflite-micro (or TensorFlow).

No hand-written parser: the generated ``schema_py_generated`` module does the reading. This module
gives the few facts the exporter and the checkers need; ``tinymlkit.inspect`` builds on it.
"""
from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path
from typing import Any

from .errors import KitError

__all__ = ["schema", "OpCode", "TensorInfo", "TfliteModel", "read_tflite", "ModelLoadError", "read_model_bytes",
           "model_name", "validate_model", "prod", "config_mismatch", "require_model_fits_config", "MAX_MODEL_BYTES",
           "SOFTMAX_MIN_INPUT_SCALE", "ELEMENTWISE_LEFT_SHIFT", "tflm_prepare_problem", "require_tflm_can_prepare"]

MAX_MODEL_BYTES = 256 * 1024 * 1024
"""Largest .tflite the kit reads: far beyond any microcontroller model, and bounded so a stray file is refused."""

_MAX_DIM = 1 << 24
_MAX_ELEMENTS = 1 << 31


class ModelLoadError(KitError, ValueError):
    """A file that is not a model an interpreter can run."""


def prod(xs: Any) -> int:
    """Product of a shape's dimensions (1 for a scalar's empty shape)."""
    return int(math.prod(int(x) for x in xs)) if len(xs) else 1


def model_name(model: bytes | str | os.PathLike[str], name: str | None = None) -> str:
    """What to call a model in messages: the given name, else its path (bytes have none)."""
    if name:
        return name
    return "<model bytes>" if isinstance(model, (bytes, bytearray, memoryview)) else str(model)


def read_model_bytes(model: bytes | str | os.PathLike[str], name: str | None = None) -> bytes:
    """Model bytes from bytes or a path, with a clear error for a missing, huge or non-TFLite file."""
    where = model_name(model, name)
    if isinstance(model, (bytes, bytearray, memoryview)):
        data = bytes(model)
    else:
        path = Path(model)
        if path.is_dir():
            raise ModelLoadError(f"{where}: is a folder; give the .tflite model file")
        if not path.is_file():
            raise ModelLoadError(f"{where}: no such model file")
        try:
            if path.stat().st_size > MAX_MODEL_BYTES:
                raise ModelLoadError(f"{where}: larger than {MAX_MODEL_BYTES >> 20} MB; not a microcontroller model")
            data = path.read_bytes()
        except OSError as e:
            raise ModelLoadError(f"{where}: cannot read the model file ({e.strerror or e})") from None
    if len(data) > MAX_MODEL_BYTES:
        raise ModelLoadError(f"{where}: larger than {MAX_MODEL_BYTES >> 20} MB; not a microcontroller model")
    # A .tflite flatbuffer carries the identifier "TFL3" at byte 4.
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise ModelLoadError(f"{where}: not a TFLite model (no 'TFL3' flatbuffer identifier)")
    return data


def schema() -> Any:
    """The generated flatbuffer schema module (tflite-micro's, else TensorFlow's)."""
    try:
        from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as s
    except Exception:
        from .tf_quiet import load_tensorflow
        load_tensorflow()
        from tensorflow.lite.python import schema_py_generated as s  # type: ignore[no-redef]
    return s


def _enum_names(enum_cls: Any) -> dict[int, str]:
    return {v: k for k, v in vars(enum_cls).items() if not k.startswith("_") and isinstance(v, int)}


@dataclasses.dataclass(frozen=True)
class OpCode:
    """One operator code of the model's table."""

    name: str
    """TFLite builtin name, such as CONV_2D (or the custom code for a custom op)."""
    version: int
    """Operator version the converter wrote; the board's runtime must support it."""


@dataclasses.dataclass(frozen=True)
class TensorInfo:
    """A tensor of the model's main subgraph."""

    index: int
    """Index in the subgraph's tensor table."""
    name: str
    """Tensor name the converter gave."""
    shape: tuple[int, ...]
    """Shape (batch first for activations)."""
    dtype: str
    """TFLite type name in lower case, such as int8 or float32."""
    scales: tuple[float, ...]
    """Quantisation scales (one per channel for per-channel weights); empty if not quantised."""
    zero_points: tuple[int, ...]
    """Quantisation zero points, matching ``scales``."""
    has_data: bool
    """True for constants stored in the flatbuffer (weights, biases)."""
    nbytes: int
    """Bytes of the stored data (0 for activations)."""


@dataclasses.dataclass(frozen=True)
class TfliteModel:
    """The facts of a .tflite file that deployment depends on."""

    size: int
    """File size in bytes (what the board's flash holds)."""
    opcodes: tuple[OpCode, ...]
    """Distinct operator codes, in table order."""
    operators: tuple[tuple[str, int, tuple[int, ...], tuple[int, ...]], ...]
    """Operators of the main subgraph in execution order: (name, opcode index, inputs, outputs)."""
    tensors: tuple[TensorInfo, ...]
    """Tensors of the main subgraph."""
    inputs: tuple[int, ...]
    """Tensor indices of the subgraph inputs."""
    outputs: tuple[int, ...]
    """Tensor indices of the subgraph outputs."""
    subgraphs: int
    """Number of subgraphs."""

    @property
    def op_names(self) -> tuple[str, ...]:
        """Distinct op names, sorted: what a sketch's resolver must register."""
        return tuple(sorted({o.name for o in self.opcodes}))

    @property
    def input(self) -> TensorInfo:
        """The first input tensor."""
        return self.tensors[self.inputs[0]]

    @property
    def output(self) -> TensorInfo:
        """The first output tensor."""
        return self.tensors[self.outputs[0]]


_DTYPE_BITS = {"float32": 32, "float16": 16, "float64": 64, "int32": 32, "uint32": 32, "int64": 64,
               "uint64": 64, "int16": 16, "uint16": 16, "int8": 8, "uint8": 8, "bool": 8, "int4": 4,
               "complex64": 64, "complex128": 128}


def _length(n: int, data: bytes, what: str, where: str) -> int:
    # Every vector element takes at least 4 bytes (or 1 for byte vectors): a damaged length would
    # otherwise make the checks below loop for hours over garbage.
    if n < 0 or n > len(data):
        raise ModelLoadError(f"{where}: the model is damaged ({what} claims {n} entries in a {len(data)}-byte file)")
    return n


def validate_model(data: bytes, where: str = "<model bytes>") -> None:
    """Check a flatbuffer fully before any interpreter sees it; a ``ModelLoadError`` names what is wrong.

    Checks: at least one subgraph with inputs and outputs; every opcode, tensor and buffer index in
    range; buffer data (inline or after the flatbuffer) inside the file and as large as its tensor's
    shape says; shapes without negative or absurd dimensions; input and output quantisation finite.
    An index out of range makes TFLM read outside the model (SIGSEGV, or garbage that runs).
    """
    s = schema()
    type_names = _enum_names(s.TensorType)
    op_names = _enum_names(s.BuiltinOperator)

    def bad(msg: str) -> ModelLoadError:
        return ModelLoadError(f"{where}: the model is damaged: {msg}; export it again from the training run")

    try:
        m = s.Model.GetRootAsModel(data, 0)
        n_codes = _length(m.OperatorCodesLength(), data, "the opcode table", where)
        n_buffers = _length(m.BuffersLength(), data, "the buffer table", where)
        n_graphs = _length(m.SubgraphsLength(), data, "the subgraph table", where)
        if n_graphs < 1:
            raise ModelLoadError(f"{where}: the model has no subgraph (nothing to run); export it again")
        for i in range(n_codes):
            oc = m.OperatorCodes(i)
            code = max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())
            if code not in op_names:
                raise bad(f"opcode {i} has unknown builtin code {code}")
        buffer_bytes: list[int] = []
        for b_i in range(n_buffers):
            buf = m.Buffers(b_i)
            if buf is None:
                raise bad(f"buffer {b_i} is missing")
            n = 0
            if buf.DataLength():
                arr = buf.DataAsNumpy()  # raises when the vector runs past the end of the file
                n = int(arr.size)
            offset, size = int(buf.Offset()), int(buf.Size())
            if offset > 1 or size:
                if offset < 0 or size < 0 or offset + size > len(data):
                    raise bad(f"buffer {b_i} claims bytes {offset}..{offset + size} of a {len(data)}-byte file")
                n = max(n, size)
            buffer_bytes.append(n)
        for g_i in range(n_graphs):
            g = m.Subgraphs(g_i)
            n_t = _length(g.TensorsLength(), data, f"subgraph {g_i}'s tensor table", where)
            for t_i in range(n_t):
                t = g.Tensors(t_i)
                b = int(t.Buffer())
                if b < 0 or b >= max(n_buffers, 1):
                    raise bad(f"tensor {t_i} uses buffer {b}, but the model has {n_buffers}")
                if t.Type() not in type_names:
                    raise bad(f"tensor {t_i} has unknown type {t.Type()}")
                shape = [int(d) for d in t.ShapeAsNumpy()] if t.ShapeLength() else []
                if len(shape) > 8 or any(d < 0 or d > _MAX_DIM for d in shape) or prod(shape) > _MAX_ELEMENTS:
                    raise bad(f"tensor {t_i} has the impossible shape {shape}")
                dtype = type_names[t.Type()].lower()
                bits = _DTYPE_BITS.get(dtype)
                if b < n_buffers and buffer_bytes[b] and bits is not None:
                    need = (prod(shape) * bits + 7) // 8
                    if buffer_bytes[b] < need:
                        raise bad(f"tensor {t_i} ({'x'.join(map(str, shape)) or 'scalar'} {dtype}) needs {need} "
                                  f"bytes but its buffer {b} holds {buffer_bytes[b]}")
                q = t.Quantization()
                if q is not None and q.ScaleLength():
                    _length(q.ScaleLength(), data, f"tensor {t_i}'s scales", where)
                    if not all(math.isfinite(float(v)) for v in q.ScaleAsNumpy()):
                        raise bad(f"tensor {t_i} has a quantisation scale that is not a finite number")
            n_ops = _length(g.OperatorsLength(), data, f"subgraph {g_i}'s operator list", where)
            for o_i in range(n_ops):
                op = g.Operators(o_i)
                idx = int(op.OpcodeIndex())
                if idx < 0 or idx >= n_codes:
                    raise bad(f"operator {o_i} uses opcode {idx}, but the model has {n_codes}")
                for what, n, get in (("input", op.InputsLength(), op.InputsAsNumpy),
                                     ("output", op.OutputsLength(), op.OutputsAsNumpy),
                                     ("intermediate", op.IntermediatesLength(), op.IntermediatesAsNumpy)):
                    if _length(n, data, f"operator {o_i}'s {what}s", where):
                        for v in get():
                            if not -1 <= int(v) < n_t or (what == "output" and int(v) < 0):
                                raise bad(f"operator {o_i} ({op_names.get(max(m.OperatorCodes(idx).BuiltinCode(), m.OperatorCodes(idx).DeprecatedBuiltinCode()), '?')}) "
                                          f"names {what} tensor {int(v)}, but subgraph {g_i} has {n_t}")
            ins = [int(v) for v in g.InputsAsNumpy()] if _length(g.InputsLength(), data, "inputs", where) else []
            outs = [int(v) for v in g.OutputsAsNumpy()] if _length(g.OutputsLength(), data, "outputs", where) else []
            if g_i == 0 and (not ins or not outs):
                raise bad("the main subgraph has no " + ("inputs" if not ins else "outputs"))
            for v in ins + outs:
                if not 0 <= v < n_t:
                    raise bad(f"subgraph {g_i} names tensor {v} as an input or output, but it has {n_t}")
    except ModelLoadError:
        raise
    except Exception as e:  # a damaged flatbuffer fails in many ways inside the generated reader
        raise ModelLoadError(f"{where}: the model's flatbuffer could not be read ({type(e).__name__}: {e}); "
                             "the file is damaged or not a model") from None


SOFTMAX_MIN_INPUT_SCALE = 2.0 ** -26
"""Smallest input scale (times beta) of an int8 SOFTMAX that TFLM prepares: below it TFLM aborts the program."""

ELEMENTWISE_LEFT_SHIFT = {"int8": 20, "int16": 15}
"""The left shift TFLM's quantised ADD and SUB give their inputs, by output type: the output multiplier
``2 * max(input scales) / (2**shift * output scale)`` must stay below 1."""


def _scale(t: Any) -> float:
    """A tensor's first quantisation scale, 0.0 where it has none (what TFLM's ``params.scale`` holds then)."""
    q = t.Quantization()
    return float(q.Scale(0)) if q is not None and q.ScaleLength() else 0.0


def _elementwise_problem(op_name: str, s1: float, s2: float, s_out: float, shift: int) -> bool:
    """True when TFLM's int8/int16 ADD or SUB would abort preparing these scales.

    Both compute ``s_i / (2 * max(s1, s2))`` for each input and ``2 * max(s1, s2) / (2**shift * s_out)``
    for the output and pass each to ``QuantizeMultiplierSmallerThanOneExp``, whose ``TFLITE_CHECK``s
    need it strictly between 0 and 1 (NaN fails both). ADD works in double precision, SUB in float.
    """
    import numpy as np

    ft = np.float32 if op_name == "SUB" else np.float64
    with np.errstate(all="ignore"):
        a, b, o = ft(s1), ft(s2), ft(s_out)
        twice = ft(2) * max(a, b)
        multipliers = (np.float64(a / twice), np.float64(b / twice), np.float64(twice / (ft(2 ** shift) * o)))
    return not all(0.0 < m < 1.0 for m in multipliers)


def tflm_prepare_problem(data: bytes, where: str = "<model bytes>") -> str | None:
    """Why TFLM would abort the program preparing this validated model, in words, or None.

    TFLM checks some quantisation parameters with ``TFLITE_CHECK``, which calls ``abort()`` instead of
    returning an error: the Python process dies with no traceback, the board stops in
    ``AllocateTensors``. Checked here (read in TFLM's kernels and each shown to abort in a test):

    * an int8 (or uint8) SOFTMAX computes its input multiplier as ``beta * input_scale * 2**26`` and
      requires it above 1 (``QuantizeMultiplierGreaterThanOne``). The converter gives the logits such a
      tiny scale (about 7.8e-9) when they were the same on every calibration example, e.g. an untrained
      model whose activations die out layer by layer;
    * an int8 or int16 ADD or SUB needs both input scales above zero and twice the larger one below
      ``2**20`` (int16: ``2**15``) times the output scale (``QuantizeMultiplierSmallerThanOneExp``):
      a branch that was constant on every calibration example gets a tiny scale too.

    LOGISTIC and TANH were tried with every kind of scale edit and never abort; other kernels that
    call these functions (ADD_N, CUMSUM, SQUARED_DIFFERENCE, comparisons) are not used by the kit's models.
    """
    s = schema()
    m = s.Model.GetRootAsModel(data, 0)
    quantised = {s.TensorType.INT8, s.TensorType.UINT8}
    shifts = {s.TensorType.INT8: ELEMENTWISE_LEFT_SHIFT["int8"], s.TensorType.INT16: ELEMENTWISE_LEFT_SHIFT["int16"]}
    elementwise = {s.BuiltinOperator.ADD: "ADD", s.BuiltinOperator.SUB: "SUB"}
    constant_hint = ("layer before it gave the same value for every calibration example (an untrained model, "
                     "or activations that die out): train the model, or calibrate it on real inputs")
    for g_i in range(m.SubgraphsLength()):
        g = m.Subgraphs(g_i)
        for o_i in range(g.OperatorsLength()):
            op = g.Operators(o_i)
            oc = m.OperatorCodes(op.OpcodeIndex())
            code = max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())
            if code in elementwise and op.InputsLength() >= 2 and op.OutputsLength() >= 1:
                out = g.Tensors(int(op.Outputs(0)))
                if out.Type() not in shifts:
                    continue
                name = elementwise[code]
                s1, s2 = (_scale(g.Tensors(int(op.Inputs(i)))) for i in (0, 1))
                s_out = _scale(out)
                if _elementwise_problem(name, s1, s2, s_out, shifts[out.Type()]):
                    return (f"{where}: TFLM cannot run this model: its {name} (operator {o_i}) has the input scales "
                            f"{s1:.3g} and {s2:.3g} and the output scale {s_out:.3g}; TFLM's quantised {name} needs both "
                            f"input scales above 0 and twice the larger below 2^{shifts[out.Type()]} times the output "
                            f"scale, and aborts preparing it otherwise (on the board: a stop in AllocateTensors). "
                            f"Usually the {constant_hint}")
                continue
            if code != s.BuiltinOperator.SOFTMAX or not op.InputsLength():
                continue
            t = g.Tensors(int(op.Inputs(0)))
            q = t.Quantization()
            if t.Type() not in quantised or q is None or not q.ScaleLength():
                continue
            beta = 0.0  # what TFLM's parser leaves when the options table is missing
            if op.BuiltinOptionsType() == s.BuiltinOptions.SoftmaxOptions:
                table = op.BuiltinOptions()
                opts = s.SoftmaxOptions()
                opts.Init(table.Bytes, table.Pos)
                beta = float(opts.Beta())
            scale = float(q.Scale(0))
            if not beta * scale > SOFTMAX_MIN_INPUT_SCALE:
                return (f"{where}: TFLM cannot run this model: its SOFTMAX (operator {o_i}) has the input scale {scale:.3g}"
                        f"{f' with beta {beta:g}' if beta != 1.0 else ''}, below the 2^-26 (1.49e-08) its int8 kernel "
                        f"accepts; TFLM aborts preparing it (on the board: a stop in AllocateTensors). The "
                        f"{constant_hint}")
    return None


def require_tflm_can_prepare(data: bytes, where: str = "<model bytes>") -> None:
    """A ``ModelLoadError`` when TFLM would abort preparing the model (see :func:`tflm_prepare_problem`)."""
    problem = tflm_prepare_problem(data, where)
    if problem:
        raise ModelLoadError(problem)


def read_tflite(model: bytes | str | os.PathLike[str], name: str | None = None) -> TfliteModel:
    """Parse and fully validate a .tflite file or bytes; a clear ``ModelLoadError`` for anything else."""
    where = model_name(model, name)
    data = read_model_bytes(model, where)
    validate_model(data, where)
    s = schema()
    op_names, type_names = _enum_names(s.BuiltinOperator), _enum_names(s.TensorType)
    try:
        m = s.Model.GetRootAsModel(data, 0)
        opcodes = []
        for i in range(m.OperatorCodesLength()):
            oc = m.OperatorCodes(i)
            code = max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())
            name = op_names.get(code, f"BUILTIN_{code}")
            if name == "CUSTOM":
                name = f"CUSTOM:{(oc.CustomCode() or b'').decode(errors='replace')}"
            opcodes.append(OpCode(name, int(oc.Version())))
        g = m.Subgraphs(0)
        tensors = []
        for t_i in range(g.TensorsLength()):
            t = g.Tensors(t_i)
            q = t.Quantization()
            scales = tuple(float(v) for v in q.ScaleAsNumpy()) if q is not None and q.ScaleLength() else ()
            zps = tuple(int(v) for v in q.ZeroPointAsNumpy()) if q is not None and q.ZeroPointLength() else ()
            buf = m.Buffers(t.Buffer()) if t.Buffer() < m.BuffersLength() else None
            nbytes = buf.DataLength() if buf is not None else 0
            if nbytes == 0 and buf is not None and buf.Size():  # large models keep data past the flatbuffer
                nbytes = int(buf.Size())
            shape = tuple(int(d) for d in t.ShapeAsNumpy()) if t.ShapeLength() else ()
            tensors.append(TensorInfo(
                index=t_i, name=(t.Name() or b"").decode(errors="replace"), shape=shape,
                dtype=type_names.get(t.Type(), str(t.Type())).lower(), scales=scales,
                zero_points=zps, has_data=nbytes > 0, nbytes=nbytes))
        operators = []
        for o_i in range(g.OperatorsLength()):
            op = g.Operators(o_i)
            idx = op.OpcodeIndex()
            operators.append((opcodes[idx].name, idx,
                              tuple(int(v) for v in op.InputsAsNumpy()) if op.InputsLength() else (),
                              tuple(int(v) for v in op.OutputsAsNumpy()) if op.OutputsLength() else ()))
        return TfliteModel(
            size=len(data), opcodes=tuple(opcodes), operators=tuple(operators), tensors=tuple(tensors),
            inputs=tuple(int(v) for v in g.InputsAsNumpy()), outputs=tuple(int(v) for v in g.OutputsAsNumpy()),
            subgraphs=m.SubgraphsLength())
    except ModelLoadError:
        raise
    except Exception as e:
        raise ModelLoadError(f"{where}: the model's flatbuffer could not be read ({type(e).__name__}: {e})") from None


def config_mismatch(model: TfliteModel, config: Any) -> str | None:
    """Why a model cannot go with a run config (another track, other labels or input size), or None."""
    n_out = prod(model.output.shape[1:])
    n_in = prod(model.input.shape[1:])
    labels = list(config.labels)
    kind = getattr(config, "kind", "?")
    if kind == "kws":
        a = config.audio
        want = a.num_frames * a.feature_bins
        what = f"{a.num_frames}x{a.feature_bins} micro features (a keyword-spotting config)"
    elif kind == "vww":
        im = config.image
        want = im.width * im.height * im.channels
        what = f"a {im.height}x{im.width}x{im.channels} image (a person-detection config)"
    else:
        return f"the config is of kind {kind!r}, which has no model input the kit knows"
    shape = "x".join(map(str, model.input.shape[1:])) or "scalar"
    if n_in != want:
        other = ""
        if kind == "kws" and len(model.input.shape) == 4 and model.input.shape[-1] in (1, 3) and n_out == 2:
            other = "; it looks like a person-detection (vww) model"
        elif kind == "vww" and n_out > 2:
            other = "; it looks like a keyword (kws) model"
        return f"the model takes {n_in} values ({shape}) but the config describes {want}: {what}{other}"
    if kind == "vww" and len(model.input.shape) == 4 and \
            list(model.input.shape[1:]) != [config.image.height, config.image.width, config.image.channels]:
        return f"the model takes a {shape} image but the config describes {what}"
    if n_out != len(labels):
        return f"the model has {n_out} outputs but the config names {len(labels)} labels {labels}"
    return None


def require_model_fits_config(model: TfliteModel, config: Any, model_where: str, config_where: str = "the config") -> None:
    """Raise a ``ModelLoadError`` naming both files when the model and the config do not belong together."""
    problem = config_mismatch(model, config)
    if problem:
        raise ModelLoadError(f"{model_where} does not match {config_where}: {problem}")
