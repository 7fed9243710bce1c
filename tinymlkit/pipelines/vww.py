"""Visual wake words end to end: images -> MobileNetV1 (scratch, ImageNet or the real person detector) -> int8
-> TFLM check -> sketch.

Also the pieces the commands and lessons share: scoring an int8 model on images the way the board
feeds it (:class:`tinymlkit.board_input.BoardInput`, built from the run's config and the model),
prediction on image files, scores on real photos beside the training data's own test split, and the
resolution sweep. The transfer-versus-scratch lessons are in ``vww_lesson``.

The synthetic drawn set is a **pipeline smoke test**: it runs every step offline, and a model trained
on it does not find real people. Every run says what its model was trained on, and with real photos
at hand (``real_eval``) reports its accuracy on them beside the test split's.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..board_input import BoardInput
from ..config import ImageInputConfig, TrainConfig, VwwRunConfig, VwwTaskConfig
from ..data.image_folder import DatasetError, LoadedImages, load_image_folder, load_images, scan_image_folder
from ..data.synth_images import PERSON_LABELS, make_person_images
from ..errors import KitError
from ..evaluate import classification_metrics
from ..runtime import LITERT, TFLM, ModelRunner, tflm_available
from ..targets import NANO33BLE
from ..train import set_seed, train_classifier
from ..vision.image_io import ImageError, open_image
from ..vision.int8_input import DEFAULT_NORMALIZATION, normalize
from .steps import StepTimer
from .tail import RunResult, board_arena, export_sketch, finish, save_models, save_plots

__all__ = [
    "SYNTHETIC_NAME",
    "REAL_BASE",
    "VwwData",
    "RealPhotos",
    "synthetic_data",
    "folder_data",
    "load_real_photos",
    "run_config_for",
    "int8_pixel_table",
    "predict_pixels",
    "score_pixels",
    "run_vww",
    "evaluate_folder",
    "predict_files",
    "reference_agreement",
    "split_photos",
    "resolution_sweep",
    "format_summary",
]

SYNTHETIC_NAME = "synthetic drawn figures (pipeline smoke test: not real people)"
"""How runs name the offline synthetic set, everywhere."""
REAL_BASE = "person_detect"
"""``weights`` value that starts from the TFLM example's real person detector (``person_detect.tflite``)."""

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
    synthetic: bool = False
    """True for the drawn pipeline smoke-test set."""


@dataclasses.dataclass(frozen=True)
class RealPhotos:
    """Labelled real photos at the model input size, for scoring (never for training in the same run)."""

    x: np.ndarray
    """uint8 (N, H, W, C)."""
    y: np.ndarray
    """int32 labels."""
    labels: tuple[str, ...]
    """Label names in model output order."""
    paths: tuple[Path, ...]
    """File of each photo."""
    description: str
    """Where they came from."""
    skipped: tuple[tuple[Path, str], ...] = ()
    """Files that could not be read, with the reason."""


def _counts(y: np.ndarray, labels: Sequence[str]) -> dict[str, int]:
    return {lab: int(np.sum(y == i)) for i, lab in enumerate(labels)}


def synthetic_data(sizes: tuple[int, int, int], image: ImageInputConfig, seed: int = 0) -> VwwData:
    """The offline drawn person / non_person set (a pipeline smoke test), each split from its own random stream."""
    if image.width != image.height:
        raise KitError("the synthetic set is square; use --size N (width = height)")
    parts = [make_person_images(n, image.width, image.channels, seed=seed * 3 + k) for k, n in enumerate(sizes)]
    counts = {name: _counts(y, PERSON_LABELS) for name, (_, y) in zip(("train", "validation", "test"), parts)}
    return VwwData(parts[0], parts[1], parts[2], PERSON_LABELS, SYNTHETIC_NAME, counts=counts, synthetic=True)


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
                   (test.x, test.y), index.label_names, f"real photos from {root}", skipped, counts)


def _label_roots(root: Path, labels: Sequence[str]) -> list[Path]:
    """``root`` if it holds the label folders, else each sub-folder that does (e.g. one per photo source)."""
    if all((root / lab).is_dir() for lab in labels):
        return [root]
    subs = [d for d in sorted(root.iterdir()) if d.is_dir() and all((d / lab).is_dir() for lab in labels)]
    if not subs:
        raise DatasetError(f"{root}: neither it nor any sub-folder holds the label folders {list(labels)}")
    return subs


