"""MFCC and log-mel versus the board's micro features: one small model trained on each, on the same split.

What notebook 02 and ``benchmarks/bench_frontends.py`` measure: balanced accuracy and recall per class
(int8 on TFLM), the model's size, arena and multiply-accumulates on each input shape, the front end's
arithmetic per one-second clip (counted by formula) and its time per clip in Python on the host.
"""
from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..config import AudioFrontendConfig, KwsRunConfig, KwsTaskConfig, TrainConfig
from ..errors import KitError

__all__ = ["FRONTENDS", "FrontendComparisonConfig", "frontend_function", "frontend_ops", "seconds_per_clip",
           "compare_frontends", "frontend_rows"]

FRONTENDS = ("micro", "log_mel", "mfcc")
"""Front ends compared: the board's micro features (TensorFlow's audio_microfrontend op, the C library
TFLM runs), librosa log-mel energies in dB framed the same way, and MFCCs (a DCT of those log-mels)."""


@dataclasses.dataclass(frozen=True)
class FrontendComparisonConfig:
    """One comparison: the task, the model trained on each front end, and its training."""

    frontends: tuple[str, ...] = FRONTENDS
    """Which front ends to train on (names in ``FRONTENDS``)."""
    n_mfcc: int = 10
    """MFCC coefficients kept per frame (10 is the MLPerf Tiny keyword-spotting input, 49x10)."""
    words: tuple[str, ...] = ("yes", "no")
    """Keywords; silence and unknown are added as in every keyword task of the kit."""
    unknown_percentage: float = 300.0
    """Training unknown clips as a percentage of keyword clips (``run_kws``'s default)."""
    silence_percentage: float = 50.0
    """Training silence clips as a percentage of keyword clips (``run_kws``'s default)."""
    model: str = "tiny_conv"
    """Keyword model trained on each front end (``tiny_conv`` or ``ds_cnn``)."""
    epochs: int = 40
    """Most training epochs (early stopping on validation balanced accuracy ends most runs sooner)."""
    patience: int = 10
    """Epochs without a better validation balanced accuracy before training stops."""
    copies: int = 3
    """Augmented copies of each training clip (the same clips, shifts and noise for every front end)."""
    seed: int = 1234
    """Seed of the augmentation and the weights (and of which unknown clips training keeps)."""
    split_salt: str = ""
    """Salt of the speaker split (``KwsTaskConfig.split_salt``): another salt holds out other speakers."""
    timing_clips: int = 100
    """Clips timed one at a time per front end for the Python time per clip."""
    standardise: bool = True
    """Shift and scale each front end's features by its training mean and spread (one scalar pair, which
    the int8 input quantisation absorbs); False trains on the raw values (micro features 0..26, log-mel in dB)."""

    def __post_init__(self) -> None:
        bad = [f for f in self.frontends if f not in FRONTENDS]
        if bad or not self.frontends:
            raise KitError(f"frontends {list(self.frontends)}: choose among {', '.join(FRONTENDS)}")
        if not 1 <= self.n_mfcc <= 40:
            raise KitError(f"n_mfcc {self.n_mfcc}: give 1 to 40")
        if self.epochs < 1 or self.copies < 1 or self.patience < 1 or self.timing_clips < 1:
            raise KitError("epochs, patience, copies and timing_clips must each be at least 1")


def frontend_function(name: str, audio: AudioFrontendConfig = AudioFrontendConfig(),
                      n_mfcc: int = 10) -> Callable[[np.ndarray], np.ndarray]:
    """``clip -> frames x bins`` for one front end: 49x40 (micro, log_mel) or 49x``n_mfcc`` (mfcc)."""
    from ..audio.features import log_mel, mfcc, micro_features

    if name == "micro":
        return lambda clip: micro_features(clip, audio)
    if name == "log_mel":
        return lambda clip: log_mel(clip, audio)
    if name == "mfcc":
        return lambda clip: mfcc(clip, audio, n_mfcc=n_mfcc)
    raise KitError(f"unknown front end {name!r}; choose among {', '.join(FRONTENDS)}")


