"""Keyword scores split up: per recording condition and speaker, and per model on the same held-out real speakers.

Notebook 03 and ``benchmarks/bench_kws_bias.py`` use it. A test split's clips are scored once
(``predict_split``), then grouped by what their samples show (speech level, estimated SNR, clipping;
``tinymlkit.audio.conditions``) and by speaker (``scores_by_condition``). ``side_by_side`` scores several
models on the held-out speakers of one real folder, so a synthetic-trained and a real-trained model
are compared on exactly the same clips.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..config import KwsRunConfig
from ..data.speech_commands import KwsDataset
from ..errors import KitError

__all__ = ["SplitPredictions", "predict_split", "scores_by_condition", "held_out_real_speakers", "side_by_side",
           "synthetic_and_real_runs", "condition_rows"]


@dataclasses.dataclass(frozen=True)
class SplitPredictions:
    """One model's answers on one split, clip by clip."""

    files: tuple[Path | None, ...]
    """The clip files in split order (None: a silence clip made from background noise)."""
    y_true: np.ndarray
    """True label index per clip."""
    y_pred: np.ndarray
    """The model's label index per clip."""
    labels: tuple[str, ...]
    """Label names in output order."""
    backend: str
    """Runtime that gave the answers ('tflm' is the board's)."""


def predict_split(model: bytes | str | Path, ds: KwsDataset, cfg: KwsRunConfig, split: str = "testing") -> SplitPredictions:
    """The int8 model's answer for every clip of one split (micro features, no augmentation)."""
    from ..runtime import ModelRunner
    from .kws import prepare_features

    x, y = prepare_features(ds, cfg, split, 1, cfg.train.seed, progress=False)
    if not len(x):
        raise KitError(f"{ds.root}: the {split} split has no clips ({ds.split_method})")
    runner = ModelRunner(model if isinstance(model, bytes) else Path(model).read_bytes())
    raw = runner.predict_raw(x)
    return SplitPredictions(tuple(p for p, _ in ds.items[split]), y, np.argmax(raw, axis=1),
                            tuple(cfg.labels), runner.backend)


def scores_by_condition(pred: SplitPredictions, cfg: KwsRunConfig, min_speaker_clips: int = 4,
                        worst: int = 5) -> dict[str, Any]:
    """Scores of the spoken clips (silence left out) per speech level, estimated SNR, clipping and speaker.

    Silence clips are left out because their level says what they are: a level group would then mostly
    measure the share of silence in it. Returns ``level``, ``snr``, ``clipping`` (each
    ``evaluate.metrics_by_group``), ``speakers`` (how spread per-speaker accuracy is: count, clips per
    speaker, the 10th/50th/90th percentile of plain accuracy over speakers with at least
    ``min_speaker_clips`` clips, and the ``worst`` speakers with their clips and misses) and
    ``n_spoken`` (clips scored).
    """
    from ..audio.conditions import LEVEL_EDGES, SNR_EDGES, bucket, bucket_names, clip_conditions
    from ..data.speech_commands import clip_for, speaker_of
    from ..evaluate import metrics_by_group

    a = cfg.audio
    silence = pred.labels.index(cfg.task.silence_label)
    keep = [i for i, (f, y) in enumerate(zip(pred.files, pred.y_true)) if f is not None and y != silence]
    if not keep:
        raise KitError("no spoken clips to group (only silence in this split)")
    conds = [clip_conditions(clip_for(pred.files[i], a.sample_rate, a.clip_samples), a.sample_rate) for i in keep]
    yt, yp = pred.y_true[keep], pred.y_pred[keep]
    level_names = [bucket(c.speech_level_dbfs, LEVEL_EDGES, "dBFS") for c in conds]
    snr_names = [bucket(c.snr_db, SNR_EDGES, "dB SNR") for c in conds]
    speakers = [speaker_of(pred.files[i]) for i in keep]
    per_speaker = metrics_by_group(yt, yp, speakers, pred.labels)
    enough = {s: m for s, m in per_speaker.items() if m["n"] >= min_speaker_clips}
    acc = np.array([m["accuracy"] for m in enough.values()]) if enough else np.zeros(0)
    ranked = sorted(enough.items(), key=lambda kv: (kv[1]["accuracy"], -kv[1]["n"]))[:worst]
    return {
        "n_spoken": len(keep),
        "level": metrics_by_group(yt, yp, level_names, pred.labels, bucket_names(LEVEL_EDGES, "dBFS")),
        "snr": metrics_by_group(yt, yp, snr_names, pred.labels, bucket_names(SNR_EDGES, "dB SNR")),
        "clipping": metrics_by_group(yt, yp, ["clipped" if c.clipped_fraction > 0.001 else "not clipped"
                                               for c in conds], pred.labels),
        "speakers": {
            "speakers": len(per_speaker), "with_enough_clips": len(enough), "min_clips": min_speaker_clips,
            "clips_per_speaker_median": float(np.median([m["n"] for m in per_speaker.values()])),
            "accuracy_percentiles": ({p: round(float(np.percentile(acc, p)), 3) for p in (10, 50, 90)}
                                     if len(acc) else None),
            "worst": [{"speaker": s, "n": m["n"], "accuracy": round(m["accuracy"], 3),
                       "missed": int(round(m["n"] * (1 - m["accuracy"])))} for s, m in ranked],
        },
    }