def load_real_photos(root: str | Path, image: ImageInputConfig | None = None,
                     labels: Sequence[str] = PERSON_LABELS, progress: bool = False) -> RealPhotos:
    """Every labelled photo under ``root`` (label folders in it, or in each of its sub-folders), all splits."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: no such folder of real photos (it should hold person/ and non_person/ "
                           "folders, or sub-folders that do)")
    im = image or ImageInputConfig()
    xs, ys, paths, skipped = [], [], [], []
    for sub in _label_roots(root, labels):
        idx = scan_image_folder(sub, tuple(labels))
        li = load_images(idx.paths, idx.labels, im.width, im.height, im.channels, progress=progress,
                         desc=f"photos in {sub.name}")
        xs.append(li.x)
        ys.append(li.y)
        paths += li.paths
        skipped += li.skipped
    x, y = np.concatenate(xs), np.concatenate(ys)
    if len(y) == 0:
        raise DatasetError(f"{root}: none of the photos could be read")
    return RealPhotos(x, y, tuple(labels), tuple(paths), f"real photos in {root}", tuple(skipped))


def run_config_for(runner: ModelRunner, labels: Sequence[str] | None = None,
                   normalization: str = DEFAULT_NORMALIZATION) -> VwwRunConfig:
    """A run config describing a model that came without one (input shape from the model itself)."""
    if len(runner.input_shape) != 4:
        raise KitError(f"input shape {runner.input_shape} is not an image (batch, height, width, channels)")
    _, h, w, c = runner.input_shape
    names = tuple(labels) if labels else tuple(str(i) for i in range(runner.num_outputs))
    return VwwRunConfig(image=ImageInputConfig(width=w, height=h, channels=c, normalization=normalization),
                        task=VwwTaskConfig(labels=names))


def _board(runner: ModelRunner | BoardInput, normalization: str | None, labels: Sequence[str] | None = None
           ) -> BoardInput:
    if isinstance(runner, BoardInput):
        if normalization is not None and normalization != runner.config.image.normalization:
            raise KitError(f"normalisation {normalization!r} given, but the run config says "
                           f"{runner.config.image.normalization!r}")
        return runner
    return BoardInput(run_config_for(runner, labels, normalization or DEFAULT_NORMALIZATION), runner)


def int8_pixel_table(runner: ModelRunner | BoardInput, normalization: str | None = None) -> np.ndarray:
    """The board's pixel -> int8 table for a model, from its own input scale and zero point."""
    return _board(runner, normalization).pixel_table


def predict_pixels(runner: ModelRunner | BoardInput, pixels: np.ndarray, normalization: str | None = None,
                   progress: bool = False) -> np.ndarray:
    """Raw outputs for uint8 images, fed exactly as the board feeds them (int8 table, or float input).

    Pass a :class:`BoardInput` (built from the run's config) to use the run's normalisation; a bare
    runner uses ``normalization`` (default: the kit's, pixel / 127.5 - 1).
    """
    board = _board(runner, normalization)
    return board.run_batch(board.pixels_to_input(pixels), progress=progress)


def score_pixels(runner: ModelRunner | BoardInput, pixels: np.ndarray, y: np.ndarray, labels: Sequence[str],
                 normalization: str | None = None, progress: bool = False) -> dict[str, Any]:
    """Classification metrics of a model on uint8 images (the board's input path)."""
    n_out = runner.runner.num_outputs if isinstance(runner, BoardInput) else runner.num_outputs
    if n_out != len(labels):
        raise KitError(f"the model has {n_out} outputs but {len(labels)} labels were given ({', '.join(labels)})")
    raw = predict_pixels(runner, pixels, normalization, progress)
    return classification_metrics(y, np.argmax(raw, axis=1), labels)


def reference_agreement(model: Any, reference: ModelRunner | str | Path, pixels: np.ndarray,
                        normalization: str = DEFAULT_NORMALIZATION) -> dict[str, Any]:
    """How a float Keras model and an int8 .tflite agree on the same images (argmax and probabilities)."""
    ref = reference if isinstance(reference, ModelRunner) else ModelRunner(reference)
    probs_ref = ref.from_output(predict_pixels(ref, pixels, normalization))
    probs_keras = np.asarray(model.predict(normalize(pixels, normalization), verbose=0, batch_size=64))
    same = np.argmax(probs_ref, 1) == np.argmax(probs_keras, 1)
    diff = np.abs(probs_ref - probs_keras)
    return {"n": int(len(pixels)), "same_prediction": int(same.sum()),
            "max_probability_difference": round(float(diff.max()), 4),
            "mean_probability_difference": round(float(diff.mean()), 4),
            "reference_backend": ref.backend}


