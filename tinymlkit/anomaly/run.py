"""Anomaly detection end to end: machine sounds -> front-end frames -> autoencoder -> int8 -> TFLM AUC -> sketch."""
from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..data.machine_sounds import MachineClips, MachineSoundConfig, list_machine_clips, make_machine_sounds
from ..files import atomic_path, atomic_write_bytes, atomic_write_text
from ..runtime import ModelRunner, default_backend, tflm_available
from .config import AnomalyRunConfig, AutoencoderConfig, save_anomaly_config
from .features import clip_vectors, frames_of_files
from .model import train_autoencoder_on
from .scoring import choose_threshold, clip_scores_keras, clip_scores_runner, partial_auc, roc_auc

__all__ = ["FAST_MACHINES", "FULL_MACHINES", "AnomalyRunResult", "run_anomaly", "score_files", "format_summary"]

FAST_MACHINES = MachineSoundConfig(machine_ids=2, train_per_id=24, test_normal_per_id=8, test_anomaly_per_id=8,
                                   min_severity=0.5)
"""Synthetic set of fast mode (tests, CI): 80 clips of 2 s, with clearly audible faults only."""
FULL_MACHINES = MachineSoundConfig()
"""Synthetic set of a full run: 4 machines, 400 clips of 2 s."""


@dataclasses.dataclass
class AnomalyRunResult:
    """What ``run_anomaly`` produced."""

    out: Path
    """Run folder."""
    config: AnomalyRunConfig
    """The run's config, threshold included (also in config.json)."""
    metrics: dict[str, Any]
    """Everything in metrics.json."""
    sketch_files: tuple[Path, ...]
    """Files written into the sketch folder (empty without a sketch)."""


