"""What a model costs on the board, measured on its int8 file, and a budget a user states against it.

The cost is read from the converted int8 model, not from the Keras graph: flash is the .tflite size,
the arena is the smallest one the TFLM interpreter accepts (``runtime.measure_arena``), MACs are
counted per operator by ``tinymlkit.inspect``, and latency and energy follow from the MACs
(``tinymlkit.targets``, ``tinymlkit.energy``). A budget names any of these limits.
"""
from __future__ import annotations

import dataclasses
import re
from typing import Any

from ..energy import estimate
from ..errors import KitError
from ..inspect import inspect_model
from ..runtime import measure_arena, tflm_available

__all__ = ["Cost", "Budget", "BudgetError", "measure_cost", "parse_budget"]


class BudgetError(KitError, ValueError):
    """A budget that cannot be read or cannot be met."""


@dataclasses.dataclass(frozen=True)
class Cost:
    """What one int8 model costs on the target."""

    model_bytes: int
    """Size of the .tflite file: flash for the model."""
    arena_bytes: int | None
    """Tensor arena measured on TFLM (None where TFLM is not installed)."""
    macs: int
    """Multiply-accumulates per inference, counted per operator."""
    latency_ms: float
    """Estimated inference time on the target."""
    energy_uj: float
    """Estimated CPU energy per inference (DC/DC figure), microjoules."""

    def to_json(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {"model_bytes": self.model_bytes, "arena_bytes": self.arena_bytes, "macs": self.macs,
                "latency_ms": round(self.latency_ms, 3), "energy_uj": round(self.energy_uj, 3)}


def measure_cost(tflite: bytes, target: str = "nano33ble", arena: bool = True) -> Cost:
    """Flash, arena (TFLM), MACs, latency and energy of an int8 model."""
    report = inspect_model(bytes(tflite), target=target, measure=False)
    arena_bytes = measure_arena(bytes(tflite)).arena_bytes if arena and tflm_available() else None
    e = estimate(report.macs, target)
    return Cost(model_bytes=report.model_bytes, arena_bytes=arena_bytes, macs=report.macs,
                latency_ms=e.latency_ms, energy_uj=e.energy_uj)


@dataclasses.dataclass(frozen=True)
class Budget:
    """Limits a model must stay within on the board; None means no limit on that resource."""

    arena_bytes: int | None = None
    """Largest tensor arena, bytes (as TFLM measures it)."""
    model_bytes: int | None = None
    """Largest .tflite size, bytes (the model's flash)."""
    macs: int | None = None
    """Most multiply-accumulates per inference."""
    latency_ms: float | None = None
    """Longest estimated inference time on the target, milliseconds."""

    def violations(self, cost: Cost) -> list[str]:
        """What the cost exceeds, in words (empty when it fits)."""
        out = []
        if self.arena_bytes is not None:
            if cost.arena_bytes is None:
                out.append("arena not measured (TFLM is not installed)")
            elif cost.arena_bytes > self.arena_bytes:
                out.append(f"arena {cost.arena_bytes:,} B > {self.arena_bytes:,} B")
        if self.model_bytes is not None and cost.model_bytes > self.model_bytes:
            out.append(f"model {cost.model_bytes:,} B > {self.model_bytes:,} B")
        if self.macs is not None and cost.macs > self.macs:
            out.append(f"MACs {cost.macs:,} > {self.macs:,}")
        if self.latency_ms is not None and cost.latency_ms > self.latency_ms:
            out.append(f"latency {cost.latency_ms:.1f} ms > {self.latency_ms:.1f} ms")
        return out

    def fits(self, cost: Cost) -> bool:
        """True when the cost is within every limit."""
        return not self.violations(cost)

    def describe(self) -> str:
        """The budget in words."""
        parts = []
        if self.arena_bytes is not None:
            parts.append(f"arena <= {self.arena_bytes / 1024:.1f} KB")
        if self.model_bytes is not None:
            parts.append(f"model <= {self.model_bytes / 1024:.1f} KB")
        if self.macs is not None:
            parts.append(f"MACs <= {self.macs / 1e6:.2f} M")
        if self.latency_ms is not None:
            parts.append(f"latency <= {self.latency_ms:g} ms")
        return ", ".join(parts) or "no limit"


_UNITS = {"": 1, "b": 1, "kb": 1024, "k": 1000, "mb": 1024 * 1024, "m": 1_000_000}


def parse_budget(text: str) -> Budget:
    """A budget from words like ``"arena=64KB, latency=100ms"`` or ``"macs=2M, model=40KB"``."""
    fields: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        m = re.fullmatch(r"(arena|model|flash|macs|latency)\s*[=<:]+\s*([0-9.]+)\s*([a-zA-Z]*)", part)
        if not m:
            raise BudgetError(f"budget {part!r}: write it as arena=64KB, model=40KB, macs=2M or latency=100ms")
        key, value, unit = m.group(1), float(m.group(2)), m.group(3).lower()
        if key == "latency":
            if unit not in ("", "ms"):
                raise BudgetError(f"budget {part!r}: latency is in ms")
            fields["latency_ms"] = value
            continue
        if unit not in _UNITS:
            raise BudgetError(f"budget {part!r}: unknown unit {unit!r}; use B, KB, MB (bytes) or K, M (MACs)")
        name = {"arena": "arena_bytes", "model": "model_bytes", "flash": "model_bytes", "macs": "macs"}[key]
        fields[name] = int(value * _UNITS[unit])
    if not fields:
        raise BudgetError("empty budget: give at least one of arena=, model=, macs=, latency=")
    return Budget(**fields)