def condition_rows(by_group: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One flat row per group (for a table): clips, balanced accuracy, recall per class."""
    return [{"group": g, "clips": m["n"], "balanced": round(m["balanced_accuracy"], 3),
             **{f"recall {k}": (None if v is None else round(v, 2)) for k, v in m["per_class"].items()}}
            for g, m in by_group.items()]


def held_out_real_speakers(real_root: str | Path, cfg: KwsRunConfig) -> KwsDataset:
    """The speaker-disjoint split of a real folder that a run on it with ``cfg`` would make (same seed)."""
    from .kws import draw_dataset

    root = Path(real_root)
    if not root.is_dir():
        raise KitError(f"{root}: no such folder of real clips (give a folder in Speech Commands layout)")
    return draw_dataset([root], cfg.task, seed=cfg.train.seed)


def side_by_side(models: Mapping[str, bytes | str | Path], real_root: str | Path, cfg: KwsRunConfig) -> dict[str, Any]:
    """Each int8 model scored on the same held-out real speakers (the test split of ``real_root``).

    A model trained on ``real_root`` with ``cfg``'s seed never heard these speakers; a model trained
    on synthetic voices never heard anyone. Returns ``{name: classification metrics}`` plus ``_split``
    (how the speakers were held out) and ``_clips``.
    """
    from ..evaluate import classification_metrics

    ds = held_out_real_speakers(real_root, cfg)
    out: dict[str, Any] = {}
    for name, model in models.items():
        p = predict_split(model, ds, cfg)
        out[name] = {**classification_metrics(p.y_true, p.y_pred, cfg.labels), "backend": p.backend}
    out["_split"] = ds.split_method
    out["_clips"] = len(ds.items["testing"])
    return out


def synthetic_and_real_runs(out: str | Path, real_root: str | Path, current: Any, fast: bool,
                            **kwargs: Any) -> dict[str, Any]:
    """A synthetic-trained and a real-trained run: ``current`` is one of them, the other is trained here.

    ``current`` is a ``RunResult`` (a notebook's own run); if it trained on the synthetic set, a run on
    ``real_root`` (its training speakers) is made in ``out/real_trained``, else a run on the synthetic
    set in ``out/synthetic_trained``. Same words and seed; ``kwargs`` go to ``run_kws``.
    """
    from .kws import run_kws

    out = Path(out)
    words = current.config.task.words
    seed = current.config.train.seed
    if current.metrics["task"]["synthetic"]:
        other = run_kws(out / "real_trained", data=real_root, words=words, seed=seed, fast=fast, progress=False, **kwargs)
        return {"synthetic-trained": current, "real-trained": other}
    other = run_kws(out / "synthetic_trained", data=None, words=words, seed=seed, fast=fast, progress=False, **kwargs)
    return {"synthetic-trained": other, "real-trained": current}
