"""Visual wake words end to end: images -> MobileNetV1 (scratch or transfer) -> int8 -> TFLM check -> sketch.

Also the pieces the commands and lessons share: scoring an int8 model on images the way the board
feeds it (pixel table, :mod:`tinymlkit.vision.int8_input`), prediction on image files, and the
transfer-versus-scratch measurement.
"""
from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .steps import StepTimer
from ..config import ImageInputConfig, TrainConfig, VwwRunConfig, VwwTaskConfig, save_json
from ..data.image_folder import DatasetError, LoadedImages, load_image_folder, scan_image_folder
from ..data.synth_images import PERSON_LABELS, SHAPE_LABELS, make_person_images, make_shape_images
from ..errors import KitError
from ..evaluate import classification_metrics
from ..files import atomic_write_bytes, atomic_write_text
from ..runtime import LITERT, TFLM, ModelRunner, measure_arena, tflm_available
from ..targets import NANO33BLE
from ..vision.image_io import ImageError, open_image
from ..vision.int8_input import normalize, pixel_to_int8_table, pixels_to_int8
from ..vision.preprocess import preprocess_image

__all__ = [
    "NORMALIZATION",
    "VwwData",
    "VwwRunResult",
    "synthetic_data",
    "folder_data",
    "train_classifier",
    "int8_pixel_table",
    "predict_pixels",
    "score_pixels",
    "run_vww",
    "evaluate_folder",
    "predict_files",
    "epochs_to_accuracy",
    "transfer_vs_scratch",
    "format_summary",
]

# The config's default (ImageInputConfig.normalization), which config.json and model_settings.h carry.
NORMALIZATION = ImageInputConfig().normalization
"""How pixels become model inputs for kit-trained models: pixel / 127.5 - 1 (MobileNet's range)."""

FAST_SIZES = (320, 80, 80)
"""Synthetic images per split (train, validation, test) in fast mode."""
FULL_SIZES = (3000, 500, 500)
"""Synthetic images per split in the full run."""


@dataclasses.dataclass
class VwwData:
    """Images of the three splits as uint8 pixels at the model input size."""

    train: tuple[np.ndarray, np.ndarray]
    """(x uint8 (N, H, W, C), y int32)."""
    validation: tuple[np.ndarray, np.ndarray]
    """Validation split (may be empty)."""
    test: tuple[np.ndarray, np.ndarray]
    """Test split (the validation split where a folder has no test images)."""
    labels: tuple[str, ...]
    """Labels in model output order."""
    description: str
    """Where the images came from, for metrics.json."""
    skipped: tuple[tuple[str, str], ...] = ()
    """Files that could not be used, with the reason."""
    counts: dict[str, Any] = dataclasses.field(default_factory=dict)
    """Images per split and label."""


@dataclasses.dataclass
class VwwRunResult:
    """What :func:`run_vww` produced."""

    out: Path
    """Run folder."""
    config: VwwRunConfig
    """The run's config (also in config.json)."""
    metrics: dict[str, Any]
    """Everything in metrics.json."""
    sketch_files: tuple[Path, ...]
    """Files written into the sketch folder (empty without --sketch)."""


def _counts(y: np.ndarray, labels: Sequence[str]) -> dict[str, int]:
    return {lab: int(np.sum(y == i)) for i, lab in enumerate(labels)}


def synthetic_data(sizes: tuple[int, int, int], image: ImageInputConfig, seed: int = 0) -> VwwData:
    """The offline drawn person / non_person set, each split from its own random stream."""
    if image.width != image.height:
        raise KitError("the synthetic set is square; use --size N (width = height)")
    parts = [make_person_images(n, image.width, image.channels, seed=seed * 3 + k) for k, n in enumerate(sizes)]
    counts = {name: _counts(y, PERSON_LABELS) for name, (_, y) in zip(("train", "validation", "test"), parts)}
    return VwwData(parts[0], parts[1], parts[2], PERSON_LABELS,
                   "synthetic drawn figures (tinymlkit.data.synth_images; not real people)", counts=counts)