def frontend_ops(name: str, audio: AudioFrontendConfig = AudioFrontendConfig(), n_mfcc: int = 10) -> dict[str, int]:
    """Arithmetic of one front end on one clip, step by step, counted by formula (not measured).

    Every front end here frames the clip the same way, windows each frame, takes a real FFT, squares
    it and sums it into mel bands. Counts per clip: ``window`` one multiply per sample;
    ``fft`` the usual 5 N log2 N real operations of a radix-2 complex FFT of N points, halved for a real
    input; ``power`` 3 per bin (two squares, one add); ``filterbank`` two per non-zero filter weight
    (a multiply-accumulate); ``log`` one logarithm per band; ``dct`` two per (band, coefficient) pair.
    The micro frontend does the same in fixed point and adds, per band, noise reduction and PCAN
    (``per_band_steps``: the number of band values they touch, each a handful of integer operations).
    """
    from ..audio import spectral

    frames = audio.num_frames
    n_fft = spectral.fft_size(audio.window_samples)
    bins = n_fft // 2 + 1
    fb = spectral.mel_filterbank(audio.sample_rate, n_fft, audio.feature_bins, audio.lower_band_limit,
                                 audio.upper_band_limit)
    per_frame = {"window": audio.window_samples, "fft": int(round(2.5 * n_fft * math.log2(n_fft))),
                 "power": 3 * bins, "filterbank": 2 * int(np.count_nonzero(fb)), "log": audio.feature_bins}
    if name == "mfcc":
        per_frame["dct"] = 2 * audio.feature_bins * n_mfcc
    elif name == "micro":
        per_frame["per_band_steps"] = audio.feature_bins * (2 if audio.enable_pcan else 1)
    elif name != "log_mel":
        raise KitError(f"unknown front end {name!r}; choose among {', '.join(FRONTENDS)}")
    out = {k: v * frames for k, v in per_frame.items()}
    out["total"] = sum(out.values())
    return out


def seconds_per_clip(featurize: Callable[[np.ndarray], np.ndarray], clips: Sequence[np.ndarray],
                     repeats: int = 3) -> float:
    """Median over ``repeats`` of the mean time one clip takes, clips fed one at a time (host Python)."""
    if not clips:
        raise KitError("no clips to time")
    featurize(clips[0])  # libraries load and compile outside the timing
    times = []
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        for c in clips:
            featurize(c)
        times.append((time.perf_counter() - t0) / len(clips))
    return float(np.median(times))


def _standardise(x_tr: np.ndarray, *others: np.ndarray) -> tuple[tuple[float, float], list[np.ndarray]]:
    # One scalar shift and scale for the whole input: it folds into the int8 input's scale and zero point.
    mean, std = float(x_tr.mean()), float(x_tr.std()) or 1.0
    return (mean, std), [((x - mean) / std).astype(np.float32) for x in (x_tr, *others)]


