"""Read a .tflite flatbuffer with the schema that ships with tflite-micro (or TensorFlow).

No hand-written parser: the generated ``schema_py_generated`` module does the reading. This module
gives the few facts the exporter and the checkers need; ``tinymlkit.inspect`` builds on it.
"""
from __future__ import annotations

import dataclasses
import os
from typing import Any

from .runtime import ModelLoadError, read_model_bytes

__all__ = ["schema", "OpCode", "TensorInfo", "TfliteModel", "read_tflite"]


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


def read_tflite(model: bytes | str | os.PathLike[str]) -> TfliteModel:
    """Parse a .tflite file or bytes; a clear ``ModelLoadError`` for anything else."""
    data = read_model_bytes(model)
    where = "<model bytes>" if isinstance(model, (bytes, bytearray)) else str(model)
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
                name = f"CUSTOM:{(oc.CustomCode() or b'').decode()}"
            opcodes.append(OpCode(name, int(oc.Version())))
        if m.SubgraphsLength() < 1:
            raise ModelLoadError(f"{where}: the model has no subgraph")
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
    except Exception as e:  # a damaged flatbuffer fails in many ways inside the generated reader
        raise ModelLoadError(f"{where}: the model's flatbuffer could not be read ({type(e).__name__}: {e})") from None
