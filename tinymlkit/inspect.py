"""Know a model before flashing it: ops, parameters, multiply-accumulates, memory, and fit on a board.

The flatbuffer is read with the schema that ships with tflite-micro (``tinymlkit.tflite_file``), the
tensor arena is measured on the TFLM interpreter (``tinymlkit.runtime.measure_arena``), and the target
figures come from ``tinymlkit.targets`` with their sources. Nothing here needs TensorFlow, so models
that ``tf.lite.Interpreter`` refuses (such as ``person_detect.tflite``) are inspected all the same.

Counting rules (the ones the course teaches):

- CONV_2D: each output value is a dot product over a kh x kw x Cin window, so
  MACs = H_out x W_out x C_out x kh x kw x Cin (Cin of the filter, so grouped convolutions count right).
- DEPTHWISE_CONV_2D: each output channel sees one input channel, so MACs = H_out x W_out x C_out x kh x kw.
- FULLY_CONNECTED: MACs = outputs x inputs (per batch row).
- AVERAGE_POOL_2D / MAX_POOL_2D: one accumulate (or compare) per window element,
  H_out x W_out x C x kh x kw.
- TRANSPOSE_CONV: every input value is scattered over a kh x kw x C_out window: H_in x W_in x Cin x kh x kw x C_out.
- Other ops (reshape, softmax, add, ...) are counted as 0 MACs.

A depthwise convolution followed by a 1x1 convolution is a depthwise separable block; for it the
report also gives the MACs a standard k x k convolution with the same input and output would need,
and the ratio, which is 1/C_out + 1/k^2.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from .runtime import ArenaMeasurement, tflm_available
from .targets import Target, get_target
from .tflite_file import ModelLoadError, TfliteModel, model_name, prod, read_model_bytes, read_tflite, schema
from .export.ops import PINNED_LIBRARY, version_problem

__all__ = [
    "TensorSummary",
    "LayerInfo",
    "SeparableBlock",
    "TargetFit",
    "ModelReport",
    "inspect_model",
    "measure_arena_isolated",
    "DTYPE_BYTES",
    "layer_rows",
    "format_report",
    "plot_layers",
]

DTYPE_BYTES: dict[str, int] = {
    "float32": 4, "float16": 2, "float64": 8, "int32": 4, "uint32": 4, "int64": 8, "uint64": 8,
    "int16": 2, "uint16": 2, "int8": 1, "uint8": 1, "bool": 1, "int4": 1, "complex64": 8,
}
"""Bytes per element of each TFLite tensor type (int4 tensors are stored one per byte in TFLM's arena)."""

_WEIGHTED = {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV"}


@dataclasses.dataclass(frozen=True)
class TensorSummary:
    """Shape and type of one operator input or output."""

    index: int
    """Tensor index in the subgraph."""
    shape: tuple[int, ...]
    """Tensor shape."""
    dtype: str
    """TFLite type name, lower case."""
    constant: bool
    """True for data stored in the model (weights, biases, shape arguments)."""

    def to_json(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {"shape": list(self.shape), "dtype": self.dtype, "constant": self.constant}


@dataclasses.dataclass(frozen=True)
class LayerInfo:
    """One operator of the model, in execution order."""

    index: int
    """Position in execution order."""
    name: str
    """TFLite builtin name, such as CONV_2D."""
    version: int
    """Operator version the converter wrote."""
    inputs: tuple[TensorSummary, ...]
    """Inputs (optional inputs that are absent are left out)."""
    outputs: tuple[TensorSummary, ...]
    """Outputs."""
    params: int
    """Weights and biases this layer stores (elements)."""
    weight_bytes: int
    """Bytes of constant data this layer reads from flash."""
    macs: int
    """Multiply-accumulates (see the module docstring for the rules)."""
    activation_bytes: int
    """Bytes of the non-constant inputs and outputs that must be in RAM while this layer runs."""

    def to_json(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {
            "index": self.index, "name": self.name, "version": self.version,
            "inputs": [t.to_json() for t in self.inputs], "outputs": [t.to_json() for t in self.outputs],
            "params": self.params, "weight_bytes": self.weight_bytes, "macs": self.macs,
            "activation_bytes": self.activation_bytes,
        }


@dataclasses.dataclass(frozen=True)
class SeparableBlock:
    """A depthwise convolution followed by a 1x1 convolution, compared with one standard convolution."""

    depthwise_index: int
    """Layer index of the depthwise convolution."""
    pointwise_index: int
    """Layer index of the 1x1 convolution."""
    kernel: tuple[int, int]
    """Depthwise kernel (kh, kw)."""
    macs: int
    """Depthwise plus pointwise MACs."""
    standard_macs: int
    """MACs of a standard convolution with the same kernel, input and output."""

    @property
    def ratio(self) -> float:
        """Separable MACs as a fraction of the standard convolution's."""
        return self.macs / self.standard_macs if self.standard_macs else 0.0

    def to_json(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {"depthwise_index": self.depthwise_index, "pointwise_index": self.pointwise_index,
                "kernel": list(self.kernel), "macs": self.macs, "standard_macs": self.standard_macs,
                "ratio": round(self.ratio, 4)}


@dataclasses.dataclass(frozen=True)
class TargetFit:
    """Whether the model fits a board, and how long an inference should take there."""

    target: Target
    """The board."""
    flash_needed: int
    """Model bytes plus the sketch's estimated flash footprint."""
    ram_needed: int | None
    """Measured arena plus the sketch's estimated static RAM; None when the arena was not measured."""
    latency_ms: float
    """MACs x cycles per MAC / clock."""
    latency_range_ms: tuple[float, float] = (0.0, 0.0)
    """The estimate's range from the low and high cycles-per-MAC figures of the sources."""

    @property
    def fits_flash(self) -> bool:
        """The model and sketch fit the flash a sketch may use."""
        return self.flash_needed <= self.target.sketch_flash_limit

    @property
    def fits_ram(self) -> bool | None:
        """The arena and the sketch's data fit RAM (None when the arena is unknown)."""
        return None if self.ram_needed is None else self.ram_needed <= self.target.sketch_ram_limit

    @property
    def fits(self) -> bool | None:
        """Both fit (None when RAM could not be judged)."""
        return None if self.fits_ram is None else bool(self.fits_flash and self.fits_ram)

    def to_json(self) -> dict[str, Any]:
        """Plain data for JSON."""
        t = self.target
        return {
            "name": t.name, "board": t.board, "mcu": t.mcu, "clock_hz": t.clock_hz,
            "fits": self.fits, "fits_flash": self.fits_flash, "fits_ram": self.fits_ram,
            "flash_needed": self.flash_needed, "flash_limit": t.sketch_flash_limit,
            "ram_needed": self.ram_needed, "ram_limit": t.sketch_ram_limit,
            "sketch_flash_bytes": t.sketch_flash_bytes, "sketch_ram_bytes": t.sketch_ram_bytes,
            "latency_ms": round(self.latency_ms, 3), "cycles_per_mac": t.cycles_per_mac,
            "latency_range_ms": [round(v, 3) for v in self.latency_range_ms],
            "cycles_per_mac_range": [t.cycles_per_mac_low, t.cycles_per_mac_high],
            "sources": {"clock": t.clock_source, "memory": t.memory_source, "limits": t.limits_source,
                        "sketch_footprint": t.footprint_source, "cycles_per_mac": t.cycles_per_mac_source},
        }


@dataclasses.dataclass(frozen=True)
class ModelReport:
    """Everything ``tinymlkit inspect`` reports about one model."""

    model: str
    """Path of the model (or ``<model bytes>``)."""
    model_bytes: int
    """Size of the .tflite file: the flash the model itself takes."""
    layers: tuple[LayerInfo, ...]
    """Operators in execution order."""
    opcodes: tuple[tuple[str, int], ...]
    """Distinct (op name, version) pairs: what a resolver must register."""
    params: int
    """Weights and biases in the model (elements)."""
    macs: int
    """Total multiply-accumulates of one inference."""
    peak_activation_bytes: int
    """Largest total of activation tensors alive at once (no in-place reuse, no scratch buffers)."""
    arena: ArenaMeasurement | None
    """Tensor arena measured on TFLM, or None when not measured."""
    arena_note: str
    """Why the arena is missing, or empty."""
    separable: tuple[SeparableBlock, ...]
    """Depthwise separable blocks found."""
    target: TargetFit | None
    """Fit on the named board, if one was asked for."""
    library_problems: tuple[str, ...]
    """Ops or op versions the pinned Arduino TFLM library cannot run."""

    @property
    def arena_bytes(self) -> int | None:
        """Measured arena in bytes, or None."""
        return self.arena.arena_bytes if self.arena else None

    def to_json(self) -> dict[str, Any]:
        """The ``inspect --json`` object (documented key by key in docs/inspect.md)."""
        return {
            "model": self.model,
            "model_bytes": self.model_bytes,
            "ops": [layer.to_json() for layer in self.layers],
            "opcodes": [{"name": n, "version": v} for n, v in self.opcodes],
            "params": self.params,
            "macs": self.macs,
            "arena_bytes": self.arena_bytes,
            "arena_method": self.arena.method if self.arena else self.arena_note,
            "peak_activation_bytes": self.peak_activation_bytes,
            "separable_blocks": [b.to_json() for b in self.separable],
            "library": {"name": PINNED_LIBRARY.name, "version": PINNED_LIBRARY.version,
                        "problems": list(self.library_problems)},
            "target": self.target.to_json() if self.target else None,
        }


def _tensor_bytes(shape: tuple[int, ...], dtype: str) -> int:
    return prod(tuple(max(d, 1) for d in shape)) * DTYPE_BYTES.get(dtype, 4)


def _pool_windows(data: bytes) -> dict[int, tuple[int, int]]:
    """(filter height, filter width) of every pooling operator, by operator index, read with the schema."""
    s = schema()
    m = s.Model.GetRootAsModel(data, 0)
    g = m.Subgraphs(0)
    out: dict[int, tuple[int, int]] = {}
    for i in range(g.OperatorsLength()):
        op = g.Operators(i)
        if op.BuiltinOptionsType() != s.BuiltinOptions.Pool2DOptions:
            continue
        table = op.BuiltinOptions()
        opts = s.Pool2DOptions()
        opts.Init(table.Bytes, table.Pos)
        out[i] = (int(opts.FilterHeight()), int(opts.FilterWidth()))
    return out


def _layer_macs(name: str, ins: list[TensorSummary], outs: list[TensorSummary], window: tuple[int, int] | None) -> int:
    if not outs:
        return 0
    out_shape = outs[0].shape
    out_elems = prod(out_shape)
    if name in ("CONV_2D", "DEPTHWISE_CONV_2D") and len(ins) >= 2:
        w = ins[1].shape  # conv: [Cout, kh, kw, Cin]; depthwise: [1, kh, kw, Cout]
        if len(w) != 4:
            return 0
        per_output = w[1] * w[2] * (w[3] if name == "CONV_2D" else 1)
        return out_elems * per_output
    if name == "FULLY_CONNECTED" and len(ins) >= 2:
        w = ins[1].shape  # [units, inputs]
        return out_elems * (w[-1] if w else 0)
    if name in ("AVERAGE_POOL_2D", "MAX_POOL_2D") and window:
        return out_elems * window[0] * window[1]
    if name == "TRANSPOSE_CONV" and len(ins) >= 3:
        w, x = ins[1].shape, ins[2].shape  # inputs: output_shape, weights [Cout, kh, kw, Cin], input
        if len(w) == 4:
            return prod(x) * w[0] * w[1] * w[2]
    return 0


def _peak_activation(model: TfliteModel) -> int:
    """Largest sum of non-constant tensor bytes alive at one operator (a lower bound on the arena)."""
    first: dict[int, int] = {i: -1 for i in model.inputs}
    last: dict[int, int] = {}
    n = len(model.operators)
    for k, (_, _, ins, outs) in enumerate(model.operators):
        for t in outs:
            first.setdefault(t, k)
        for t in ins:
            if t >= 0 and not model.tensors[t].has_data:
                last[t] = k
    for t in model.outputs:
        last[t] = n
    peak = 0
    for k in range(n):
        live = [t for t, f in first.items() if f <= k <= last.get(t, f)]
        peak = max(peak, sum(_tensor_bytes(model.tensors[t].shape, model.tensors[t].dtype) for t in live))
    return peak


def _separable_blocks(layers: list[LayerInfo]) -> list[SeparableBlock]:
    blocks = []
    for a, b in zip(layers, layers[1:]):
        if a.name != "DEPTHWISE_CONV_2D" or b.name != "CONV_2D" or len(b.inputs) < 2 or len(a.inputs) < 2:
            continue
        if b.inputs[0].index != a.outputs[0].index:
            continue
        pw = b.inputs[1].shape
        if len(pw) != 4 or pw[1] != 1 or pw[2] != 1:
            continue
        dw = a.inputs[1].shape
        kh, kw = dw[1], dw[2]
        cin = a.inputs[0].shape[-1]
        out = b.outputs[0].shape
        standard = prod(out) * kh * kw * cin
        blocks.append(SeparableBlock(a.index, b.index, (kh, kw), a.macs + b.macs, standard))
    return blocks


_ARENA_PROBE = """
import json, sys
from tinymlkit.errors import KitError
from tinymlkit.runtime import measure_arena
try:
    m = measure_arena(sys.argv[1], name=sys.argv[2])
    print(json.dumps({"arena_bytes": m.arena_bytes, "method": m.method}))
except KitError as e:
    print(json.dumps({"error": str(e)}))
except Exception as e:
    print(json.dumps({"error": f"{sys.argv[2]}: TFLM could not run the model ({type(e).__name__}: {e})"}))
"""


_isolated_cache: dict[str, ArenaMeasurement] = {}


def measure_arena_isolated(model: bytes | str | os.PathLike[str], timeout: float = 300.0,
                           name: str | None = None) -> ArenaMeasurement:
    """``runtime.measure_arena`` in a child process, so a damaged model that crashes TFLM cannot take Python down.

    The model is validated in full first; the answer is kept per model for the life of the process.
    """
    name = model_name(model, name)
    data = read_model_bytes(model, name)
    key = hashlib.sha256(data).hexdigest()
    if key in _isolated_cache:
        return _isolated_cache[key]
    read_tflite(data, name)
    with tempfile.TemporaryDirectory(prefix="tinymlkit-arena-") as tmp:
        path = Path(tmp) / "model.tflite"
        path.write_bytes(data)
        env = dict(os.environ)
        pkg_root = str(Path(__file__).resolve().parents[1])
        env["PYTHONPATH"] = pkg_root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        try:
            proc = subprocess.run([sys.executable, "-c", _ARENA_PROBE, str(path), name], capture_output=True,
                                  text=True, env=env, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise ModelLoadError(f"{name}: measuring the arena on TFLM took longer than {timeout:.0f} s") from None
    if proc.returncode != 0:
        how = f"signal {-proc.returncode}" if proc.returncode < 0 else f"exit status {proc.returncode}"
        raise ModelLoadError(f"{name}: the TFLM interpreter crashed ({how}) while loading the model; the file "
                             "is probably damaged: export it again from the training run")
    try:
        result = json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        raise ModelLoadError(f"{name}: no answer from the arena measurement ({proc.stderr.strip()[-300:]})") from None
    if "error" in result:
        raise ModelLoadError(" ".join(str(result["error"]).split()))
    measured = ArenaMeasurement(arena_bytes=int(result["arena_bytes"]), method=str(result["method"]))
    _isolated_cache[key] = measured
    return measured


def inspect_model(model: bytes | str | os.PathLike[str], target: str | Target | None = None,
                  measure: bool = True) -> ModelReport:
    """Read a .tflite model and report its layers, parameters, MACs, memory and (optionally) fit on a target."""
    where = model_name(model)
    data = read_model_bytes(model, where)
    tm = read_tflite(data, where)
    try:
        windows = _pool_windows(data)
    except Exception as e:  # the reader already validated the structure; options may still be damaged
        raise ModelLoadError(f"{where}: the model's operator options could not be read ({type(e).__name__}: {e})") from None

    layers: list[LayerInfo] = []
    param_tensors: set[int] = set()
    params_total = 0
    for k, (name, opcode_index, ins, outs) in enumerate(tm.operators):
        def summary(i: int) -> TensorSummary:
            t = tm.tensors[i]
            return TensorSummary(i, t.shape, t.dtype, t.has_data)

        in_s = [summary(i) for i in ins if i >= 0]
        out_s = [summary(i) for i in outs if i >= 0]
        consts = [s for s in in_s if s.constant]
        # Shape, axis and padding arguments (int32 constants of ops without weights) are not parameters.
        weights = [s for s in consts if name in _WEIGHTED or s.dtype != "int32"]
        params = sum(prod(s.shape) for s in weights)
        for s in weights:
            if s.index not in param_tensors:
                param_tensors.add(s.index)
                params_total += prod(s.shape)
        layers.append(LayerInfo(
            index=k, name=name, version=tm.opcodes[opcode_index].version, inputs=tuple(in_s),
            outputs=tuple(out_s), params=params,
            weight_bytes=sum(tm.tensors[s.index].nbytes for s in consts),
            macs=_layer_macs(name, in_s, out_s, windows.get(k)),
            activation_bytes=sum(_tensor_bytes(s.shape, s.dtype) for s in in_s + out_s if not s.constant)))

    arena: ArenaMeasurement | None = None
    arena_note = ""
    if not measure:
        arena_note = "not measured (--no-arena)"
    elif not tflm_available():
        arena_note = "not measured: the TFLM interpreter (pip package 'tflite-micro', Linux x86_64) is not installed"
    else:
        arena = measure_arena_isolated(data, name=where)

    macs = sum(layer.macs for layer in layers)
    fit = None
    if target is not None:
        t = get_target(target) if isinstance(target, str) else target
        fit = TargetFit(target=t, flash_needed=tm.size + t.sketch_flash_bytes,
                        ram_needed=(arena.arena_bytes + t.sketch_ram_bytes) if arena else None,
                        latency_ms=t.latency_ms(macs), latency_range_ms=t.latency_range_ms(macs))
    problems = tuple(p for p in (version_problem(n, v) for n, v in
                                 sorted({(o.name, o.version) for o in tm.opcodes})) if p)
    return ModelReport(
        model=where, model_bytes=tm.size, layers=tuple(layers),
        opcodes=tuple((o.name, o.version) for o in tm.opcodes), params=params_total, macs=macs,
        peak_activation_bytes=_peak_activation(tm), arena=arena, arena_note=arena_note,
        separable=tuple(_separable_blocks(layers)), target=fit, library_problems=problems)


def layer_rows(report: ModelReport) -> list[dict[str, Any]]:
    """One row per layer (index, op, version, input, output, params, MACs, activation KB), for tables."""
    def shape(ts: tuple[TensorSummary, ...]) -> str:
        acts = [t for t in ts if not t.constant]
        return ", ".join("x".join(str(d) for d in t.shape) + f" {t.dtype}" for t in acts)

    return [{"#": layer.index, "op": layer.name, "v": layer.version, "input": shape(layer.inputs),
             "output": shape(layer.outputs), "params": layer.params, "MACs": layer.macs,
             "act KB": round(layer.activation_bytes / 1024, 1)} for layer in report.layers]


def _kb(n: int | None) -> str:
    return "n/a" if n is None else f"{n / 1024:,.1f} KB ({n:,} B)"


def format_report(report: ModelReport) -> str:
    """The human-readable report ``tinymlkit inspect`` prints."""
    rows = layer_rows(report)
    cols = list(rows[0].keys()) if rows else []
    widths = {c: max(len(c), *(len(f"{r[c]:,}" if isinstance(r[c], int) else str(r[c])) for r in rows)) for c in cols}
    def cell(c: str, v: Any) -> str:
        text = f"{v:,}" if isinstance(v, int) and c not in ("#", "v") else str(v)
        return text.rjust(widths[c]) if isinstance(v, (int, float)) else text.ljust(widths[c])
    lines = [f"model: {report.model} ({report.model_bytes:,} bytes)", ""]
    lines.append("  ".join(c.ljust(widths[c]) for c in cols))
    lines += ["  ".join(cell(c, r[c]) for c in cols) for r in rows]
    lines.append("")
    lines.append("ops to register: " + ", ".join(f"{n} v{v}" for n, v in report.opcodes))
    lines.append(f"parameters: {report.params:,}")
    lines.append(f"multiply-accumulates: {report.macs:,} per inference")
    for b in report.separable:
        lines.append(f"  depthwise separable block (layers {b.depthwise_index}+{b.pointwise_index}, "
                     f"{b.kernel[0]}x{b.kernel[1]}): {b.macs:,} MACs vs {b.standard_macs:,} for a standard "
                     f"convolution ({b.ratio:.1%})")
    lines.append(f"model flash: {_kb(report.model_bytes)}")
    lines.append(f"peak activation memory: {_kb(report.peak_activation_bytes)} (largest set of activations alive at "
                 "once, before TFLM's scratch buffers and bookkeeping)")
    if report.arena:
        lines.append(f"tensor arena (measured): {_kb(report.arena.arena_bytes)}; {report.arena.method}")
    else:
        lines.append(f"tensor arena: {report.arena_note}")
    lib = f"{PINNED_LIBRARY.name} {PINNED_LIBRARY.version}"
    if report.library_problems:
        lines += [f"NOT RUNNABLE with {lib}: {p}" for p in report.library_problems]
    else:
        lines.append(f"every op and op version is one {lib} can run")
    if report.target:
        f, t = report.target, report.target.target
        verdict = {True: "FITS", False: "DOES NOT FIT", None: "fit unknown (arena not measured)"}[f.fits]
        lines += ["", f"target {t.name}: {t.board}, {t.mcu} at {t.clock_hz / 1e6:g} MHz: {verdict}",
                  f"  flash: model {report.model_bytes:,} + sketch ~{t.sketch_flash_bytes:,} = {f.flash_needed:,} "
                  f"of {t.sketch_flash_limit:,} bytes ({'ok' if f.fits_flash else 'too big'})"]
        if f.ram_needed is not None:
            lines.append(f"  RAM: arena {report.arena_bytes:,} + sketch ~{t.sketch_ram_bytes:,} = {f.ram_needed:,} "
                         f"of {t.sketch_ram_limit:,} bytes ({'ok' if f.fits_ram else 'too big'})")
        lo, hi = f.latency_range_ms
        lines.append(f"  estimated latency: {f.latency_ms:,.1f} ms = {report.macs:,} MACs x {t.cycles_per_mac} "
                     f"cycles/MAC / {t.clock_hz / 1e6:g} MHz (range {lo:,.1f} to {hi:,.1f} ms: "
                     f"{t.cycles_per_mac_low:g} to {t.cycles_per_mac_high:g} cycles/MAC)")
        lines.append(f"  cycles/MAC: {t.cycles_per_mac_source}")
        lines.append(f"  sketch footprint: {t.footprint_source}")
        lines.append(f"  memory: {t.memory_source}; limits: {t.limits_source}")
    return "\n".join(lines)


def plot_layers(report: ModelReport, axes: Any = None) -> Any:
    """Bar charts of MACs and memory (activations and weights) per layer; returns the matplotlib figure."""
    from .plots import plot_layer_costs

    layers = report.layers
    return plot_layer_costs([f"{layer.index} {layer.name}" for layer in layers], [layer.macs for layer in layers],
                            [layer.activation_bytes for layer in layers], [layer.weight_bytes for layer in layers],
                            title=f"{Path(report.model).name}: {report.macs:,} MACs, {report.params:,} parameters",
                            axes=axes)