def compare_frontends(roots: Sequence[str | Path], cfg: FrontendComparisonConfig = FrontendComparisonConfig(),
                      progress: bool = False, threads: int | None = None) -> dict[str, Any]:
    """Train ``cfg.model`` on each front end's features of the same clips and score it int8 on TFLM.

    One speaker-disjoint split (``draw_dataset``) and one augmentation recipe for all: the clips, time
    shifts and background noise are the same; only the features differ. Speed, vocal-tract, room and
    level perturbation of the words is applied to the clip (before any front end); the micro pipeline's
    feature-level vocal-tract warp is left out because it assumes mel bands. Each front end's features
    are shifted and scaled by one scalar pair (training mean and spread), which the int8 input
    quantisation absorbs, so no front end is favoured by its value range.

    Returns ``{"split": ..., "counts": ..., "results": {name: {...}}}``; each result holds
    ``feature_shape``, ``int8`` (classification metrics of the int8 model on the test split, on TFLM
    where it is installed), ``keras`` (float), ``model_bytes``, ``arena_bytes``, ``macs``,
    ``latency_ms`` (the kit's estimate for the Nano 33 BLE Sense), ``ops_per_clip`` (``frontend_ops``),
    ``host_ms_per_clip`` (``seconds_per_clip`` x 1000), ``epochs_run``, ``best_epoch``,
    ``train_seconds``, ``standardise`` (mean, std), ``int8_step`` (one step of the int8 input, in the front
    end's own units: micro units, dB, MFCC units) and ``least_varying_value_in_steps`` (the spread of the
    input value that varies least over the training clips, counted in int8 steps: how finely the int8
    input resolves it).
    """
    from ..audio.perturb import make_perturber
    from ..convert import to_int8_tflite
    from ..data.speech_commands import clip_for
    from ..evaluate import classification_metrics, compare_runtimes
    from ..inspect import inspect_model
    from ..models import build_kws_model
    from ..runtime import ModelRunner
    from ..train import fit, limit_threads, set_seed
    from .kws import DEFAULT_PERTURB, balanced_class_weights, draw_dataset, prepare_features

    limit_threads(threads)
    task = KwsTaskConfig(words=tuple(cfg.words), unknown_percentage=cfg.unknown_percentage,
                         silence_percentage=cfg.silence_percentage, split_salt=cfg.split_salt)
    train_cfg = TrainConfig(model=cfg.model, epochs=cfg.epochs, patience=cfg.patience, seed=cfg.seed)
    run_cfg = KwsRunConfig(task=task, train=train_cfg)
    a = run_cfg.audio
    ds = draw_dataset([Path(r) for r in roots], task, seed=cfg.seed)
    if not ds.items["training"] or not ds.items["testing"]:
        raise KitError(f"{', '.join(map(str, roots))}: the split left no training or no test clips ({ds.split_method})")
    timing = [clip_for(p, a.sample_rate, a.clip_samples) for p, _ in ds.items["testing"] if p is not None]
    timing = timing[:cfg.timing_clips]
    results: dict[str, Any] = {}
    for name in cfg.frontends:
        featurize = frontend_function(name, a, cfg.n_mfcc)
        perturb = make_perturber(DEFAULT_PERTURB, a.sample_rate)
        x_tr, y_tr = prepare_features(ds, run_cfg, "training", cfg.copies, cfg.seed, progress, perturb,
                                      featurize=featurize)
        x_va, y_va = prepare_features(ds, run_cfg, "validation", 1, cfg.seed, progress, featurize=featurize)
        x_te, y_te = prepare_features(ds, run_cfg, "testing", 1, cfg.seed, progress, featurize=featurize)
        if len(x_va) == 0:
            x_va, y_va = x_te, y_te
        bin_std = float(x_tr.reshape(len(x_tr), -1).std(axis=0).min()) if len(x_tr) else 0.0
        mean, std = 0.0, 1.0
        if cfg.standardise:
            (mean, std), (x_tr, x_va, x_te) = _standardise(x_tr, x_va, x_te)
        set_seed(cfg.seed)
        model = build_kws_model(cfg.model, tuple(x_tr.shape[1:]), len(run_cfg.labels))
        tr = fit(model, x_tr, y_tr, x_va, y_va, train_cfg, progress=progress, desc=f"{cfg.model} on {name}",
                 class_weight=balanced_class_weights(y_tr, len(run_cfg.labels)))
        keras_m = classification_metrics(y_te, np.argmax(model.predict(x_te, verbose=0, batch_size=256), 1),
                                         run_cfg.labels)
        int8 = to_int8_tflite(model, x_tr)
        comp = compare_runtimes(None, int8, x_te, y_te, run_cfg.labels)
        board = comp.metrics.get("int8_tflm") or comp.metrics["int8_litert"]
        report = inspect_model(int8, target="nano33ble")
        qp = ModelRunner(int8).input_quant
        step = float(qp.scale) * std if qp is not None else None  # one int8 input step, in feature units
        results[name] = {
            "feature_shape": list(x_tr.shape[1:]),
            "int8": {**board, "backend": "tflm" if "int8_tflm" in comp.metrics else "litert"},
            "keras": keras_m, "model_bytes": report.model_bytes, "arena_bytes": report.arena_bytes,
            "macs": report.macs, "latency_ms": round(report.target.latency_ms, 2) if report.target else None,
            "ops_per_clip": frontend_ops(name, a, cfg.n_mfcc),
            "host_ms_per_clip": round(1000 * seconds_per_clip(featurize, timing), 3),
            "epochs_run": tr.epochs_run, "best_epoch": tr.best_epoch, "train_seconds": round(tr.seconds, 1),
            "standardise": [round(mean, 4), round(std, 4)],
            "int8_step": None if step is None else round(step, 4),
            "least_varying_value_in_steps": None if not step else round(bin_std / step, 2),
        }
    return {"split": ds.split_method, "counts": ds.counts(), "config": dataclasses.asdict(cfg), "results": results}


def frontend_rows(comparison: dict[str, Any]) -> list[dict[str, Any]]:
    """One flat row per front end (for a table): accuracy, recall per class, cost on the board and host."""
    rows = []
    for name, r in comparison["results"].items():
        m = r["int8"]
        rows.append({"front end": name, "input": "x".join(map(str, r["feature_shape"])),
                     "balanced (int8)": round(m["balanced_accuracy"], 3),
                     **{f"recall {k}": (None if v is None else round(v, 2)) for k, v in m["per_class"].items()},
                     "model KB": round(r["model_bytes"] / 1024, 1),
                     "arena KB": None if r["arena_bytes"] is None else round(r["arena_bytes"] / 1024, 1),
                     "model MACs": r["macs"], "front-end ops/clip": r["ops_per_clip"]["total"],
                     "host ms/clip": r["host_ms_per_clip"]})
    return rows
