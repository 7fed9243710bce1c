"""Structured pruning for the board: remove whole channels or whole blocks, keep a small dense model.

TFLM gains nothing from zeros inside a weight tensor: it stores and multiplies them all the same.
What shrinks the arena, the flash and the MACs is a narrower or shallower graph. So the pruned model
here is rebuilt with fewer filters (or fewer depthwise-separable blocks), and the kept filters' weights
are copied over; nothing sparse is left.

Which filters go: the ones whose folded weights are smallest, i.e. the L1 norm of the convolution
kernel per output channel times the batch-norm scale |gamma| / sqrt(var + eps) that the converter
folds into it (the L1 criterion of Li et al., "Pruning Filters for Efficient ConvNets",
arXiv:1608.08710, applied to the weights the board actually stores).

How many go: the largest keep ratio whose *int8 model* fits a budget stated in board terms (arena
measured on TFLM, flash bytes, MACs, latency), found by bisection on the ratio. Each candidate is
converted and measured, because that is what the board pays; Liberis and Lane ("Differentiable Network
Pruning for Microcontrollers", arXiv:2110.08350) learn per-layer widths during training against the same
kind of resource model; the kit's version is the simpler post-training search, followed by fine-tuning.

The models handled are chains (one layer after another: Conv2D, DepthwiseConv2D, BatchNormalization,
activations, Dropout, Reshape, pooling, Dense), which covers the kit's DS-CNN and MobileNetV1.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..errors import KitError
from .budget import Budget, BudgetError, Cost, measure_cost

__all__ = ["PruneError", "ChainLayer", "chain_layers", "channel_scores", "prune_channels", "uniform_plan",
           "count_blocks", "drop_blocks", "PruneStep", "PruneResult", "int8_cost", "prune_to_budget",
           "largest_fitting", "settle_batchnorm"]


class PruneError(KitError, ValueError):
    """A model this pruner cannot rebuild."""


@dataclasses.dataclass(frozen=True)
class ChainLayer:
    """One layer of a chain model, in order."""

    name: str
    """Keras layer name."""
    kind: str
    """'conv', 'depthwise', 'batchnorm', 'dense' or 'other'."""
    channels: int
    """Output channels (units for dense; 0 where the layer keeps its input's channels)."""


def _flat(model: Any) -> list[Any]:
    out: list[Any] = []
    for layer in model.layers:
        if hasattr(layer, "layers") and getattr(layer, "layers", None):
            out.extend(_flat(layer))
        else:
            out.append(layer)
    return out


def _layer_kinds() -> dict[str, Any]:
    from ..tf_quiet import load_tensorflow
    load_tensorflow()
    from keras import layers as L

    return {"L": L}


def _kind(layer: Any) -> str:
    L = _layer_kinds()["L"]
    if isinstance(layer, L.DepthwiseConv2D):
        return "depthwise"
    if isinstance(layer, L.Conv2D):
        return "conv"
    if isinstance(layer, L.BatchNormalization):
        return "batchnorm"
    if isinstance(layer, L.Dense):
        return "dense"
    if isinstance(layer, L.InputLayer):
        return "input"
    return "other"


def chain_layers(model: Any) -> list[ChainLayer]:
    """The model's layers in order (nested bases flattened), refusing graphs with branches."""
    L = _layer_kinds()["L"]
    out = []
    for layer in _flat(model):
        kind = _kind(layer)
        if kind == "input":
            continue
        if isinstance(layer, (L.Add, L.Concatenate, L.Multiply, L.Subtract, L.Average, L.Maximum, L.Minimum)):
            raise PruneError(f"layer {layer.name!r} joins branches; this pruner rebuilds chain models only "
                             "(DS-CNN, MobileNetV1)")
        if kind == "other" and layer.weights:
            raise PruneError(f"layer {layer.name!r} ({type(layer).__name__}) has weights this pruner does not know "
                             "how to slice")
        if kind == "depthwise" and int(layer.depth_multiplier) != 1:
            raise PruneError(f"layer {layer.name!r}: depth multiplier {layer.depth_multiplier} is not supported")
        ch = int(layer.filters) if kind == "conv" else int(layer.units) if kind == "dense" else 0
        out.append(ChainLayer(layer.name, kind, ch))
    return out


def channel_scores(model: Any) -> dict[str, np.ndarray]:
    """Importance of each output channel of every Conv2D: L1 of the kernel x the following batch norm's scale."""
    layers = [lay for lay in _flat(model) if _kind(lay) != "input"]
    scores: dict[str, np.ndarray] = {}
    for i, layer in enumerate(layers):
        if _kind(layer) != "conv":
            continue
        kernel = np.asarray(layer.get_weights()[0])
        s = np.abs(kernel).reshape(-1, kernel.shape[-1]).sum(axis=0)
        nxt = layers[i + 1] if i + 1 < len(layers) else None
        if nxt is not None and _kind(nxt) == "batchnorm":
            gamma, _, _, var = (np.asarray(w) for w in nxt.get_weights())
            s = s * np.abs(gamma) / np.sqrt(var + float(nxt.epsilon))
        scores[layer.name] = s
    return scores


def uniform_plan(model: Any, keep_ratio: float, min_channels: int = 2, multiple: int = 1) -> dict[str, int]:
    """Channels to keep per Conv2D when every layer keeps the same share of its filters."""
    if not 0.0 < keep_ratio <= 1.0:
        raise PruneError(f"keep ratio must be in (0, 1], got {keep_ratio}")
    plan = {}
    for c in chain_layers(model):
        if c.kind == "conv":
            n = max(min_channels, int(round(c.channels * keep_ratio / multiple)) * multiple)
            plan[c.name] = min(c.channels, n)
    return plan


def _flattened_rows(alive: np.ndarray | None, alive_of: int, width: int, rows: int) -> np.ndarray | None:
    """Rows of a dense kernel that read the kept channels when a Flatten (channels last) stands before it.

    The flattened index of channel ``c`` at position ``p`` is ``p * channels + c``, so the kept rows are
    those of the kept channels at every position. None when the widths do not fit that pattern.
    """
    if alive is None or not alive_of or rows % alive_of or len(alive) == 0 or width % len(alive):
        return None
    positions = rows // alive_of
    if positions * len(alive) != width:
        return None
    return (np.arange(positions)[:, None] * alive_of + np.asarray(alive)[None, :]).ravel()


def _rebuild(model: Any, keep: dict[str, int], skip: set[str] | None = None, name: str | None = None) -> tuple[Any, bool]:
    """A new chain model with ``keep[conv]`` filters per Conv2D and the ``skip`` layers left out.

    Returns the model and whether a dense layer had to start from fresh weights (its input width changed
    in a way its rows cannot follow).
    """
    from ..tf_quiet import load_tensorflow
    load_tensorflow()
    import keras

    skip = skip or set()
    scores = channel_scores(model)
    layers = [lay for lay in _flat(model) if _kind(lay) != "input"]
    chain_layers(model)  # validates the structure
    inp = keras.Input(shape=tuple(model.input_shape[1:]), name=model.inputs[0].name.split(":")[0] or "input")
    x = inp
    alive: np.ndarray | None = None  # original indices of the channels the current tensor holds
    alive_of = 0  # how many channels the original layer that made them had
    fresh_head = False
    copies: list[tuple[Any, list[np.ndarray]]] = []
    for layer in layers:
        if layer.name in skip:
            continue
        kind = _kind(layer)
        cfg = layer.get_config()
        w = [np.asarray(v) for v in layer.get_weights()]
        new_w: list[np.ndarray] | None = None
        if kind == "conv":
            kernel = w[0]
            rows = alive if alive is not None else np.arange(kernel.shape[2])
            if len(rows) != int(x.shape[-1]):
                raise PruneError(f"layer {layer.name!r}: input channels do not line up after pruning")
            n_keep = keep.get(layer.name, kernel.shape[-1])
            out_idx = np.sort(np.argsort(-scores[layer.name], kind="stable")[:n_keep])
            new_w = [kernel[:, :, rows, :][..., out_idx]] + [b[out_idx] for b in w[1:]]
            cfg["filters"] = int(len(out_idx))
            alive, alive_of = out_idx, kernel.shape[-1]
        elif kind == "depthwise":
            rows = alive if alive is not None else np.arange(w[0].shape[2])
            new_w = [w[0][:, :, rows, :]] + [b[rows] for b in w[1:]]
        elif kind == "batchnorm":
            rows = alive if alive is not None else np.arange(w[0].shape[0])
            new_w = [v[rows] for v in w]
        elif kind == "dense":
            width = int(x.shape[-1])
            flat = _flattened_rows(alive, alive_of, width, w[0].shape[0])
            if alive is not None and len(alive) == width and alive_of == w[0].shape[0]:
                new_w = [w[0][alive, :]] + w[1:]
            elif flat is not None:
                new_w = [w[0][flat, :]] + w[1:]  # after Flatten: the kept channels' rows at every position
            elif width == w[0].shape[0]:
                new_w = w
            else:
                new_w, fresh_head = None, True  # e.g. a shallower base ends in another width
            alive = None
        else:
            new_w = w or None
        new_layer = type(layer).from_config(cfg)
        x = new_layer(x)
        if new_w is not None:
            copies.append((new_layer, new_w))
    out = keras.Model(inp, x, name=name or f"{model.name}_pruned")
    for new_layer, ws in copies:
        new_layer.set_weights(ws)
    return out, fresh_head


def prune_channels(model: Any, keep: dict[str, int] | float, min_channels: int = 2) -> Any:
    """A smaller dense copy: each Conv2D keeps its most important filters (a plan, or one ratio for all)."""
    plan = uniform_plan(model, keep, min_channels) if isinstance(keep, (int, float)) else dict(keep)
    known = {c.name for c in chain_layers(model) if c.kind == "conv"}
    unknown = set(plan) - known
    if unknown:
        raise PruneError(f"no Conv2D layer named {sorted(unknown)} in {model.name!r}; convolutions: {sorted(known)}")
    return _rebuild(model, plan)[0]


def _blocks(model: Any) -> list[list[str]]:
    """Depthwise-separable blocks: from each DepthwiseConv2D up to the next one or the pooling."""
    L = _layer_kinds()["L"]
    layers = [lay for lay in _flat(model) if _kind(lay) != "input"]
    blocks: list[list[str]] = []
    current: list[str] | None = None
    for layer in layers:
        if _kind(layer) == "depthwise":
            current = [layer.name]
            blocks.append(current)
        elif isinstance(layer, (L.GlobalAveragePooling2D, L.GlobalMaxPooling2D, L.Flatten, L.Dense)):
            current = None
        elif current is not None:
            current.append(layer.name)
    return blocks


def count_blocks(model: Any) -> int:
    """Depthwise-separable blocks in a chain model (4 in the kit's DS-CNN, 13 in MobileNetV1)."""
    return len(_blocks(model))


def drop_blocks(model: Any, keep_blocks: int) -> tuple[Any, bool]:
    """Depth pruning: keep the first ``keep_blocks`` blocks, copy their weights; (model, head re-initialised)."""
    blocks = _blocks(model)
    if not 1 <= keep_blocks <= len(blocks):
        raise PruneError(f"keep_blocks must be 1..{len(blocks)}, got {keep_blocks}")
    skip = {n for b in blocks[keep_blocks:] for n in b}
    return _rebuild(model, {}, skip, name=f"{model.name}_{keep_blocks}blocks")


@dataclasses.dataclass(frozen=True)
class PruneStep:
    """One candidate the search converted and measured."""

    keep_ratio: float
    """Share of filters kept in every Conv2D."""
    cost: Cost
    """What its int8 model costs."""
    fits: bool
    """Within the budget."""


@dataclasses.dataclass
class PruneResult:
    """The pruned model the budget search chose, before fine-tuning."""

    model: Any
    """Keras model, dense, with the kept filters' weights."""
    keep_ratio: float
    """Share of filters kept."""
    channels: dict[str, tuple[int, int]]
    """Per Conv2D: (kept, original) filters."""
    cost: Cost
    """Cost of its int8 model."""
    steps: list[PruneStep]
    """Every candidate measured, in search order."""


def int8_cost(model: Any, representative: np.ndarray, target: str = "nano33ble", samples: int = 300) -> tuple[bytes, Cost]:
    """Convert to int8 and measure the cost (the searches pass fewer ``samples``: sizes do not depend on them)."""
    from ..convert import to_int8_tflite

    data = to_int8_tflite(model, representative, max_samples=samples)
    return data, measure_cost(data, target)


def prune_to_budget(model: Any, budget: Budget, representative: np.ndarray, target: str = "nano33ble",
                    lowest: float = 0.1, iterations: int = 7, min_channels: int = 2,
                    start_cost: Cost | None = None) -> PruneResult:
    """The largest uniform keep ratio whose int8 model fits the budget (bisection, each candidate measured).

    ``start_cost``: the unpruned model's cost on ``target`` where the caller measured it already (e.g. by
    ``int8_cost``); the search then does not convert that model again.
    """
    steps: list[PruneStep] = []

    def probe(r: float) -> tuple[Any, Cost, bool]:
        m = model if r >= 1.0 else prune_channels(model, r, min_channels)
        cost = start_cost if r >= 1.0 and start_cost is not None else int8_cost(m, representative, target, samples=32)[1]
        ok = budget.fits(cost)
        steps.append(PruneStep(r, cost, ok))
        return m, cost, ok

    best = probe(1.0)
    if best[2]:
        return PruneResult(model, 1.0, _channels(model, model), best[1], steps)
    low = probe(lowest)
    if not low[2]:
        raise BudgetError(f"even keeping {lowest:.0%} of the filters the model does not fit {budget.describe()}: "
                          f"{'; '.join(budget.violations(low[1]))}. Loosen the budget or use a smaller architecture")
    lo, hi, best = lowest, 1.0, (lowest, low[0], low[1])
    for _ in range(iterations):
        mid = (lo + hi) / 2
        m, cost, ok = probe(mid)
        if ok:
            lo, best = mid, (mid, m, cost)
        else:
            hi = mid
    r, m, cost = best
    return PruneResult(m, r, _channels(model, m), cost, steps)


def _channels(original: Any, pruned: Any) -> dict[str, tuple[int, int]]:
    before = {c.name: c.channels for c in chain_layers(original) if c.kind == "conv"}
    after = {c.name: c.channels for c in chain_layers(pruned) if c.kind == "conv"}
    return {k: (after.get(k, 0), v) for k, v in before.items()}


def settle_batchnorm(model: Any, representative: np.ndarray) -> Any:
    """Set every batch norm's moving mean and variance to its input's statistics on ``representative``; returns ``model``.

    For measuring what an architecture costs before it has trained weights (a width sweep): with random
    weights and the default statistics (mean 0, variance 1) the activations of a deep chain shrink layer
    after layer until the logits are the same for every input, and the int8 converter then gives the
    SOFTMAX an input scale TFLM aborts on (``tflite_file.tflm_prepare_problem``). Normalised activations
    keep their scale, and the folded biases are no longer all zero, as in a trained model (the converter's
    file of an untrained MobileNetV1 0.24 was 9 KB smaller than the settled one's). One forward pass in
    training mode with momentum 0 (restored afterwards) sets the statistics exactly, batch norm by batch norm.
    """
    bns = [layer for layer in _flat(model) if _kind(layer) == "batchnorm"]
    saved = [float(layer.momentum) for layer in bns]
    try:
        for layer in bns:
            layer.momentum = 0.0
        model(np.asarray(representative, dtype=np.float32), training=True)
    finally:
        for layer, m in zip(bns, saved):
            layer.momentum = m
    return model


def largest_fitting(build: Callable[[Any], Any], candidates: Sequence[Any], budget: Budget,
                    representative: np.ndarray, target: str = "nano33ble") -> tuple[Any, Any, Cost, list[tuple[Any, Cost]]]:
    """The first candidate (give them largest first) whose built model's int8 file fits the budget.

    ``build(c)`` makes a model for a candidate: a width multiplier, a filter count, a number of blocks.
    Returns (candidate, model, cost, every (candidate, cost) measured).
    """
    tried: list[tuple[Any, Cost]] = []
    for c in candidates:
        m = build(c)
        _, cost = int8_cost(m, representative, target, samples=32)
        tried.append((c, cost))
        if budget.fits(cost):
            return c, m, cost, tried
    raise BudgetError(f"none of {list(candidates)} fits {budget.describe()}")
