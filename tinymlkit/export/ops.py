"""What the Arduino TFLM library the kit pins can run: its op registrations and the op versions its kernels implement.

Which library, and why
----------------------
The kit pins **Chirale_TensorFlowLite 2.0.0** (Arduino Library Manager; github.com/spaziochirale/
Chirale_TensorFlowLite, released July 2024). The other candidates:

- *Arduino_TensorFlowLite* in the Library Manager is frozen at 2.4.0-ALPHA (a 2020-21 TFLM). Its
  successor, tensorflow/tflite-micro-arduino-examples, was never published to the Library Manager and
  was archived in February 2025 (last TFLM sync December 2023); a ``sketch.yaml`` profile cannot pin it.
- *Harvard_TinyMLx* 1.2.4-Alpha (the edX course's library) bundles "a fork of the TensorFlow_Lite
  library version 2.4.0-Alpha" (its library.properties), so it carries the old TFLM too, and putting it
  beside another TFLM library in one sketch would give two copies of every TFLM header.
- *Chirale_TensorFlowLite* 2.0.0 is in the Library Manager (so ``arduino-cli compile --profile`` can pin
  it), declares ``mbed_nano`` (the Nano 33 BLE Sense core), and is a 2024 regeneration of TFLM with
  the CMSIS-NN optimised kernels. Its header is ``Chirale_TensorFlowLite.h``.

How the version table was made
------------------------------
TFLM ignores operator versions when it looks an op up: ``MicroOpResolver::FindOp(op, version)``
"disregards the version parameter" (tensorflow/lite/micro/micro_op_resolver.h in that library). A
model with an op version the kernels do not implement therefore loads, and then fails in the
kernel's Prepare (a type check) or, worse, runs a feature the kernel ignores. So "supported" here
means: the kernel sources in Chirale_TensorFlowLite 2.0.0 (``src/tensorflow/lite/micro/kernels/``,
the ``cmsis_nn/`` variants where they exist) handle the feature that TensorFlow's op-version rules
(tensorflow/lite/tools/versioning/op_version.cc, ``GetBuiltinOperatorVersion``) attach to that
version: a tensor type (int8, int16, int4 weights), hybrid float/int8 kernels (never in TFLM),
per-channel quantisation, sparsity, or an option such as dilation. Each entry's note says which
versions mean what. Only versions *newer* than the highest implemented one are reported: older
numbers were not always given by today's rules (``person_detect.tflite`` is a full-int8 model whose
CONV_2D carries version 2, today's "hybrid" number, and TFLM runs it), and TFLM's kernels decide by
tensor types, not by the number. Ops not in the table can still be registered (``RESOLVER_METHODS``)
but their versions are not checked.
"""
from __future__ import annotations

import dataclasses

__all__ = [
    "PinnedLibrary",
    "PINNED_LIBRARY",
    "OpSupport",
    "OP_SUPPORT",
    "RESOLVER_METHODS",
    "METHOD_FOR_OP",
    "version_problem",
]


@dataclasses.dataclass(frozen=True)
class PinnedLibrary:
    """The Arduino library that carries TFLM into the kit's sketches."""

    name: str
    """Library Manager name, as written in ``sketch.yaml``."""
    version: str
    """Pinned release."""
    header: str
    """Header a sketch includes."""
    tflm: str
    """Which TFLM the library carries."""
    source: str
    """Where the facts about the library come from."""


PINNED_LIBRARY = PinnedLibrary(
    name="Chirale_TensorFlowLite",
    version="2.0.0",
    header="Chirale_TensorFlowLite.h",
    tflm=("TFLM regenerated from the tflite-micro main branch in 2024 (the library's README: "
          "'regenerated from main TFLite Micro Library'), with CMSIS-NN kernels"),
    source="github.com/spaziochirale/Chirale_TensorFlowLite, tag v2.0.0 (library.properties, README, src/)",
)


@dataclasses.dataclass(frozen=True)
class OpSupport:
    """Which versions of one builtin op the pinned library's kernel implements."""

    max_version: int
    """Highest op version whose defining feature the kernel handles."""
    note: str
    """What the versions mean (op_version.cc) and which of them the kernel implements."""


def _s(max_version: int, note: str) -> OpSupport:
    return OpSupport(max_version, note)