def folder_data(root: str | Path, image: ImageInputConfig, labels: Sequence[str] | None = None,
                progress: bool = True) -> VwwData:
    """A labelled image folder (one sub-folder per label), split and loaded at the model input size."""
    index = scan_image_folder(root, labels)
    loaded: dict[str, LoadedImages] = {
        s: load_image_folder(index, s, image.width, image.height, image.channels, progress=progress)
        for s in ("train", "validation", "test")
    }
    skipped = tuple((str(p), r) for li in loaded.values() for p, r in li.skipped)
    if len(loaded["train"].y) == 0:
        raise DatasetError(f"{root}: no usable training images (of {len(index.paths)} files, "
                           f"{len(skipped)} could not be read)")
    test = loaded["test"] if len(loaded["test"].y) else loaded["validation"]
    if len(test.y) == 0:
        raise DatasetError(f"{root}: every image fell in the training split; add images (about 10 % go to "
                           "validation and 10 % to test by a hash of the file name) or use train/ validation/ "
                           "test/ sub-folders")
    counts = {s: _counts(li.y, index.label_names) for s, li in loaded.items()}
    return VwwData((loaded["train"].x, loaded["train"].y), (loaded["validation"].x, loaded["validation"].y),
                   (test.x, test.y), index.label_names, str(root), skipped, counts)