def _is_real_base(weights: Any) -> bool:
    w = str(weights)
    return w in (REAL_BASE, "person-detect") or w.endswith(".tflite")


def _start_model(weights: Any, image: ImageInputConfig, n_labels: int, alpha: float,
                 progress: bool) -> tuple[Any, str]:
    from ..models.mobilenet import load_base_weights, mobilenet_v1

    model = mobilenet_v1((image.height, image.width, image.channels), n_labels, alpha)
    if not _is_real_base(weights):
        return model, load_base_weights(model, weights, alpha)
    from ..models.mobilenet import WeightsError
    from ..models.person_detect_base import load_person_detect_weights

    if (image.width, image.height, image.channels, alpha) != (96, 96, 1, 0.25):
        raise WeightsError(f"the real person detector is MobileNetV1 alpha 0.25 at 96x96 grayscale; this run asks "
                           f"for alpha {alpha} at {image.width}x{image.height}x{image.channels}. Use --size 96 "
                           "--alpha 0.25 --grayscale, or --weights imagenet / none")
    path = None if str(weights) in (REAL_BASE, "person-detect") else weights
    return model, load_person_detect_weights(model, path, head=True, progress=progress)


def _score_real(board: BoardInput, photos: RealPhotos, labels: Sequence[str]) -> dict[str, Any]:
    if tuple(photos.labels) != tuple(labels):
        raise KitError(f"the real photos are labelled {list(photos.labels)}, the model {list(labels)}")
    m = classification_metrics(photos.y, np.argmax(predict_pixels(board, photos.x), 1), labels)
    m["data"] = photos.description
    m["skipped_files"] = [{"file": str(p), "reason": r} for p, r in photos.skipped]
    return m