OP_SUPPORT: dict[str, OpSupport] = {
    "CONV_2D": _s(7, "v1 float32, v3 int8, v4 int16 activations, v7 int4 weights; v2/v5 hybrid "
                  "(float in, int8 weights), v6 grouped and v8 int16 with explicit bias type are not implemented"),
    "DEPTHWISE_CONV_2D": _s(7, "v1 float32, v2 dilation, v3 int8, v5 int16, v7 int4 weights; "
                            "v4/v6 hybrid are not implemented"),
    "FULLY_CONNECTED": _s(10, "v1 float32, v4 int8, v5 keep_num_dims (TFLM takes the output "
                          "shape from the model), v6 no bias, v7 int16, v10 int4 weights; v2 shuffled weights, "
                          "v3/v9/v12 hybrid, v8 sparse and v11 int16 with explicit bias type are not implemented"),
    "SOFTMAX": _s(3, "v1 float32, v2 int8, v3 int16"),
    "RESHAPE": _s(1, "one version"),
    "AVERAGE_POOL_2D": _s(2, "v1 float32, v2 int8; v3 int16 is not implemented by the CMSIS-NN pooling kernel"),
    "MAX_POOL_2D": _s(2, "v1 float32, v2 int8; v3 int16 is not implemented by the CMSIS-NN pooling kernel"),
    "QUANTIZE": _s(2, "v1 int8 output, v2 int16 output; v3 per-channel and v4 int4 are not implemented"),
    "DEQUANTIZE": _s(3, "v1 uint8, v2 int8, v3 int16; v5 per-channel and v6 int4 are not implemented"),
    "RELU": _s(2, "v1 float32, v2 int8; v3 int16 is not implemented"),
    "RELU6": _s(2, "v1 float32, v2 int8; v3 int16 is not implemented"),
    "LOGISTIC": _s(3, "v1 float32, v2 int8, v3 int16"),
    "TANH": _s(3, "v1 float32, v2 int8, v3 int16"),
    "ADD": _s(3, "v1 float32, v2 int8, v3 int16; v4 int64 and v5 unquantised int16 are not implemented"),
    "MUL": _s(4, "v1 float32, v2 int8, v3 rescale >= 1, v4 int16; v5 int64 and later are not implemented"),
    "MEAN": _s(3, "v1 float32, v2 int8, v3 int16"),
    "PAD": _s(3, "v1 float32, v2 int8, v3 int16; v4 (more than 4 dimensions) is not implemented"),
    "CONCATENATION": _s(3, "v1 float32, v2 int8, v3 int16; v4 uint32 is not implemented"),
    "SHAPE": _s(1, "one version"),
    "STRIDED_SLICE": _s(4, "v1 float32, v2 int8, v3 bool, v4 five dimensions; v5 string, v6 "
                        "ellipsis/new-axis masks and later are not implemented"),
    "PACK": _s(2, "v1 float32/int32, v2 int8; v3 int16 and v4 uint32 are not implemented"),
}
"""Supported versions of the ops the course's models use (see the module docstring for the method)."""

