"""Helpers the labs' setup cells call, so that the notebooks hold no logic of their own."""
from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["hand_type_settings", "broken_sketch", "CACHE_ENV", "CACHING_HELPERS", "cached_reference", "pretrained_base",
           "pretrained_kws", "machine_clip_frames", "anomaly_lab_set"]

CACHE_ENV = "TINYMLKIT_GRADING_CACHE"
"""Folder where a grading run keeps values every submission of a lab needs (unset: nothing is cached)."""

CACHING_HELPERS = ("cached_reference", "pretrained_base", "pretrained_kws", "machine_clip_frames", "anomaly_lab_set")
"""The functions here that fill the grading cache: a lab calling one grades its first submission alone
(``tinymlkit.grading.parallel.uses_grading_cache``). A new caching helper is added here."""


def hand_type_settings(settings_h: str | os.PathLike[str], **values: Any) -> Path:
    """Overwrite ``constexpr`` values in a ``model_settings.h`` the way a person typing them would.

    ``hand_type_settings(path, kNumLabels=3, kInputScale=0.5)``: each named constant's value is replaced
    by ``repr(value)``; a name the file does not define is an error (the lab would test nothing).
    """
    path = Path(settings_h)
    text = path.read_text()
    for name, value in values.items():
        pattern = re.compile(rf"(\b{re.escape(name)}\s*=\s*)[^;]+;")
        if not pattern.search(text):
            raise ValueError(f"{path} defines no {name}")
        text = pattern.sub(lambda m: f"{m.group(1)}{value!r};", text, count=1)
    path.write_text(text)
    return path


def broken_sketch(folder: str | os.PathLike[str], model_bytes: bytes, config: Any, labels: int = 3,
                  arena: int = 2048, zero_point: int = 0, scale: float = 0.5) -> Path:
    """The kit's keyword sketch with a model exported into it, then four settings typed in wrong (lab 5)."""
    from ..config import save_json
    from ..export.write import export_model
    from ..export.sketches import copy_sketch

    folder = copy_sketch("kws", folder)
    (folder / "model_int8.tflite").write_bytes(model_bytes)
    save_json(config, folder / "config.json")
    export_model(folder / "model_int8.tflite", folder / "config.json", folder)
    hand_type_settings(folder / "model_settings.h", kNumLabels=int(labels), kTensorArenaSize=int(arena),
                       kInputZeroPoint=int(zero_point), kInputScale=float(scale))
    return folder