def run_vww(out: str | Path, data: str | Path | VwwData | None = None, alpha: float = 0.25, size: int = 96,
            grayscale: bool = True, epochs: int | None = None, fast: bool = False, weights: str = "none",
            sketch: str | Path | None = None, seed: int = 1234, labels: Sequence[str] | None = None,
            synthetic_sizes: tuple[int, int, int] | None = None, batch_size: int = 32,
            progress: bool = True, real_eval: str | Path | RealPhotos | None = None,
            normalization: str = DEFAULT_NORMALIZATION, learning_rate: float | None = None) -> RunResult:
    """Images -> MobileNetV1 -> int8 -> scores on TFLM -> run folder (and sketch files with ``sketch``).

    ``data=None`` uses the offline synthetic set (a pipeline smoke test); a folder path or a
    :class:`VwwData` (e.g. from :func:`split_photos`) gives real images. ``weights``: 'none' (scratch),
    'imagenet', 'person_detect' (the TFLM example's real person detector, downloaded once or found
    locally), a path to its .tflite, or a path to a model.keras of an earlier run. ``real_eval``: a
    folder of labelled real photos scored beside the test split. Starting from the real detector, the
    run also scores the detector itself ("before") on the same test split and photos.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    steps = StepTimer("vww", quiet=not progress)
    channels = 1 if grayscale else 3
    image = ImageInputConfig(width=size, height=size, channels=channels, normalization=normalization)
    real_base = _is_real_base(weights)
    n_epochs = epochs if epochs is not None else (3 if fast else 20)
    lr = learning_rate if learning_rate is not None else (0.0005 if real_base else 0.001)
    train_cfg = TrainConfig(model="mobilenet_v1", epochs=n_epochs, batch_size=batch_size, learning_rate=lr,
                            patience=max(3, n_epochs // 3), seed=seed)
    with steps("data"):
        if data is None:
            d = synthetic_data(synthetic_sizes or (FAST_SIZES if fast else FULL_SIZES), image, seed)
        elif isinstance(data, VwwData):
            d = data
            if tuple(d.train[0].shape[1:]) != (size, size, channels):
                raise KitError(f"the images given are {d.train[0].shape[1:]}, the model takes {(size, size, channels)}")
        else:
            d = folder_data(data, image, labels, progress)
            if fast:
                d.train = (d.train[0][:FAST_SIZES[0]], d.train[1][:FAST_SIZES[0]])
        photos = real_eval if isinstance(real_eval, RealPhotos) or real_eval is None else \
            load_real_photos(real_eval, image, d.labels, progress)
    cfg = VwwRunConfig(image=image, task=VwwTaskConfig(labels=tuple(d.labels), alpha=alpha), train=train_cfg)
    with steps("train"):
        set_seed(seed)
        model, start = _start_model(weights, image, len(d.labels), alpha, progress)
        tr = train_classifier(model, d, train_cfg, transfer=str(weights) != "none", progress=progress,
                              normalization=normalization, frozen_batchnorm=real_base)
        x_te, y_te = d.test
        keras_probs = model.predict(normalize(x_te, normalization), verbose=0, batch_size=256)
        keras_metrics = classification_metrics(y_te, np.argmax(keras_probs, 1), d.labels)
    with steps("convert"):
        from ..convert import representative_pixels, to_float_tflite, to_int8_tflite

        float_bytes = to_float_tflite(model)
        rep = representative_pixels(d.train[0], 298, seed)  # black, white and a sample: the whole pixel range
        int8_bytes = to_int8_tflite(model, normalize(rep, normalization), max_samples=len(rep))
        save_models(out, model, float_bytes, int8_bytes, cfg)
    with steps("evaluate"):
        scores = {"float": score_pixels(BoardInput(cfg, ModelRunner(float_bytes, backend=LITERT)), x_te, y_te,
                                        d.labels, progress=progress)}
        backend = TFLM if tflm_available() else LITERT
        board = BoardInput(cfg, ModelRunner(int8_bytes, backend=backend))
        int8_runner = board.runner
        scores[f"int8_{backend}"] = score_pixels(board, x_te, y_te, d.labels, progress=progress)
        arena = board_arena(int8_bytes)
        table = board.pixel_table
        real_scores: dict[str, Any] = {}
        if photos is not None:
            real_scores["after"] = _score_real(board, photos, d.labels)
        before: dict[str, Any] = {}
        if real_base and len(d.labels) == 2:
            from ..models.person_detect_base import person_detect_path

            ref = ModelRunner(person_detect_path(None if str(weights) in (REAL_BASE, "person-detect") else weights,
                                                 progress=progress), backend=backend)
            # The reference was trained on pixel / 127.5 - 1 and ships no config: describe it so.
            ref_board = BoardInput(run_config_for(ref, d.labels), ref)
            before["test_split"] = score_pixels(ref_board, x_te, y_te, d.labels)
            if photos is not None:
                real_scores["before"] = _score_real(ref_board, photos, d.labels)
    sketch_files = export_sketch(out, sketch, arena, steps)
    best = scores.get("int8_tflm") or scores[f"int8_{backend}"]
    save_plots(out, tr["history"], f"MobileNetV1 alpha {alpha} on {len(d.train[1])} images", best["confusion"],
               d.labels, steps)
    from ..models.mobilenet import layer_costs

    costs = layer_costs(model)
    iq = int8_runner.input_quant
    trained_on = d.description + (f", starting from {start}" if str(weights) != "none" else "")
    metrics = {
        "trained_on": trained_on,
        "synthetic": d.synthetic,
        "task": {"labels": list(d.labels), "data": d.description, "counts": d.counts,
                 "skipped_files": [{"file": f, "reason": r} for f, r in d.skipped],
                 "training_examples": int(len(d.train[1])), "test_examples": int(len(y_te))},
        "model": {"architecture": "MobileNetV1", "alpha": alpha, "input": [size, size, channels],
                  "params": int(model.count_params()), "macs": int(sum(c.macs for c in costs)),
                  "start_weights": start},
        "input_conversion": {"normalization": normalization, "input_scale": iq.scale if iq else None,
                             "input_zero_point": iq.zero_point if iq else None,
                             "pixel_table_is_pixel_minus_128": bool(np.array_equal(
                                 table.astype(int), np.arange(256) - 128))},
        "train": {"epochs_run": tr["epochs_run"], "phases": tr["phases"], "seconds": round(tr["seconds"], 2),
                  "seconds_per_epoch": round(tr["seconds"] / max(1, tr["epochs_run"]), 2),
                  "history": tr["history"]},
        "keras": keras_metrics,
        **scores,
        "real_photos": real_scores or None,
        "start_model_on_test_split": before.get("test_split"),
        "model_bytes": {"float": len(float_bytes), "int8": len(int8_bytes)},
        "arena_bytes": arena,
        "budget": {"board": NANO33BLE.board, "flash_bytes": NANO33BLE.flash_bytes, "ram_bytes": NANO33BLE.ram_bytes,
                   "model_share_of_flash": round(len(int8_bytes) / NANO33BLE.flash_bytes, 4),
                   "arena_share_of_ram": round(arena / NANO33BLE.ram_bytes, 4) if arena else None},
        "sketch": str(sketch) if sketch is not None else None,
        "steps_seconds": steps.seconds,
        "fast": fast,
    }
    return finish(out, cfg, metrics, sketch_files)


def _board_for(model: str | Path, labels: Sequence[str] | None, config: VwwRunConfig | str | Path | None,
               backend: str | None) -> BoardInput:
    runner = ModelRunner(model, backend=backend)
    if config is not None:
        return BoardInput(config, runner)
    return BoardInput(run_config_for(runner, labels), runner)


def evaluate_folder(model: str | Path, data: str | Path, labels: Sequence[str] | None = None,
                    backend: str | None = None, progress: bool = False,
                    config: VwwRunConfig | str | Path | None = None) -> dict[str, Any]:
    """Score an image classifier on every image of a labelled folder (all splits), as the board would.

    With ``config`` (the run's config.json) the labels and the normalisation come from it; without,
    ``labels`` are needed and the kit's default normalisation is assumed.
    """
    board = _board_for(model, labels, config, backend)
    if len(board.runner.input_shape) != 4:
        raise KitError(f"{model}: input shape {board.runner.input_shape} is not an image (batch, height, width, channels)")
    h, w, c = board.expected_shape
    index = scan_image_folder(data, board.labels)
    loaded = load_image_folder(index, None, w, h, c, progress=progress)
    if len(loaded.y) == 0:
        raise DatasetError(f"{data}: none of the {len(index.paths)} images could be read")
    metrics = score_pixels(board, loaded.x, loaded.y, board.labels, progress=progress)
    metrics["backend"] = board.runner.backend
    metrics["normalization"] = board.config.image.normalization
    metrics["skipped_files"] = [{"file": str(p), "reason": r} for p, r in loaded.skipped]
    return metrics


def predict_files(model: str | Path, paths: Sequence[str | Path], labels: Sequence[str] | None = None,
                  backend: str | None = None, config: VwwRunConfig | str | Path | None = None) -> list[dict[str, Any]]:
    """Scores for each image file; a bad file gets an 'error' entry and the others still run."""
    board = _board_for(model, labels, config, backend)
    names = board.labels
    results = []
    for p in paths:
        try:
            x = board.photo_to_input(open_image(p))
        except ImageError as e:
            results.append({"file": str(p), "error": str(e)})
            continue
        raw = board.run(x)
        probs = board.probabilities(raw)
        k = int(np.argmax(raw))
        results.append({"file": str(p), "label": names[k], "index": k,
                        "scores": {n: round(float(v), 4) for n, v in zip(names, probs)},
                        "raw": [int(v) if board.runner.output_dtype.kind == "i" else float(v) for v in raw]})
    return results


def split_photos(photos: RealPhotos, fractions: tuple[float, float] = (0.6, 0.2), seed: int = 0) -> VwwData:
    """Real photos into train / validation / test, per label (stratified), by a seeded shuffle."""
    rng = np.random.default_rng(seed)
    parts: dict[str, list[int]] = {"train": [], "validation": [], "test": []}
    for k in range(len(photos.labels)):
        idx = rng.permutation(np.flatnonzero(photos.y == k))
        n_tr = int(round(len(idx) * fractions[0]))
        n_va = int(round(len(idx) * fractions[1]))
        parts["train"] += idx[:n_tr].tolist()
        parts["validation"] += idx[n_tr:n_tr + n_va].tolist()
        parts["test"] += idx[n_tr + n_va:].tolist()
    sel = {k: np.sort(np.asarray(v, dtype=int)) for k, v in parts.items()}
    if any(len(v) == 0 for v in sel.values()):
        raise DatasetError(f"{photos.description}: {len(photos.y)} photos are too few for train, validation and "
                           "test splits; add photos of each label")
    counts = {k: _counts(photos.y[v], photos.labels) for k, v in sel.items()}
    return VwwData(*((photos.x[sel[k]], photos.y[sel[k]]) for k in ("train", "validation", "test")),
                   labels=photos.labels, description=photos.description, counts=counts)


def resolution_sweep(photos: str | Path, sizes: Sequence[int] = (64, 96, 128), weights: str | Path = REAL_BASE,
                     target: str = "nano33ble", progress: bool = False) -> list[dict[str, Any]]:
    """The real detector's weights at several input sizes, each converted to int8 and scored on the same photos.

    Per size: accuracy on the real photos (int8, fed as the board feeds it), MACs, parameters, model
    bytes, the arena measured on TFLM and the latency estimate for ``target``. The weights were trained
    at 96 x 96, which favours that size; the other sizes show what resolution alone changes.
    """
    from ..convert import representative_pixels, to_int8_tflite
    from ..inspect import inspect_model
    from ..models.person_detect_base import person_detect_model, person_detect_path

    path = person_detect_path(None if str(weights) == REAL_BASE else weights, progress=progress)
    rows = []
    for size in sizes:
        image = ImageInputConfig(width=size, height=size, channels=1)
        ph = load_real_photos(photos, image, PERSON_LABELS, progress)
        model = person_detect_model(path, size=size, progress=progress)
        rep = representative_pixels(ph.x, len(ph.x))  # every photo, with black and white first
        int8 = to_int8_tflite(model, normalize(rep), max_samples=len(rep))
        m = _score_real(BoardInput(VwwRunConfig(image=image), ModelRunner(int8)), ph, PERSON_LABELS)
        rep = inspect_model(int8, target=target)
        rows.append({"size": size, "accuracy": round(m["accuracy"], 4),
                     "balanced_accuracy": round(m["balanced_accuracy"], 4), "n": m["n"], "macs": rep.macs,
                     "params": rep.params, "int8_bytes": len(int8), "arena_bytes": rep.arena_bytes,
                     "latency_ms": round(rep.target.latency_ms, 1) if rep.target else None})
    return rows


def format_summary(r: RunResult) -> str:
    """A short, human summary of a run for the terminal."""
    m = r.metrics
    lines = [f"Person detector: MobileNetV1 alpha {m['model']['alpha']} at {'x'.join(map(str, m['model']['input']))}",
             f"  trained on: {m.get('trained_on', m['task']['data'])}",
             f"  start: {m['model']['start_weights']}   params: {m['model']['params']:,}   MACs: {m['model']['macs']:,}",
             f"  train/test images: {m['task']['training_examples']}/{m['task']['test_examples']}   "
             f"epochs: {m['train']['epochs_run']} ({m['train']['seconds_per_epoch']} s each)",
             "  accuracy (balanced) on the test split" + (" (synthetic: a pipeline smoke test, not a score on "
                                                          "real people):" if m.get("synthetic") else ":")]
    for key, name in (("keras", "Keras float"), ("float", "TFLite float"), ("int8_litert", "int8 on LiteRT"),
                      ("int8_tflm", "int8 on TFLM (the board)")):
        if key in m:
            lines.append(f"    {name:<26} {m[key]['accuracy']:.3f}  ({m[key]['balanced_accuracy']:.3f})")
    if m.get("start_model_on_test_split"):
        s = m["start_model_on_test_split"]
        lines.append(f"    {'reference detector (before)':<26} {s['accuracy']:.3f}  ({s['balanced_accuracy']:.3f})")
    real = m.get("real_photos")
    if real:
        a = real["after"]
        lines.append(f"  real photos ({a['n']}, {a['data']}): int8 {a['accuracy']:.3f} ({a['balanced_accuracy']:.3f})"
                     + (f";  reference detector {real['before']['accuracy']:.3f} "
                        f"({real['before']['balanced_accuracy']:.3f})" if "before" in real else ""))
    elif m.get("synthetic"):
        lines.append("  no real photos scored: this model has only seen drawn figures; pass --real-eval DIR "
                     "(person/, non_person/) to measure it on real people")
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
