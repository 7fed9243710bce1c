"""Every matplotlib figure the course and the pipelines show, in one place."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "plot_history", "plot_confusion", "plot_waveform", "plot_features", "plot_tradeoff", "plot_images", "plot_scaling",
    "plot_layer_costs", "plot_scores_over_time", "plot_metrics_by_group", "plot_privacy_tradeoff", "save_figure", "figure_bytes",
]


def _plt() -> Any:
    import matplotlib

    if not _in_notebook():
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython

        return get_ipython() is not None and "IPKernelApp" in get_ipython().config
    except Exception:
        return False


def figure_bytes(fig: Any, fmt: str = "png", dpi: int = 150) -> bytes:
    """The figure encoded as PNG (or 'svg', 'pdf') bytes."""
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=dpi, bbox_inches="tight")
    return buf.getvalue()


def save_figure(fig: Any, path: str | Path, dpi: int = 150) -> Path:
    """Save a figure atomically (format from the suffix: .png, .svg or .pdf) and close it.

    The image is drawn in memory and written with :func:`tinymlkit.files.atomic_write_bytes`: a reader,
    or a crash, never leaves half a plot; the figure is closed even when writing fails.
    """
    from .files import atomic_write_bytes

    path = Path(path)
    fmt = {".png": "png", ".svg": "svg", ".pdf": "pdf"}.get(path.suffix.lower())
    try:
        if fmt is None:
            from .errors import KitError

            raise KitError(f"{path}: unsupported plot file ending {path.suffix!r}; use .png, .svg or .pdf")
        return atomic_write_bytes(path, figure_bytes(fig, fmt, dpi))
    finally:
        _plt().close(fig)


def plot_history(history: dict[str, list[float]], title: str = "Training") -> Any:
    """Loss and accuracy per epoch, training and validation side by side."""
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    epochs = np.arange(1, len(history.get("loss", [])) + 1)
    for ax, key in zip(axes, ("loss", "accuracy")):
        if key in history:
            ax.plot(epochs, history[key], label="training")
        if f"val_{key}" in history:
            ax.plot(epochs, history[f"val_{key}"], label="validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_confusion(confusion: Sequence[Sequence[int]], labels: Sequence[str], title: str = "Confusion matrix") -> Any:
    """Confusion matrix with counts; rows are the true labels, columns the predictions."""
    plt = _plt()
    m = np.asarray(confusion)
    fig, ax = plt.subplots(figsize=(1.2 + 0.7 * len(labels), 1.0 + 0.6 * len(labels)))
    rows = m.sum(axis=1, keepdims=True)
    ax.imshow(m / np.maximum(rows, 1), cmap="Blues", vmin=0, vmax=1)
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            ax.text(j, i, str(m[i, j]), ha="center", va="center",
                    color="white" if m[i, j] > 0.6 * max(rows[i, 0], 1) else "black")
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_metrics_by_group(by_group: dict[str, dict[str, Any]], title: str = "Balanced accuracy per group",
                          ax: Any = None, min_n: int = 1) -> Any:
    """Balanced accuracy per group as bars, each labelled with its clip count (``evaluate.metrics_by_group``).

    Groups with fewer than ``min_n`` clips are drawn hatched and pale: their figure rests on too few clips.
    """
    plt = _plt()
    fig = None
    names = list(by_group)
    if ax is None:
        fig, ax = plt.subplots(figsize=(1.6 + 0.9 * max(1, len(names)), 3.2))
    values = [by_group[n]["balanced_accuracy"] for n in names]
    counts = [by_group[n]["n"] for n in names]
    bars = ax.bar(range(len(names)), values, color=["C0" if c >= min_n else "C7" for c in counts])
    for bar, c in zip(bars, counts):
        if c < min_n:
            bar.set_hatch("//")
        ax.text(bar.get_x() + bar.get_width() / 2, bar.get_height() + 0.02, f"n={c}", ha="center", fontsize=8)
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
    ax.set_ylim(0, 1.1)
    ax.set_ylabel("balanced accuracy")
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    return fig if fig is not None else ax.figure


def plot_privacy_tradeoff(series: dict[str, Sequence[tuple[float, float, str]]],
                          plain: tuple[float, float] | None = None, chance: float | None = None,
                          title: str = "Keyword kept vs speaker given away") -> Any:
    """Keyword accuracy against what fresh attackers recover of the speaker, one line per series.

    ``series`` maps a legend label to points ``(speaker accuracy, keyword balanced accuracy, point label)``;
    ``plain`` is the model on the raw features (a star) and ``chance`` the speaker-ID chance level (a line).
    """
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for (label, points), style in zip(series.items(), ("o-", "s--", "^-.", "v:")):
        ax.plot([p[0] for p in points], [p[1] for p in points], style, label=label)
        for x, y, name in points:
            ax.annotate(name, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
    if plain is not None:
        ax.plot([plain[0]], [plain[1]], "k*", ms=12, label="plain (raw features)")
    if chance is not None:
        ax.axvline(chance, color="grey", ls=":", label="speaker chance")
    ax.set_xlabel("fresh attackers: speaker-ID accuracy (held-out clips)")
    ax.set_ylabel("keyword balanced accuracy (int8)")
    ax.set_title(title)
    ax.legend()
    ax.grid(alpha=0.3)
    return fig


def plot_waveform(x: np.ndarray, sample_rate: int = 16000, title: str = "Waveform", ax: Any = None) -> Any:
    """Samples against time in seconds."""
    plt = _plt()
    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(8, 2.5))
    t = np.arange(len(x)) / sample_rate
    ax.plot(t, x, lw=0.6)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("amplitude")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    return fig if fig is not None else ax.figure


def plot_features(feats: np.ndarray, title: str = "Features", stride_ms: int = 20, ax: Any = None,
                  ylabel: str = "channel") -> Any:
    """A (frames x channels) feature map as an image: time across, channel up."""
    plt = _plt()
    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 3))
    frames = feats.shape[0]
    im = ax.imshow(np.asarray(feats).T, origin="lower", aspect="auto",
                   extent=(0, frames * stride_ms / 1000, 0, feats.shape[1]))
    ax.set_xlabel("time (s)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.figure.colorbar(im, ax=ax)
    return fig if fig is not None else ax.figure


def plot_tradeoff(thresholds: Sequence[int], false_accepts_per_hour: Sequence[float], miss_rates: Sequence[float],
                  title: str = "False accepts vs misses") -> Any:
    """The product trade-off: false accepts per hour against miss rate, one point per threshold."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(false_accepts_per_hour, np.asarray(miss_rates) * 100, "o-")
    for th, fa, mr in zip(thresholds, false_accepts_per_hour, miss_rates):
        ax.annotate(str(th), (fa, mr * 100), textcoords="offset points", xytext=(4, 4), fontsize=8)
    ax.set_xlabel("false accepts per hour")
    ax.set_ylabel("keywords missed (%)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    return fig


def plot_images(images: Sequence[np.ndarray], titles: Sequence[str], cmap: str = "gray") -> Any:
    """Images side by side, each titled with its name and its width x height (grayscale as (H, W) or (H, W, 1))."""
    plt = _plt()
    fig, axes = plt.subplots(1, len(images), figsize=(3 * len(images), 3), squeeze=False)
    for ax, img, name in zip(axes[0], images, titles):
        arr = np.asarray(img)
        if arr.ndim == 3 and arr.shape[2] == 1:
            arr = arr[:, :, 0]
        ax.imshow(arr, cmap=cmap if arr.ndim == 2 else None)
        ax.set_title(f"{name} {arr.shape[1]}x{arr.shape[0]}")
        ax.axis("off")
    fig.tight_layout()
    return fig


def plot_scaling(xs: Sequence[float], ys: Sequence[float], names: Sequence[str], xlabel: str, ylabel: str,
                 title: str = "") -> Any:
    """One point per model on log-log axes (e.g. parameters against MACs), each labelled with its name."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.loglog(xs, ys, "o-")
    for x, y, name in zip(xs, ys, names):
        ax.annotate(str(name), (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    return fig


def plot_layer_costs(names: Sequence[str], macs: Sequence[int], activation_bytes: Sequence[int],
                     weight_bytes: Sequence[int], title: str = "", axes: Any = None) -> Any:
    """Bar charts per layer: MACs (top), activation RAM and weight flash in KB (bottom); returns the figure."""
    plt = _plt()
    if axes is None:
        fig, axes = plt.subplots(2, 1, figsize=(max(6.0, 0.35 * len(names) + 2), 6), sharex=True)
    else:
        fig = axes[0].figure
    idx = list(range(len(names)))
    axes[0].bar(idx, list(macs), color="tab:blue")
    axes[0].set_ylabel("MACs")
    if title:
        axes[0].set_title(title)
    axes[1].bar(idx, [b / 1024 for b in activation_bytes], color="tab:orange", label="activations (RAM)")
    axes[1].bar(idx, [b / 1024 for b in weight_bytes], color="tab:green", alpha=0.6, label="weights (flash)")
    axes[1].set_ylabel("KB")
    axes[1].legend()
    axes[1].set_xticks(idx)
    axes[1].set_xticklabels(list(names), rotation=90, fontsize=7)
    fig.tight_layout()
    return fig


def plot_scores_over_time(times: Sequence[float], scores: Sequence[tuple[str, Sequence[float]]],
                          latencies_ms: Sequence[float]) -> Any:
    """Each (label, scores) series over time (top) and the latency of each inference (bottom), as the board sent them."""
    plt = _plt()
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(8, 5), sharex=True, height_ratios=[3, 1])
    if len(times):
        for name, series in scores:
            # '$' would start matplotlib's math mode: a board's label is shown as plain text.
            ax1.plot(times, list(series), label=name.replace("$", r"\$"))
        ax2.plot(times, list(latencies_ms), color="gray")
        ax1.legend(loc="upper left", fontsize="small")
    ax1.set_ylabel("score")
    ax1.set_ylim(0, 1.05)
    ax2.set_ylabel("latency (ms)")
    ax2.set_xlabel("time (s)")
    fig.tight_layout()
    return fig