def train_classifier(model: Any, data: VwwData, cfg: TrainConfig, transfer: bool, head_epochs: int | None = None,
                     progress: bool = True) -> dict[str, Any]:
    """Train; with ``transfer`` the base is frozen for the first epochs (new head only), then fine-tuned.

    Returns the history of all epochs (both phases joined) and the seconds spent.
    """
    from ..models.mobilenet import set_base_trainable
    from ..train import fit

    x_tr, y_tr = normalize(data.train[0], NORMALIZATION), data.train[1]
    x_va, y_va = normalize(data.validation[0], NORMALIZATION), data.validation[1]
    phases: list[tuple[str, TrainConfig, bool]] = []
    if transfer and cfg.epochs >= 2:
        n_head = head_epochs if head_epochs is not None else max(1, cfg.epochs // 4)
        n_head = min(n_head, cfg.epochs - 1)
        phases.append(("head (base frozen)", dataclasses.replace(cfg, epochs=n_head), False))
        # Fine-tuning: a tenth of the learning rate, so the pretrained features are adjusted, not erased.
        phases.append(("fine-tune", dataclasses.replace(cfg, epochs=cfg.epochs - n_head,
                                                        learning_rate=cfg.learning_rate / 10), True))
    else:
        phases.append(("all layers", cfg, True))
    history: dict[str, list[float]] = {}
    seconds = 0.0
    phase_epochs = []
    for name, pcfg, trainable in phases:
        set_base_trainable(model, trainable)
        r = fit(model, x_tr, y_tr, x_va, y_va, pcfg, progress=progress, desc=f"MobileNet: {name}")
        for k, v in r.history.items():
            history.setdefault(k, []).extend(v)
        seconds += r.seconds
        phase_epochs.append({"phase": name, "epochs_run": r.epochs_run, "best_epoch": r.best_epoch,
                             "seconds": round(r.seconds, 2)})
    set_base_trainable(model, True)
    return {"history": history, "seconds": seconds, "phases": phase_epochs, "epochs_run": len(history["loss"])}


def int8_pixel_table(runner: ModelRunner, normalization: str = NORMALIZATION) -> np.ndarray:
    """The board's pixel -> int8 table for a model, from its own input scale and zero point."""
    if runner.input_quant is None or runner.input_dtype != np.int8:
        raise KitError(f"the model's input is {runner.input_dtype}, not int8; use model_int8.tflite")
    return pixel_to_int8_table(runner.input_quant.scale, runner.input_quant.zero_point, normalization)


def _check_input(runner: ModelRunner, pixels: np.ndarray, what: str) -> None:
    want = tuple(runner.input_shape[1:])
    if tuple(pixels.shape[1:]) != want:
        raise KitError(f"{what}: images are {pixels.shape[1:]} but the model takes {want}")


def predict_pixels(runner: ModelRunner, pixels: np.ndarray, normalization: str = NORMALIZATION,
                   progress: bool = False) -> np.ndarray:
    """Raw outputs for uint8 images, fed exactly as the board feeds them (int8 table, or float input)."""
    pixels = np.asarray(pixels, dtype=np.uint8)
    _check_input(runner, pixels, "predict")
    if runner.input_dtype == np.int8:
        xs = pixels_to_int8(pixels, int8_pixel_table(runner, normalization))
    else:
        xs = normalize(pixels, normalization)
    rows = np.empty((len(xs), runner.num_outputs), dtype=runner.output_dtype)
    it: Any = range(len(xs))
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(it, desc=f"{runner.backend} inference", unit="img", leave=False)
    for i in it:
        rows[i] = runner.run_raw(xs[i]).reshape(-1)
    return rows


def score_pixels(runner: ModelRunner, pixels: np.ndarray, y: np.ndarray, labels: Sequence[str],
                 normalization: str = NORMALIZATION, progress: bool = False) -> dict[str, Any]:
    """Classification metrics of a model on uint8 images (the board's input path)."""
    if runner.num_outputs != len(labels):
        raise KitError(f"the model has {runner.num_outputs} outputs but {len(labels)} labels were given "
                       f"({', '.join(labels)})")
    raw = predict_pixels(runner, pixels, normalization, progress)
    return classification_metrics(y, np.argmax(raw, axis=1), labels)


def run_vww(out: str | Path, data: str | Path | None = None, alpha: float = 0.25, size: int = 96,
            grayscale: bool = True, epochs: int | None = None, fast: bool = False, weights: str = "none",
            sketch: str | Path | None = None, seed: int = 1234, labels: Sequence[str] | None = None,
            synthetic_sizes: tuple[int, int, int] | None = None, batch_size: int = 32,
            progress: bool = True) -> VwwRunResult:
    """Images -> MobileNetV1 -> int8 -> scores on TFLM -> run folder (and sketch files with ``sketch``).

    ``data=None`` uses the offline synthetic set. ``weights``: 'none' (scratch), 'imagenet', or a
    path to a model.keras of an earlier run (transfer learning from its base).
    """
    from ..models.mobilenet import load_base_weights, mobilenet_v1

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    steps = StepTimer("vww", quiet=not progress)
    channels = 1 if grayscale else 3
    image = ImageInputConfig(width=size, height=size, channels=channels)
    n_epochs = epochs if epochs is not None else (3 if fast else 20)
    train_cfg = TrainConfig(model="mobilenet_v1", epochs=n_epochs, batch_size=batch_size, learning_rate=0.001,
                            patience=max(3, n_epochs // 3), seed=seed)
    with steps("data"):
        if data is None:
            d = synthetic_data(synthetic_sizes or (FAST_SIZES if fast else FULL_SIZES), image, seed)
        else:
            d = folder_data(data, image, labels, progress)
            if fast:
                d.train = (d.train[0][:FAST_SIZES[0]], d.train[1][:FAST_SIZES[0]])
    cfg = VwwRunConfig(image=image, task=VwwTaskConfig(labels=tuple(d.labels), alpha=alpha), train=train_cfg)
    with steps("train"):
        from ..train import set_seed

        set_seed(seed)
        model = mobilenet_v1((size, size, channels), len(d.labels), alpha)
        start = load_base_weights(model, weights, alpha)
        tr = train_classifier(model, d, train_cfg, transfer=str(weights) != "none", progress=progress)
        x_te, y_te = d.test
        keras_probs = model.predict(normalize(x_te, NORMALIZATION), verbose=0, batch_size=256)
        keras_metrics = classification_metrics(y_te, np.argmax(keras_probs, 1), d.labels)
    with steps("convert"):
        from ..convert import representative_sample, to_float_tflite, to_int8_tflite

        float_bytes = to_float_tflite(model)
        # Representative set: a sample of training images plus a black and a white one, so the input
        # range is the whole -1..1 and the converter picks scale 2/255: pixel - 128 on the board.
        ends = np.stack([np.zeros_like(d.train[0][0]), np.full_like(d.train[0][0], 255)])
        rep = np.concatenate([ends, representative_sample(d.train[0], 298, seed)])
        int8_bytes = to_int8_tflite(model, normalize(rep, NORMALIZATION), max_samples=len(rep))
        atomic_write_bytes(out / "model_float.tflite", float_bytes)
        atomic_write_bytes(out / "model_int8.tflite", int8_bytes)
        model.save(out / "model.keras")
        save_json(cfg, out / "config.json")
    with steps("evaluate"):
        scores = {"float": score_pixels(ModelRunner(float_bytes, backend=LITERT), x_te, y_te, d.labels,
                                        progress=progress)}
        backend = TFLM if tflm_available() else LITERT
        int8_runner = ModelRunner(int8_bytes, backend=backend)
        scores[f"int8_{backend}"] = score_pixels(int8_runner, x_te, y_te, d.labels, progress=progress)
        arena = measure_arena(int8_bytes).arena_bytes if tflm_available() else None
        table = int8_pixel_table(int8_runner)
    sketch_files: tuple[Path, ...] = ()
    if sketch is not None:
        with steps("export"):
            from ..export import export_model

            sketch_files = export_model(out / "model_int8.tflite", out / "config.json", sketch,
                                        arena_measured=arena).files
    with steps("plots"):
        from ..plots import plot_confusion, plot_history, save_figure

        save_figure(plot_history(tr["history"], f"MobileNetV1 alpha {alpha} on {len(d.train[1])} images"),
                    out / "training.png")
        best = scores.get("int8_tflm") or scores[f"int8_{backend}"]
        save_figure(plot_confusion(best["confusion"], d.labels, "int8 model on the test split"), out / "confusion.png")
    from ..models.mobilenet import layer_costs

    costs = layer_costs(model)
    iq = int8_runner.input_quant
    metrics = {
        "task": {"labels": list(d.labels), "data": d.description, "counts": d.counts,
                 "skipped_files": [{"file": f, "reason": r} for f, r in d.skipped],
                 "training_examples": int(len(d.train[1])), "test_examples": int(len(y_te))},
        "model": {"architecture": "MobileNetV1", "alpha": alpha, "input": [size, size, channels],
                  "params": int(model.count_params()), "macs": int(sum(c.macs for c in costs)),
                  "start_weights": start},
        "input_conversion": {"normalization": NORMALIZATION, "input_scale": iq.scale if iq else None,
                             "input_zero_point": iq.zero_point if iq else None,
                             "pixel_table_is_pixel_minus_128": bool(np.array_equal(
                                 table.astype(int), np.arange(256) - 128))},
        "train": {"epochs_run": tr["epochs_run"], "phases": tr["phases"], "seconds": round(tr["seconds"], 2),
                  "seconds_per_epoch": round(tr["seconds"] / max(1, tr["epochs_run"]), 2),
                  "history": tr["history"]},
        "keras": keras_metrics,
        **scores,
        "model_bytes": {"float": len(float_bytes), "int8": len(int8_bytes)},
        "arena_bytes": arena,
        "budget": {"board": NANO33BLE.board, "flash_bytes": NANO33BLE.flash_bytes, "ram_bytes": NANO33BLE.ram_bytes,
                   "model_share_of_flash": round(len(int8_bytes) / NANO33BLE.flash_bytes, 4),
                   "arena_share_of_ram": round(arena / NANO33BLE.ram_bytes, 4) if arena else None},
        "sketch": str(sketch) if sketch is not None else None,
        "steps_seconds": steps.seconds,
        "fast": fast,
    }
    atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    return VwwRunResult(out, cfg, metrics, sketch_files)


def evaluate_folder(model: str | Path, data: str | Path, labels: Sequence[str], backend: str | None = None,
                    normalization: str = NORMALIZATION, progress: bool = False) -> dict[str, Any]:
    """Score an image classifier on every image of a labelled folder (all splits), as the board would."""
    runner = ModelRunner(model, backend=backend)
    if len(runner.input_shape) != 4:
        raise KitError(f"{model}: input shape {runner.input_shape} is not an image (batch, height, width, channels)")
    _, h, w, c = runner.input_shape
    index = scan_image_folder(data, labels)
    loaded = load_image_folder(index, None, w, h, c, progress=progress)
    if len(loaded.y) == 0:
        raise DatasetError(f"{data}: none of the {len(index.paths)} images could be read")
    metrics = score_pixels(runner, loaded.x, loaded.y, labels, normalization, progress)
    metrics["backend"] = runner.backend
    metrics["skipped_files"] = [{"file": str(p), "reason": r} for p, r in loaded.skipped]
    return metrics


def predict_files(model: str | Path, paths: Sequence[str | Path], labels: Sequence[str] | None = None,
                  backend: str | None = None, normalization: str = NORMALIZATION) -> list[dict[str, Any]]:
    """Scores for each image file; a bad file gets an 'error' entry and the others still run."""
    runner = ModelRunner(model, backend=backend)
    _, h, w, c = runner.input_shape
    names = list(labels) if labels else [str(i) for i in range(runner.num_outputs)]
    if len(names) != runner.num_outputs:
        raise KitError(f"the model has {runner.num_outputs} outputs but {len(names)} labels were given")
    results = []
    for p in paths:
        try:
            pixels = preprocess_image(open_image(p), w, h, c)
        except ImageError as e:
            results.append({"file": str(p), "error": str(e)})
            continue
        raw = predict_pixels(runner, pixels[None], normalization)[0]
        probs = runner.from_output(raw)
        k = int(np.argmax(raw))
        results.append({"file": str(p), "label": names[k], "index": k,
                        "scores": {n: round(float(v), 4) for n, v in zip(names, probs)},
                        "raw": [int(v) if runner.output_dtype.kind == "i" else float(v) for v in raw]})
    return results


def epochs_to_accuracy(history: dict[str, list[float]], target: float, key: str = "val_accuracy") -> int | None:
    """First epoch (1-based) at which ``key`` reaches ``target``; None if it never does."""
    for i, v in enumerate(history.get(key, [])):
        if v >= target:
            return i + 1
    return None


def _task_images(task: str, n: int, size: int, channels: int, seed: int) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    if task == "person":
        x, y = make_person_images(n, size, channels, seed=seed)
        return x, y, PERSON_LABELS
    if task == "shapes":
        x, y = make_shape_images(n, size, channels, seed=seed)
        return x, y, SHAPE_LABELS
    raise ValueError(f"unknown synthetic task {task!r}; use 'person' or 'shapes'")


def transfer_vs_scratch(out: str | Path, size: int = 96, alpha: float = 0.25, channels: int = 1,
                        pretrain_task: str = "person", pretrain_images: int = 2000, pretrain_epochs: int = 6,
                        target_task: str = "person", target_sizes: tuple[int, int] = (300, 200), epochs: int = 8,
                        target: float = 0.75, seed: int = 7, progress: bool = False) -> dict[str, Any]:
    """The offline transfer-learning lesson, measured.

    Pre-train a base on a large synthetic set (the stand-in for ImageNet), then train a small target
    set twice with the same budget: from that base (new head first, then fine-tuning) and from scratch.
    Reports the epochs each needs to reach ``target`` validation accuracy (None: not within ``epochs``).
    The default target is a small person set drawn from other random streams (a learner's own small
    folder); ``target_task="shapes"`` asks the harder cross-task question.
    """
    from ..models.mobilenet import load_base_weights, mobilenet_v1
    from ..train import set_seed

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    xs, ys, pre_labels = _task_images(pretrain_task, pretrain_images, size, channels, seed)
    n_val = max(len(pre_labels) * 10, pretrain_images // 8)
    pre_data = VwwData((xs[n_val:], ys[n_val:]), (xs[:n_val], ys[:n_val]), (xs[:n_val], ys[:n_val]), pre_labels,
                       pretrain_task)
    cfg = TrainConfig(model="mobilenet_v1", epochs=pretrain_epochs, batch_size=32, learning_rate=0.002,
                      patience=pretrain_epochs, seed=seed)
    set_seed(seed)
    pre = mobilenet_v1((size, size, channels), len(pre_labels), alpha)
    t0 = time.perf_counter()
    pre_hist = train_classifier(pre, pre_data, cfg, transfer=False, progress=progress)
    pretrain_seconds = time.perf_counter() - t0
    base_path = out / f"{pretrain_task}_base.keras"
    pre.save(base_path)
    xt, yt, labels = _task_images(target_task, sum(target_sizes), size, channels, seed + 1)
    n_tr = target_sizes[0]
    task_data = VwwData((xt[:n_tr], yt[:n_tr]), (xt[n_tr:], yt[n_tr:]), (xt[n_tr:], yt[n_tr:]), labels, target_task)
    task_cfg = TrainConfig(model="mobilenet_v1", epochs=epochs, batch_size=32, learning_rate=0.002,
                           patience=epochs, seed=seed)
    runs = {}
    for name, weights in (("scratch", "none"), ("transfer", str(base_path))):
        set_seed(seed)
        m = mobilenet_v1((size, size, channels), len(labels), alpha)
        load_base_weights(m, weights, alpha)
        r = train_classifier(m, task_data, task_cfg, transfer=weights != "none", progress=progress)
        runs[name] = {"epochs_to_target": epochs_to_accuracy(r["history"], target),
                      "best_val_accuracy": round(max(r["history"]["val_accuracy"]), 4),
                      "val_accuracy": [round(v, 4) for v in r["history"]["val_accuracy"]],
                      "seconds": round(r["seconds"], 2), "phases": r["phases"]}
    return {"target_val_accuracy": target,
            "pretrain": {"task": f"{pretrain_task} ({'/'.join(pre_labels)})", "images": pretrain_images,
                         "epochs": pretrain_epochs,
                         "final_val_accuracy": round(pre_hist["history"]["val_accuracy"][-1], 4),
                         "seconds": round(pretrain_seconds, 2), "base": str(base_path)},
            "task": {"name": f"{target_task} ({'/'.join(labels)})", "train_images": target_sizes[0],
                     "validation_images": target_sizes[1], "epochs": epochs},
            "size": [size, size, channels], "alpha": alpha, **runs}


def format_summary(r: VwwRunResult) -> str:
    """A short, human summary of a run for the terminal."""
    m = r.metrics
    lines = [f"Person detector: MobileNetV1 alpha {m['model']['alpha']} at {'x'.join(map(str, m['model']['input']))} "
             f"({m['task']['data']})",
             f"  start: {m['model']['start_weights']}   params: {m['model']['params']:,}   MACs: {m['model']['macs']:,}",
             f"  train/test images: {m['task']['training_examples']}/{m['task']['test_examples']}   "
             f"epochs: {m['train']['epochs_run']} ({m['train']['seconds_per_epoch']} s each)",
             "  accuracy (balanced) on the test split:"]
    for key, name in (("keras", "Keras float"), ("float", "TFLite float"), ("int8_litert", "int8 on LiteRT"),
                      ("int8_tflm", "int8 on TFLM (the board)")):
        if key in m:
            lines.append(f"    {name:<26} {m[key]['accuracy']:.3f}  ({m[key]['balanced_accuracy']:.3f})")
    b = m["budget"]
    lines.append(f"  model: {m['model_bytes']['int8']:,} bytes int8 = {b['model_share_of_flash']:.1%} of 1 MB flash;  "
                 f"arena: {m['arena_bytes']:,} bytes = {b['arena_share_of_ram']:.1%} of 256 KB RAM"
                 if m["arena_bytes"] else f"  model: {m['model_bytes']['int8']:,} bytes int8 (arena not measured)")
    if m["task"]["skipped_files"]:
        lines.append(f"  skipped {len(m['task']['skipped_files'])} unreadable image(s): see metrics.json")
    lines.append(f"  run folder: {r.out}")
    if r.sketch_files:
        lines.append(f"  sketch files: {', '.join(p.name for p in r.sketch_files)} -> {r.sketch_files[0].parent}")
    return "\n".join(lines)
