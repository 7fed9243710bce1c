"""Every matplotlib figure the course and the pipelines show, in one place."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "plot_history", "plot_confusion", "plot_waveform", "plot_features", "plot_tradeoff", "save_figure", "figure_bytes",
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
