"""Keyword spotting end to end: data -> micro features -> train -> int8 -> TFLM check -> sketch files."""
from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..audio.augment import mix_background, random_noise_segment, time_shift
from ..audio.features import micro_features
from ..config import KwsRunConfig, KwsTaskConfig, TrainConfig, save_json
from ..data.speech_commands import KwsDataset, build_dataset, clip_for
from ..data.synth_speech import SynthSpeechConfig, make_synthetic_speech
from ..errors import KitError
from ..evaluate import classification_metrics, compare_runtimes
from ..export import export_model
from ..files import atomic_write_bytes, atomic_write_text
from ..models import build_kws_model
from ..paths import dataset_dir
from ..runtime import measure_arena, tflm_available
from .steps import StepTimer
from ..train import fit, set_seed

__all__ = ["KwsRunResult", "FAST_SYNTH", "FULL_SYNTH", "prepare_features", "run_kws", "format_summary"]

FAST_SYNTH = SynthSpeechConfig(num_voices=24, takes=2, noise_seconds=10)
"""Synthetic set of fast mode: few voices, one take each (seconds to make)."""
FULL_SYNTH = SynthSpeechConfig()
"""Synthetic set of the main job."""


@dataclasses.dataclass
class KwsRunResult:
    """What ``run_kws`` produced."""

    out: Path
    """Run folder."""
    config: KwsRunConfig
    """The run's config (also in config.json)."""
    metrics: dict[str, Any]
    """Everything in metrics.json."""
    sketch_files: tuple[Path, ...]
    """Files written into the sketch folder (empty if no sketch was given)."""


def _augment(clip: np.ndarray, is_silence: bool, background: Sequence[np.ndarray], task: KwsTaskConfig,
             rng: np.random.Generator, sample_rate: int, train: bool) -> np.ndarray:
    n = len(clip)
    if train and not is_silence and task.time_shift_ms > 0:
        limit = task.time_shift_ms * sample_rate // 1000
        clip = time_shift(clip, int(rng.integers(-limit, limit + 1)))
    if background and (is_silence or (train and rng.random() < task.background_frequency)):
        noise = random_noise_segment(background[int(rng.integers(len(background)))], n, rng)
        # Silence is noise alone, at any volume up to full; words get noise up to background_volume.
        volume = rng.uniform(0, 1.0 if is_silence else task.background_volume)
        clip = mix_background(clip, noise, volume)
    return clip