def cached_reference(name: str, compute: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Arrays every submission of a lab needs, computed once per grading run.

    While ``tinymlkit grade`` runs, ``TINYMLKIT_GRADING_CACHE`` names a folder shared by the run's notebooks:
    the first computes the arrays and stores them, the others load them. Anywhere else (a student's own
    run, ``nbgrader validate``) they are simply computed. ``name`` must say everything the values depend on.
    """
    folder = os.environ.get(CACHE_ENV, "").strip()
    if not folder:
        return compute()
    from ..files import atomic_write_bytes

    path = Path(folder) / (re.sub(r"[^A-Za-z0-9._-]", "_", name)[:80] + "-"
                           + hashlib.sha256(name.encode()).hexdigest()[:16] + ".npz")
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as data:
                return {k: data[k] for k in data.files}
        except (OSError, ValueError):
            pass  # a damaged cache file is computed again and replaced
    values = compute()
    import io

    buf = io.BytesIO()
    np.savez(buf, **values)
    atomic_write_bytes(path, buf.getvalue())
    return values


def pretrained_base(make_base: Callable[[], Any], x: np.ndarray, y: np.ndarray, num_labels: int, epochs: int,
                    seed: int, normalization: Any, progress: bool = True) -> tuple[Any, float]:
    """A base pre-trained with a head of its own on (x, y), the last fifth held out; returns it and its best validation accuracy.

    Lab 6's starting point. During a grading run the trained weights are computed once (:func:`cached_reference`),
    so every student starts from the same base and the run does not train it once per student.
    """
    from ..config import TrainConfig
    from ..models.mobilenet import add_classifier_head, get_base
    from ..train import fit, set_seed
    from ..vision.int8_input import normalize

    set_seed(seed)  # before the base is built: its initial weights come from this seed too
    base = make_base()
    digest = hashlib.sha256(np.ascontiguousarray(x).tobytes() + np.ascontiguousarray(y).tobytes()).hexdigest()[:16]
    shapes = "x".join(str(int(np.prod(w.shape))) for w in base.weights)
    key = f"pretrained_base-{base.name}-{shapes}-{digest}-{num_labels}-{epochs}-{seed}-{normalization}"

    def compute() -> dict[str, np.ndarray]:
        model = add_classifier_head(base, num_labels)
        n = len(x) // 5
        result = fit(model, normalize(x[n:], normalization), y[n:], normalize(x[:n], normalization), y[:n],
                     TrainConfig(epochs=epochs, batch_size=32, learning_rate=0.005, patience=epochs, seed=seed),
                     progress=progress)
        weights = get_base(model).get_weights()
        return {**{f"w{i}": np.asarray(w) for i, w in enumerate(weights)},
                "val_accuracy": np.asarray(max(result.history["val_accuracy"]), dtype=np.float64)}

    values = cached_reference(key, compute)
    base.set_weights([values[f"w{i}"] for i in range(len(base.weights))])
    return base, float(values["val_accuracy"])


def pretrained_kws(make_model: Callable[[], Any], work: Any, epochs: int, learning_rate: float,
                   seed: int) -> tuple[Any, bytes]:
    """A keyword model trained on a ``KwsWork`` and its int8 ``.tflite``, both computed once per grading run.

    Lab 7's starting point: every student prunes the same trained model, and the run trains and converts
    it once (:func:`cached_reference`), not once per student.
    """
    from ..compress.prune import int8_cost
    from ..compress.workbench import train_kws_model
    from ..train import set_seed

    set_seed(seed)  # before the model is built: its initial weights come from this seed too
    model = make_model()
    data = np.ascontiguousarray(work.x_train).tobytes() + np.ascontiguousarray(work.y_train).tobytes()
    digest = hashlib.sha256(data).hexdigest()[:16]
    shapes = "x".join(str(int(np.prod(w.shape))) for w in model.weights)
    key = f"pretrained_kws-{model.name}-{shapes}-{digest}-{epochs}-{learning_rate}-{seed}"

    def compute() -> dict[str, np.ndarray]:
        train_kws_model(model, work, epochs=epochs, learning_rate=learning_rate, seed=seed)
        tflite, _ = int8_cost(model, work.x_train, samples=64)
        return {**{f"w{i}": np.asarray(w) for i, w in enumerate(model.get_weights())},
                "tflite": np.frombuffer(tflite, np.uint8)}

    values = cached_reference(key, compute)
    model.set_weights([values[f"w{i}"] for i in range(len(model.weights))])
    return model, values["tflite"].tobytes()


def machine_clip_frames(machines: Any, normal_per_id: int, faulty_per_id: int, first_clip: int) -> dict[str, np.ndarray]:
    """Front-end frames (clips x frames x channels, uint16) and labels of synthetic machine clips, made once per grading run.

    The clips of ``tinymlkit.anomaly.quick.synthetic_clip_frames`` (same arguments), stacked: every clip of a
    ``MachineSoundConfig`` has the same length. Lab 8's held-out clips.
    """
    import dataclasses

    from ..anomaly.quick import synthetic_clip_frames

    key = (f"machine_clip_frames-{machines.digest()}-{normal_per_id}-{faulty_per_id}-{first_clip}-"
           f"{dataclasses.asdict(machines)}")

    def compute() -> dict[str, np.ndarray]:
        clips = synthetic_clip_frames(machines, normal_per_id, faulty_per_id, first_clip)
        return {"frames": np.stack(clips.frames), "labels": clips.labels}

    return cached_reference(key, compute)


def anomaly_lab_set(machines: Any, model: Any, train: int, validation: int, test_normal: int, test_faulty: int,
                    progress: bool = False) -> dict[str, np.ndarray]:
    """Lab 8's clips and its int8 autoencoder, the same for every student: made once per grading run.

    Per machine of ``machines`` (a ``MachineSoundConfig``): ``train`` normal clips (numbered from 0), ``validation``
    normal clips (from 1000) and ``test_normal`` + ``test_faulty`` clips (from 2000), as front-end frames
    (``*_frames``: clips x frames x channels, uint16; ``test_labels``: 1 faulty). ``model_int8`` holds the bytes of
    the autoencoder (``model``: an ``AutoencoderConfig``, its seed included) trained on the training clips and
    converted to full int8 with them as the representative set.
    """
    import dataclasses

    from ..anomaly.quick import synthetic_clip_frames, train_autoencoder
    from ..convert import to_int8_tflite

    key = (f"anomaly_lab_set-{machines.digest()}-{train}-{validation}-{test_normal}-{test_faulty}-"
           f"{dataclasses.asdict(machines)}-{dataclasses.asdict(model)}")

    def compute() -> dict[str, np.ndarray]:
        parts = {"train": synthetic_clip_frames(machines, train, 0, 0),
                 "validation": synthetic_clip_frames(machines, validation, 0, 1000),
                 "test": synthetic_clip_frames(machines, test_normal, test_faulty, 2000)}
        if progress:
            print(f"training the autoencoder ({model.epochs} epochs) ...", flush=True)
        keras_model, x = train_autoencoder(parts["train"].frames, model)
        int8 = to_int8_tflite(keras_model, x, max_samples=500)
        return {**{f"{k}_frames": np.stack(v.frames) for k, v in parts.items()},
                "test_labels": parts["test"].labels, "model_int8": np.frombuffer(int8, dtype=np.uint8)}

    return cached_reference(key, compute)