def _split_holdout(n: int, share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.random.default_rng(seed).permutation(n)
    k = max(1, int(round(n * share))) if n > 1 else 0
    return np.sort(order[k:]), np.sort(order[:k])


def run_anomaly(out: str | os.PathLike[str], data: str | os.PathLike[str] | None = None, fast: bool = False,
                sketch: str | os.PathLike[str] | None = None, epochs: int | None = None, seed: int = 1234,
                synthetic: MachineSoundConfig | None = None, model_cfg: AutoencoderConfig | None = None,
                progress: bool = True) -> AnomalyRunResult:
    """Train the autoencoder on normal clips, set the alarm threshold, score float and int8 (TFLM), export.

    ``data`` is a machine-type folder in the DCASE layout; None makes (once) the SYNTHETIC set.
    """
    from ..convert import to_float_tflite, to_int8_tflite

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    seconds: dict[str, float] = {}

    def step(name: str) -> float:
        if progress:
            print(f"[anomaly] {name} ...", file=sys.stderr, flush=True)
        return time.perf_counter()

    t = step("data")
    if data is None:
        synth = synthetic or (FAST_MACHINES if fast else FULL_MACHINES)
        root = make_machine_sounds(cfg=synth, progress=progress)
        data_desc = f"SYNTHETIC machine sounds ({root})"
    else:
        root = Path(data)
        data_desc = f"machine sounds in {root}"
    clips: MachineClips = list_machine_clips(root)
    seconds["data"] = round(time.perf_counter() - t, 2)

    mc = model_cfg or AutoencoderConfig()
    mc = dataclasses.replace(mc, seed=seed, epochs=epochs if epochs is not None else (10 if fast else mc.epochs))
    cfg = AnomalyRunConfig(model=mc, machine=clips.root.name)
    a, n = cfg.audio, mc.frames

    t = step("features")
    train_frames = frames_of_files(clips.train, a, n, progress=progress, desc="front end (train)")
    test_frames = frames_of_files(clips.test, a, n, progress=progress, desc="front end (test)")
    fit_idx, hold_idx = _split_holdout(len(train_frames), mc.validation_share, seed)
    x_fit = np.concatenate([clip_vectors(train_frames[i], a, n) for i in fit_idx])
    x_hold = np.concatenate([clip_vectors(train_frames[i], a, n) for i in hold_idx])
    seconds["features"] = round(time.perf_counter() - t, 2)

    t = step("train")
    # Trained on standardised inputs, the standardisation folded into the model (train_autoencoder_on).
    model, history = train_autoencoder_on(x_fit, mc, a.feature_bins, x_hold)
    seconds["train"] = round(time.perf_counter() - t, 2)

    t = step("float scores")
    y_test = np.asarray(clips.test_labels)
    hold_frames = [train_frames[i] for i in hold_idx]
    float_test = clip_scores_keras(model, test_frames, a, n)
    float_hold = clip_scores_keras(model, hold_frames, a, n)
    seconds["float scores"] = round(time.perf_counter() - t, 2)

    t = step("convert")
    float_bytes = to_float_tflite(model)
    int8_bytes = to_int8_tflite(model, x_fit, max_samples=500)
    seconds["convert"] = round(time.perf_counter() - t, 2)

    t = step("int8 scores")
    backend = default_backend()
    runner = ModelRunner(int8_bytes, backend=backend)
    int8_test = clip_scores_runner(runner, test_frames, a, n, progress=progress, desc=f"int8 on {backend} (test)")
    int8_hold = clip_scores_runner(runner, hold_frames, a, n, progress=progress, desc=f"int8 on {backend} (held out)")
    # The board compares int8-model errors with the threshold, so the threshold comes from them too.
    threshold = choose_threshold(int8_hold, cfg.scoring.threshold_quantile)
    cfg = dataclasses.replace(cfg, scoring=dataclasses.replace(cfg.scoring, threshold=threshold))
    seconds["int8 scores"] = round(time.perf_counter() - t, 2)

    t = step("save")
    with atomic_path(out / "model.keras") as tmp:
        model.save(tmp)
    atomic_write_bytes(out / "model_float.tflite", float_bytes)
    atomic_write_bytes(out / "model_int8.tflite", int8_bytes)
    save_anomaly_config(cfg, out / "config.json")
    from .sketch import tflm_arena_bytes

    arena = tflm_arena_bytes(int8_bytes) if tflm_available() else None
    alarms = int8_test > threshold
    per_id = {}
    ids = np.asarray(clips.test_ids)
    for mid in sorted(set(clips.test_ids)):
        sel = ids == mid
        if len(set(y_test[sel])) == 2:
            per_id[f"id_{mid:02d}"] = round(roc_auc(y_test[sel], int8_test[sel]), 4)
    metrics: dict[str, Any] = {
        "data": data_desc,
        "synthetic": data is None,
        "machine": clips.root.name,
        "clips": {"train": len(fit_idx), "held_out_normal": len(hold_idx), "test_normal": int(np.sum(y_test == 0)),
                  "test_anomaly": int(np.sum(y_test == 1))},
        "auc": {"keras_float": round(roc_auc(y_test, float_test), 4), f"int8_{backend}": round(roc_auc(y_test, int8_test), 4)},
        "pauc_0.1": {"keras_float": round(partial_auc(y_test, float_test), 4),
                     f"int8_{backend}": round(partial_auc(y_test, int8_test), 4)},
        "auc_per_machine_id_int8": per_id,
        "int8_backend": backend,
        "threshold": threshold,
        "threshold_quantile": cfg.scoring.threshold_quantile,
        "at_threshold": {"false_alarm_rate": round(float(np.mean(alarms[y_test == 0])), 4),
                         "detection_rate": round(float(np.mean(alarms[y_test == 1])), 4)},
        "model_bytes_int8": len(int8_bytes),
        "model_bytes_float": len(float_bytes),
        "arena_bytes_tflm": arena,
        "parameters": int(model.count_params()),
        "epochs": mc.epochs,
        "final_loss_standardised": history["loss"][-1],
        "final_val_loss_standardised": history["val_loss"][-1],
        "seconds": seconds,
    }
    atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    atomic_write_text(out / "scores.json", json.dumps({
        "test": [{"file": str(p), "anomaly": int(y), "float": float(f), "int8": float(q)}
                 for p, y, f, q in zip(clips.test, y_test, float_test, int8_test)]}, indent=1) + "\n")
    seconds["save"] = round(time.perf_counter() - t, 2)
    files: tuple[Path, ...] = ()
    if sketch is not None:
        from .sketch import export_anomaly_sketch

        files = export_anomaly_sketch(out / "model_int8.tflite", cfg, sketch, out / "config.json")
    return AnomalyRunResult(out, cfg, metrics, files)


def score_files(model: str | os.PathLike[str], cfg: AnomalyRunConfig, paths: list[Path],
                backend: str | None = None) -> list[dict[str, Any]]:
    """Score recordings with an int8 model as the board would; one row per file (score and alarm, or error).

    A file that cannot be read gets an ``error`` row and the others are still scored.
    """
    from ..errors import KitError

    runner = ModelRunner(model, backend=backend)
    if runner.input_shape[1:] != (cfg.input_size,):
        raise KitError(f"{model}: the model takes {runner.input_shape[1:]} but the config makes "
                       f"{cfg.input_size} values per input; give the config.json of the same run")
    rows: list[dict[str, Any]] = []
    for p in paths:
        try:
            frames = frames_of_files([p], cfg.audio, cfg.model.frames)
        except (KitError, OSError) as e:
            rows.append({"file": str(p), "error": str(e)})
            continue
        s = float(clip_scores_runner(runner, frames, cfg.audio, cfg.model.frames)[0])
        rows.append({"file": str(p), "score": s, "anomaly": bool(s > cfg.scoring.threshold)})
    return rows


def format_summary(result: AnomalyRunResult) -> str:
    """A few lines for the terminal."""
    m = result.metrics
    b = m["int8_backend"]
    lines = [f"Anomaly detector for {m['machine']} ({m['data']})",
             f"  AUC on the test clips ({m['clips']['test_normal']} normal, {m['clips']['test_anomaly']} faulty):",
             f"    Keras float               {m['auc']['keras_float']:.3f}   (pAUC 0.1: {m['pauc_0.1']['keras_float']:.3f})",
             f"    int8 on {b:<18}{m['auc'][f'int8_{b}']:.3f}   (pAUC 0.1: {m['pauc_0.1'][f'int8_{b}']:.3f})",
             f"  alarm threshold {m['threshold']:.4g} ({m['threshold_quantile']:.0%} of held-out normal clips): "
             f"{m['at_threshold']['false_alarm_rate']:.0%} false alarms, {m['at_threshold']['detection_rate']:.0%} "
             "of faults caught",
             f"  model: {m['model_bytes_int8']} bytes int8   arena: {m['arena_bytes_tflm']} bytes (TFLM)"]
    if m["synthetic"]:
        lines.append("  (SYNTHETIC machine sounds: this exercises the pipeline; it says nothing about real machines)")
    return "\n".join(lines)