RESOLVER_METHODS: dict[str, str] = {
    "AddAbs": "ABS", "AddAdd": "ADD", "AddAddN": "ADD_N", "AddArgMax": "ARG_MAX", "AddArgMin": "ARG_MIN",
    "AddAssignVariable": "ASSIGN_VARIABLE", "AddAveragePool2D": "AVERAGE_POOL_2D",
    "AddBatchToSpaceNd": "BATCH_TO_SPACE_ND", "AddBroadcastArgs": "BROADCAST_ARGS",
    "AddBroadcastTo": "BROADCAST_TO", "AddCallOnce": "CALL_ONCE", "AddCast": "CAST", "AddCeil": "CEIL",
    "AddCircularBuffer": "CUSTOM:CIRCULAR_BUFFER", "AddConcatenation": "CONCATENATION", "AddConv2D": "CONV_2D",
    "AddCos": "COS", "AddCumSum": "CUMSUM", "AddDepthToSpace": "DEPTH_TO_SPACE",
    "AddDepthwiseConv2D": "DEPTHWISE_CONV_2D", "AddDequantize": "DEQUANTIZE",
    "AddDetectionPostprocess": "CUSTOM:TFLite_Detection_PostProcess", "AddDiv": "DIV", "AddElu": "ELU",
    "AddEqual": "EQUAL", "AddEthosU": "CUSTOM:ethos-u", "AddExp": "EXP", "AddExpandDims": "EXPAND_DIMS",
    "AddFill": "FILL", "AddFloor": "FLOOR", "AddFloorDiv": "FLOOR_DIV", "AddFloorMod": "FLOOR_MOD",
    "AddFullyConnected": "FULLY_CONNECTED", "AddGather": "GATHER", "AddGatherNd": "GATHER_ND",
    "AddGreater": "GREATER", "AddGreaterEqual": "GREATER_EQUAL", "AddHardSwish": "HARD_SWISH", "AddIf": "IF",
    "AddL2Normalization": "L2_NORMALIZATION", "AddL2Pool2D": "L2_POOL_2D", "AddLeakyRelu": "LEAKY_RELU",
    "AddLess": "LESS", "AddLessEqual": "LESS_EQUAL", "AddLog": "LOG", "AddLogicalAnd": "LOGICAL_AND",
    "AddLogicalNot": "LOGICAL_NOT", "AddLogicalOr": "LOGICAL_OR", "AddLogistic": "LOGISTIC",
    "AddLogSoftmax": "LOG_SOFTMAX", "AddMaximum": "MAXIMUM", "AddMaxPool2D": "MAX_POOL_2D",
    "AddMirrorPad": "MIRROR_PAD", "AddMean": "MEAN", "AddMinimum": "MINIMUM", "AddMul": "MUL", "AddNeg": "NEG",
    "AddNotEqual": "NOT_EQUAL", "AddPack": "PACK", "AddPad": "PAD", "AddPadV2": "PADV2", "AddPrelu": "PRELU",
    "AddQuantize": "QUANTIZE", "AddReadVariable": "READ_VARIABLE", "AddReduceMax": "REDUCE_MAX",
    "AddRelu": "RELU", "AddRelu6": "RELU6", "AddReshape": "RESHAPE", "AddResizeBilinear": "RESIZE_BILINEAR",
    "AddResizeNearestNeighbor": "RESIZE_NEAREST_NEIGHBOR", "AddRound": "ROUND", "AddRsqrt": "RSQRT",
    "AddSelectV2": "SELECT_V2", "AddShape": "SHAPE", "AddSin": "SIN", "AddSlice": "SLICE", "AddSoftmax": "SOFTMAX",
    "AddSpaceToBatchNd": "SPACE_TO_BATCH_ND", "AddSpaceToDepth": "SPACE_TO_DEPTH", "AddSplit": "SPLIT",
    "AddSplitV": "SPLIT_V", "AddSqueeze": "SQUEEZE", "AddSqrt": "SQRT", "AddSquare": "SQUARE",
    "AddSquaredDifference": "SQUARED_DIFFERENCE", "AddStridedSlice": "STRIDED_SLICE", "AddSub": "SUB",
    "AddSum": "SUM", "AddSvdf": "SVDF", "AddTanh": "TANH", "AddTransposeConv": "TRANSPOSE_CONV",
    "AddTranspose": "TRANSPOSE", "AddUnpack": "UNPACK",
    "AddUnidirectionalSequenceLSTM": "UNIDIRECTIONAL_SEQUENCE_LSTM", "AddVarHandle": "VAR_HANDLE",
    "AddWhile": "WHILE", "AddZerosLike": "ZEROS_LIKE",
}
"""``MicroMutableOpResolver`` methods of the pinned library and the op each registers
(src/tensorflow/lite/micro/micro_mutable_op_resolver.h, each method's ``AddBuiltin(BuiltinOperator_...)``)."""

METHOD_FOR_OP: dict[str, str] = {op: method for method, op in RESOLVER_METHODS.items()}
"""The resolver method that registers each op."""


def version_problem(op: str, version: int) -> str | None:
    """Why the pinned library cannot run this op version, or None when it can (or the op is not in the table)."""
    lib = f"{PINNED_LIBRARY.name} {PINNED_LIBRARY.version}"
    if op not in METHOD_FOR_OP:
        return f"{op} is not an op {lib} can register (no MicroMutableOpResolver method for it)"
    support = OP_SUPPORT.get(op)
    if support is None or version <= support.max_version:
        return None
    return (f"{op} version {version} is newer than the TFLM in {lib} implements (up to version "
            f"{support.max_version}: {support.note})")