def prepare_features(ds: KwsDataset, cfg: KwsRunConfig, split: str, copies: int = 1, seed: int = 0,
                     progress: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Micro features and labels of one split; training clips are augmented ``copies`` times."""
    a, task = cfg.audio, cfg.task
    train = split == "training"
    rng = np.random.default_rng(seed + {"training": 0, "validation": 1, "testing": 2}[split])
    silence_idx = ds.labels.index(task.silence_label)
    items = ds.items[split]
    xs, ys = [], []
    it: Any = [(p, y) for _ in range(copies if train else 1) for p, y in items]
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(it, desc=f"features ({split})", unit="clip", leave=False)
    cache: dict[Path, np.ndarray] = {}
    for path, y in it:
        if path is not None and path not in cache:
            cache[path] = clip_for(path, a.sample_rate, a.clip_samples)
        clip = cache[path] if path is not None else np.zeros(a.clip_samples, dtype=np.float32)
        clip = _augment(clip, y == silence_idx, ds.background, task, rng, a.sample_rate, train)
        xs.append(micro_features(clip, a))
        ys.append(y)
    if not xs:
        return np.zeros((0, *a.feature_shape), np.float32), np.zeros((0,), np.int64)
    return np.stack(xs), np.asarray(ys, dtype=np.int64)


def run_kws(out: str | Path, data: str | Path | None = None, words: Sequence[str] = ("yes", "no"),
            model: str = "tiny_conv", epochs: int | None = None, fast: bool = False,
            sketch: str | Path | None = None, seed: int = 1234, augment_copies: int | None = None,
            task_overrides: dict[str, Any] | None = None, balance_classes: bool = True,
            patience: int | None = None, progress: bool = True) -> KwsRunResult:
    """Make or read data, train, convert to int8, evaluate on float/LiteRT/TFLM, save, export.

    ``data=None`` uses the offline synthetic set (made once). ``fast`` shrinks data and epochs but
    still runs every step for real. ``balance_classes`` weights the loss so that each label counts
    the same however many clips it has (silence and unknown are usually the small ones).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    steps = StepTimer("kws", quiet=not progress)
    task = KwsTaskConfig(words=tuple(words), **(task_overrides or {}))
    train_cfg = TrainConfig(model=model, epochs=epochs if epochs is not None else (4 if fast else 40), seed=seed,
                            patience=patience if patience is not None else (4 if fast else 10))
    cfg = KwsRunConfig(task=task, train=train_cfg)
    copies = augment_copies if augment_copies is not None else (1 if fast else 4)

    with steps("data"):
        if data is None:
            synth = FAST_SYNTH if fast else FULL_SYNTH
            unknown = [w for w in words if w not in synth.words]
            if unknown:
                raise KitError(f"the synthetic set has no clips of {unknown}; it speaks {', '.join(synth.words)}. "
                               "Use --data DIR with recordings of those words")
            root = make_synthetic_speech(dataset_dir("synth_kws_fast" if fast else "synth_kws"), synth,
                                         progress=progress)
            data_desc = f"synthetic text-to-speech keywords ({root})"
        else:
            root = Path(data)
            data_desc = str(root)
        ds = build_dataset(root, task, seed=seed)
        counts = ds.counts()
        if not ds.items["training"]:
            raise KitError(f"{root}: no training clips after the split ({ds.split_method})")
    with steps("features"):
        x_tr, y_tr = prepare_features(ds, cfg, "training", copies, seed, progress)
        x_va, y_va = prepare_features(ds, cfg, "validation", 1, seed, progress)
        x_te, y_te = prepare_features(ds, cfg, "testing", 1, seed, progress)
        if len(x_te) == 0:
            x_te, y_te = x_va, y_va
    with steps("train"):
        set_seed(seed)
        keras_model = build_kws_model(model, cfg.audio.feature_shape, len(cfg.labels))
        weights = None
        if balance_classes:
            present = np.bincount(y_tr, minlength=len(cfg.labels))
            weights = {i: float(len(y_tr) / (np.count_nonzero(present) * c)) for i, c in enumerate(present) if c}
        result = fit(keras_model, x_tr, y_tr, x_va, y_va, train_cfg, progress=progress, desc=f"training {model}",
                     class_weight=weights)
        keras_probs = keras_model.predict(x_te, verbose=0, batch_size=256)
        keras_metrics = classification_metrics(y_te, np.argmax(keras_probs, 1), cfg.labels)
    with steps("convert"):
        from ..convert import to_float_tflite, to_int8_tflite

        float_bytes = to_float_tflite(keras_model)
        int8_bytes = to_int8_tflite(keras_model, x_tr)
        atomic_write_bytes(out / "model_float.tflite", float_bytes)
        atomic_write_bytes(out / "model_int8.tflite", int8_bytes)
        keras_model.save(out / "model.keras")
        save_json(cfg, out / "config.json")
    with steps("evaluate"):
        comp = compare_runtimes(float_bytes, int8_bytes, x_te, y_te, cfg.labels, progress=progress)
        arena = measure_arena(int8_bytes).arena_bytes if tflm_available() else None
    sketch_files: tuple[Path, ...] = ()
    if sketch is not None:
        with steps("export"):
            sketch_files = export_model(out / "model_int8.tflite", out / "config.json", sketch,
                                        arena_measured=arena).files
    with steps("plots"):
        from ..plots import plot_confusion, plot_history, save_figure

        save_figure(plot_history(result.history, f"{model} on {len(x_tr)} training examples"), out / "training.png")
        best = comp.metrics.get("int8_tflm") or comp.metrics["int8_litert"]
        save_figure(plot_confusion(best["confusion"], cfg.labels, "int8 model on the test split"), out / "confusion.png")
    metrics = {
        "task": {"labels": list(cfg.labels), "data": data_desc, "split_method": ds.split_method,
                 "counts": counts, "skipped_files": ds.skipped, "training_examples": int(len(x_tr)),
                 "augment_copies": copies},
        "train": {"epochs_run": result.epochs_run, "best_epoch": result.best_epoch,
                  "seconds": round(result.seconds, 2), "history": result.history},
        "keras": keras_metrics,
        **{k: v for k, v in comp.metrics.items()},
        "tflm_vs_litert": {"differing_outputs": comp.differing_outputs, "max_output_diff_lsb": comp.max_output_diff,
                           "differing_predictions": comp.differing_predictions},
        "model_bytes": {"float": len(float_bytes), "int8": len(int8_bytes)},
        "arena_bytes": arena,
        "sketch": str(sketch) if sketch is not None else None,
        "steps_seconds": steps.seconds,
        "fast": fast,
    }
    atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    return KwsRunResult(out, cfg, metrics, sketch_files)


def format_summary(r: KwsRunResult) -> str:
    """A short, human summary of a run for the terminal."""
    m = r.metrics
    lines = [f"Keyword model: {', '.join(r.config.labels)}  ({m['task']['data']})",
             f"  split: {m['task']['split_method']}",
             f"  test clips: {m['keras']['n']}   epochs: {m['train']['epochs_run']} (best {m['train']['best_epoch']})",
             "  accuracy (balanced) on the test split:"]
    for key, name in (("keras", "Keras float"), ("float", "TFLite float"), ("int8_litert", "int8 on LiteRT"),
                      ("int8_tflm", "int8 on TFLM (the board)")):
        if key in m:
            lines.append(f"    {name:<26} {m[key]['accuracy']:.3f}  ({m[key]['balanced_accuracy']:.3f})")
    d = m["tflm_vs_litert"]
    if d["differing_outputs"] is not None:
        lines.append(f"  TFLM vs LiteRT: {d['differing_outputs']} output values differ (max {d['max_output_diff_lsb']} LSB), "
                     f"{d['differing_predictions']} predictions differ")
    lines.append(f"  model: {m['model_bytes']['int8']} bytes int8 ({m['model_bytes']['float']} float)   "
                 f"arena: {m['arena_bytes']} bytes (TFLM)")
    lines.append(f"  run folder: {r.out}")
    if r.sketch_files:
        lines.append(f"  sketch files: {', '.join(p.name for p in r.sketch_files)} -> {r.sketch_files[0].parent}")
    lines.append("  time per step (s): " + ", ".join(f"{k} {v}" for k, v in m["steps_seconds"].items()))
    return "\n".join(lines)
