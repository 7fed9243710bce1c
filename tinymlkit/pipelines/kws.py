"""Keyword spotting end to end: data -> micro features -> train -> int8 -> TFLM check -> sketch files."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..audio.augment import augment_clip
from ..audio.features import micro_features
from ..audio.masking import MaskConfig, make_masker
from ..audio.perturb import PerturbConfig, make_feature_perturber, make_perturber
from ..config import KwsRunConfig, KwsTaskConfig, TrainConfig
from ..data.speech_commands import SPLITS, KwsDataset, build_dataset, clip_for, scan_folder
from ..data.synth_speech import NOISE_KINDS, SynthSpeechConfig, make_synthetic_speech
from ..errors import KitError
from ..evaluate import classification_metrics, compare_runtimes, headline, score_folder
from ..models import build_kws_model
from ..paths import dataset_dir
from ..train import DistillConfig, TrainResult, fit, limit_threads, set_seed, soft_targets
from .steps import StepTimer
from .tail import RunResult, board_arena, export_sketch, finish, save_models, save_plots

__all__ = ["FAST_SYNTH", "FULL_SYNTH", "synthetic_keywords", "DEFAULT_SHARES", "DEFAULT_PERTURB", "AugmentHook",
           "prepare_features", "draw_dataset", "run_kws", "load_run", "reuse_or_run_kws", "format_summary",
           "balanced_class_weights", "run_dataset", "course_data"]

FAST_SYNTH = SynthSpeechConfig(num_voices=24, takes=2, noise_seconds=10, extra_words_per_voice=4,
                               noise_kinds=NOISE_KINDS)
"""Synthetic set of fast mode: few voices, two takes each (seconds to make)."""
FULL_SYNTH = SynthSpeechConfig(extra_words_per_voice=12, noise_kinds=NOISE_KINDS)
"""Synthetic set of the main job: 120 voices, 20 words three times each, 12 more words once each, and
imitations of home noise (fan, tap, clatter, babble) besides coloured noise."""


AugmentHook = Callable[[np.ndarray, int, np.random.Generator], np.ndarray]
"""``hook(clip_or_features, label_index, rng) -> same shape``: extra augmentation of training examples."""


def prepare_features(ds: KwsDataset, cfg: KwsRunConfig, split: str, copies: int = 1, seed: int = 0,
                     progress: bool = True, augment: AugmentHook | None = None,
                     feature_augment: AugmentHook | None = None,
                     featurize: Callable[[np.ndarray], np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Micro features and labels of one split; training clips are augmented ``copies`` times.

    Training clips get a random time shift and background noise (the task's settings); ``augment``
    is called on each training clip of a word before that (speed, pitch, reverberation: see
    ``tinymlkit.audio.perturb``) and ``feature_augment`` on its features after (vocal-tract warp).
    Silence clips and the validation and test splits are never perturbed. ``featurize`` turns a clip
    into other features than the board's micro features (``clip -> frames x bins``; the lessons compare
    front ends with it); ``feature_augment`` must then fit those features.
    """
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
        is_silence = y == silence_idx
        if train and augment is not None and not is_silence:
            clip = augment(clip, y, rng)
        clip = augment_clip(clip, is_silence, ds.background, task, rng, a.sample_rate, train)
        feats = micro_features(clip, a) if featurize is None else featurize(clip)
        if train and feature_augment is not None and not is_silence:
            feats = feature_augment(feats, y, rng)
        xs.append(feats)
        ys.append(y)
    if not xs:
        shape = a.feature_shape if featurize is None else np.shape(featurize(np.zeros(a.clip_samples, np.float32)))
        return np.zeros((0, *shape), np.float32), np.zeros((0,), np.int64)
    return np.stack(xs), np.asarray(ys, dtype=np.int64)


def _silence_target(n_keywords: int, percentage: float) -> int:
    return int(math.ceil(n_keywords * percentage / 100.0))


def draw_dataset(roots: Sequence[str | Path], task: KwsTaskConfig, seed: int = 1234,
                 eval_silence_percentage: float | None = None) -> KwsDataset:
    """A keyword task from one or more Speech Commands style folders, split by speaker.

    Training keeps the task's shares: ``unknown_percentage`` and ``silence_percentage`` of its keyword
    clips (above 100 is allowed: 300 keeps up to three unknown clips per keyword clip). Validation and
    test are NOT cut by those shares: they keep every unknown clip, and as many silence clips as an
    average keyword has (``eval_silence_percentage`` of the keyword clips overrides that), so a model
    is chosen and scored on enough examples of every class.
    """
    labels = task.labels
    unknown_idx, silence_idx = labels.index(task.unknown_label), labels.index(task.silence_label)
    rng = np.random.default_rng(seed)
    items: dict[str, list[tuple[Path | None, int]]] = {s: [] for s in SPLITS}
    background: list[np.ndarray] = []
    methods, skipped = [], []
    for root in roots:
        root = Path(root)
        clips = scan_folder(root)
        words = sorted({c.word for c in clips if not c.word.startswith("_")
                        and c.word not in (task.silence_label, task.unknown_label)})
        missing = [w for w in task.words if w not in words]
        if missing and len(roots) == 1:
            raise KitError(f"{root}: no clips for keyword(s) {missing}; words found: {words}. "
                           "Record them into WORD/ folders, or choose --words among those")
        # Every word as its own label, so that this module (not the shares) decides what each split keeps.
        wide = dataclasses.replace(task, words=tuple(words) or task.words, unknown_percentage=0.0,
                                   silence_percentage=100.0)
        ds = build_dataset(root, wide, seed=seed)
        methods.append(ds.split_method)
        skipped += ds.skipped
        background += ds.background
        words_in = {s: [it for it in its if wide.labels[it[1]] != wide.silence_label]
                    for s, its in ds.items.items()}
        if len(roots) > 1 and not words_in["training"] and (words_in["validation"] or words_in["testing"]):
            # A learner's own folder, often one speaker: the speaker split put it all in validation or
            # test. Its clips are for training; the other folders hold voices out.
            for s in ("validation", "testing"):
                ds.items["training"] += words_in[s]
                ds.items[s] = [it for it in ds.items[s] if it not in words_in[s]]
            methods.append(f"every clip of {root} in training (too few speakers there to hold one out)")
        for split, its in ds.items.items():
            for path, i in its:
                lab = wide.labels[i]
                if lab == wide.silence_label:
                    items[split].append((path, silence_idx))
                elif lab in task.words:
                    items[split].append((path, labels.index(lab)))
                else:
                    items[split].append((path, unknown_idx))
    present = [w for w in task.words if any(labels[i] == w for its in items.values() for _, i in its)]
    if len(present) < len(task.words):
        raise KitError(f"{', '.join(str(r) for r in roots)}: no clips for keyword(s) "
                       f"{[w for w in task.words if w not in present]}")
    out: dict[str, list[tuple[Path | None, int]]] = {}
    for split in SPLITS:
        its = items[split]
        kw = [it for it in its if it[1] not in (unknown_idx, silence_idx)]
        unk = [it for it in its if it[1] == unknown_idx]
        # Recorded silence first, made silence (None: noise alone) after.
        sil = sorted((it for it in its if it[1] == silence_idx), key=lambda it: it[0] is None)
        if split == "training":
            n_unk = min(len(unk), int(math.ceil(len(kw) * task.unknown_percentage / 100.0)))
            n_sil = _silence_target(len(kw), task.silence_percentage)
        else:
            n_unk = len(unk)
            n_sil = (_silence_target(len(kw), eval_silence_percentage) if eval_silence_percentage is not None
                     else int(math.ceil(len(kw) / max(1, len(task.words)))))
        unk = [unk[int(i)] for i in rng.permutation(len(unk))[:n_unk]]
        sil = (sil + [(None, silence_idx)] * max(0, n_sil - len(sil)))[:n_sil]
        merged = kw + unk + sil
        out[split] = [merged[int(i)] for i in rng.permutation(len(merged))]
    method = "; ".join(dict.fromkeys(methods))
    return KwsDataset(Path(roots[0]), labels, out, background, method, skipped)


DEFAULT_SHARES = {"unknown_percentage": 300.0, "silence_percentage": 50.0}
"""Training shares of ``run_kws`` unless overridden: the unknown class is where keyword models fail
(other words fire as yes/no), so it gets many more clips than the task config's 10 %."""

DEFAULT_PERTURB = PerturbConfig()
"""Speed, vocal-tract, reverberation and level perturbation of training words (``perturb=True``)."""


def balanced_class_weights(y: np.ndarray, num_labels: int) -> dict[int, float]:
    """Loss weights that make every label count the same, however many clips it has."""
    present = np.bincount(np.asarray(y, dtype=int), minlength=num_labels)
    return {i: float(len(y) / (np.count_nonzero(present) * c)) for i, c in enumerate(present) if c}


def run_dataset(r: RunResult) -> KwsDataset:
    """The dataset a run trained and was scored on, drawn again (same folders, shares and seed)."""
    roots = [Path(p) for p in r.metrics["task"].get("data_roots", [])]
    missing = [str(p) for p in roots if not p.is_dir()]
    if not roots or missing:
        raise KitError(f"{r.out}: the run's data folders are gone ({', '.join(missing) or 'none recorded'}); "
                       "train the run again")
    return draw_dataset(roots, r.config.task, seed=r.config.train.seed)


def course_data(fast: bool, words: Sequence[str] = ("yes", "no"), real: bool | None = None,
                progress: bool = True) -> tuple[Path, str]:
    """The keyword data a course notebook trains on, and one line saying which it is.

    Real Speech Commands (only the words, a share of the others and the noise) where the network is
    and ``real`` is not False (by default on Colab); the offline synthetic set otherwise, and the line
    says so.
    """
    import sys

    if real is None:
        real = "google.colab" in sys.modules
    if real:
        from ..data.speech_commands_subset import download_speech_commands_subset

        try:
            root = download_speech_commands_subset(words=words, unknown_share=0.05 if fast else 0.1,
                                                   progress=progress)
            return root, f"real Speech Commands recordings ({', '.join(words)} + a share of other words) in {root}"
        except KitError as e:
            print(f"tinymlkit: no real Speech Commands ({e}); using the offline synthetic set")
    root = synthetic_keywords(fast, progress)
    return root, f"offline synthetic text-to-speech set (no real voices) in {root}"


def synthetic_keywords(fast: bool, progress: bool = True) -> Path:
    """The offline synthetic keyword set (made once): each folder has one recipe, whoever asks for it.

    Two recipes in one folder made every run after a run of the other remake the whole set (~1,000 clips).
    """
    name, synth = ("synth_kws_fast", FAST_SYNTH) if fast else ("synth_kws", FULL_SYNTH)
    return make_synthetic_speech(dataset_dir(name), synth, progress=progress)


def _load_init(init: str | Path, labels: Sequence[str], flag: str = "--init",
               audio: Any = None) -> tuple[Any, list[str]]:
    """The Keras model of a previous run folder, checked against this run's labels (and, given ``audio``,
    its feature settings), and its data folders. ``flag`` names the option in error messages."""
    from ..config import load_run_config

    run = Path(init)
    model_path = run / "model.keras"
    if not model_path.is_file():
        raise KitError(f"{flag} {run}: no model.keras there; give the folder of a previous 'kws run'")
    cfg_path = run / "config.json"
    if cfg_path.is_file():
        old = load_run_config(cfg_path)
        if tuple(old.labels) != tuple(labels):
            raise KitError(f"{flag} {run}: its model has labels {list(old.labels)}, this run {list(labels)}; "
                           "use the same --words")
        if audio is not None and getattr(old, "audio", audio) != audio:
            raise KitError(f"{flag} {run}: its model was trained on other audio features; "
                           "give a run made with the same front-end settings")
    from ..tf_quiet import load_tensorflow
    load_tensorflow()
    import keras

    try:
        model = keras.models.load_model(model_path, compile=False)
    except Exception as e:  # a damaged or foreign file: say which, not a traceback
        raise KitError(f"{flag} {model_path}: cannot be read as a Keras model ({type(e).__name__}: {e})") from None
    roots: list[str] = []
    try:
        roots = list(json.loads((run / "metrics.json").read_text())["task"].get("data_roots", []))
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return model, roots


def _is_synthetic(root: Path) -> bool:
    """True for a folder made by the synthetic keyword set (its DATASET.json says so)."""
    try:
        return json.loads((root / "DATASET.json").read_text()).get("what", "").startswith("synthetic")
    except (OSError, ValueError, AttributeError):
        return False


def _trained_on(roots: Sequence[Path], init_desc: str | None) -> str:
    synth = [r for r in roots if _is_synthetic(r)]
    real = [r for r in roots if r not in synth]
    if synth and not real:
        text = "synthetic text-to-speech voices only: it has never heard a real person"
    elif synth:
        text = f"recordings in {', '.join(map(str, real))} mixed with synthetic text-to-speech voices"
    else:
        text = "recordings in " + ", ".join(str(r) for r in roots)
    if init_desc:
        text += f"; started from {init_desc}"
    return text


def _chain(hooks: Sequence[AugmentHook]) -> AugmentHook | None:
    """One hook that applies ``hooks`` in order (None when there are none)."""
    if not hooks:
        return None
    if len(hooks) == 1:
        return hooks[0]

    def hook(x: np.ndarray, label: int, rng: np.random.Generator) -> np.ndarray:
        for h in hooks:
            x = h(x, label, rng)
        return x

    return hook


def run_kws(out: str | Path, data: str | Path | Sequence[str | Path] | None = None,
            words: Sequence[str] = ("yes", "no"), model: str = "tiny_conv", epochs: int | None = None,
            fast: bool = False, sketch: str | Path | None = None, seed: int = 1234,
            augment_copies: int | None = None, task_overrides: dict[str, Any] | None = None,
            balance_classes: bool = True, patience: int | None = None, progress: bool = True,
            init: str | Path | None = None, learning_rate: float | None = None,
            real_eval: str | Path | Sequence[str | Path] | None = None,
            perturb: PerturbConfig | bool | None = None, threads: int | None = None,
            synth: SynthSpeechConfig | None = None, mix_init_data: bool = True,
            keras_model: Any = None, mask: MaskConfig | bool | None = None,
            teacher: str | Path | None = None, distill: DistillConfig | None = None) -> RunResult:
    """Make or read data, train, convert to int8, evaluate on float/LiteRT/TFLM, save, export.

    ``data=None`` uses the offline synthetic set (made once); one folder or several (mixed) in Speech
    Commands layout otherwise. ``fast`` shrinks data and epochs but still runs every step for real.
    ``balance_classes`` weights the loss so that each label counts the same however many clips it has.
    ``task_overrides`` sets ``KwsTaskConfig`` fields (shares, background volume and frequency, ...).
    ``init`` is a previous run folder whose model is the starting point (fine-tuning); with
    ``mix_init_data`` that run's data folders are mixed in, so the model keeps unknown and silence.
    ``real_eval`` scores the int8 model on real clips (folders in Speech Commands layout) beside the
    test split. ``perturb`` (default on for words) adds speed, vocal-tract, room and level perturbation.
    ``threads`` caps TensorFlow's threads. ``mask`` (off by default; True is ``MaskConfig()``) masks random
    stretches of frames and channels of training words' features (SpecAugment). ``teacher`` is a previous
    run folder (a larger model, same labels and features) whose probabilities on each training example
    become soft targets (``distill``, default ``DistillConfig()``): knowledge distillation. Neither helped
    on held-out real speakers (benchmarks/bench_kws_real.py); they are there to try. ``keras_model`` is a
    Keras model built (or trained) by the caller, used instead of building ``model`` by name; with
    ``epochs=0`` it is not trained here, only converted, scored, saved and exported (a notebook that shows
    its own training call does this).
    """
    limit_threads(threads)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    steps = StepTimer("kws", quiet=not progress)
    task = KwsTaskConfig(words=tuple(words), **{**DEFAULT_SHARES, **(task_overrides or {})})
    lr = learning_rate if learning_rate is not None else (0.001 if init is not None else TrainConfig().learning_rate)
    if epochs is not None and epochs < 0:
        raise KitError(f"epochs {epochs}: give 0 or more")
    train_epochs = epochs if epochs is not None else (4 if fast else 40)
    train_cfg = TrainConfig(model=model, epochs=max(1, train_epochs), seed=seed,
                            patience=patience if patience is not None else (4 if fast else 10), learning_rate=lr)
    cfg = KwsRunConfig(task=task, train=train_cfg)
    copies = augment_copies if augment_copies is not None else (1 if fast else 3)
    if train_epochs == 0:
        copies = 1  # no training here: the training split only serves as the representative set
    pcfg = DEFAULT_PERTURB if perturb is None or perturb is True else (perturb or None)
    mcfg = MaskConfig() if mask is True else (mask or None)
    real_dirs = [Path(real_eval)] if isinstance(real_eval, (str, Path)) else [Path(d) for d in (real_eval or [])]
    for d in real_dirs:
        if not d.is_dir():
            raise KitError(f"--real-eval {d}: no such folder (give a folder in Speech Commands layout)")

    init_model, init_roots, init_desc = None, [], None
    if init is not None:
        init_model, init_roots = _load_init(init, cfg.labels)
        init_desc = f"the model of {init}"
    teacher_model = None
    if teacher is not None:
        teacher_model, _ = _load_init(teacher, cfg.labels, "--teacher", cfg.audio)
        distill = distill or DistillConfig()
    with steps("data"):
        if data is None:
            synth_cfg = synth or (FAST_SYNTH if fast else FULL_SYNTH)
            unknown = [w for w in words if w not in synth_cfg.words]
            if unknown:
                raise KitError(f"the synthetic set has no clips of {unknown}; it speaks {', '.join(synth_cfg.words)}. "
                               "Use --data DIR with recordings of those words")
            if synth is None or synth == synth_cfg and synth_cfg in (FULL_SYNTH, FAST_SYNTH):
                name = "synth_kws_fast" if synth_cfg == FAST_SYNTH else "synth_kws"
            else:  # another recipe gets its own folder, so the default set is not remade each time
                digest = hashlib.sha1(json.dumps(dataclasses.asdict(synth_cfg), sort_keys=True).encode()).hexdigest()
                name = f"synth_kws_{digest[:8]}"
            roots = [make_synthetic_speech(dataset_dir(name), synth_cfg, progress=progress)]
        else:
            roots = [Path(data)] if isinstance(data, (str, Path)) else [Path(d) for d in data]
            if not roots:
                raise KitError("no data folder given")
        own_roots = list(roots)
        if init is not None and mix_init_data:
            roots += [Path(r) for r in init_roots if Path(r).is_dir() and Path(r) not in roots]
        for r in roots:
            if not r.is_dir():
                raise KitError(f"--data {r}: no such folder (give a folder in Speech Commands layout)")
        ds = draw_dataset(roots, task, seed=seed)
        counts = ds.counts()
        if not ds.items["training"]:
            raise KitError(f"{', '.join(map(str, roots))}: no training clips after the split ({ds.split_method})")
        synthetic = all(_is_synthetic(r) for r in roots)
        data_desc = _trained_on(roots, init_desc)
    with steps("features"):
        hook = make_perturber(pcfg, cfg.audio.sample_rate) if pcfg else None
        fhooks = ([make_feature_perturber(pcfg, cfg.audio.lower_band_limit, cfg.audio.upper_band_limit)]
                  if pcfg else []) + ([make_masker(mcfg)] if mcfg else [])
        fhook = _chain(fhooks)
        x_tr, y_tr = prepare_features(ds, cfg, "training", copies, seed, progress, hook, fhook)
        x_va, y_va = prepare_features(ds, cfg, "validation", 1, seed, progress)
        x_te, y_te = prepare_features(ds, cfg, "testing", 1, seed, progress)
        if len(x_te) == 0:
            x_te, y_te = x_va, y_va
    with steps("train"):
        set_seed(seed)
        if keras_model is None:
            keras_model = init_model if init_model is not None else build_kws_model(model, cfg.audio.feature_shape,
                                                                                   len(cfg.labels))
        weights = balanced_class_weights(y_tr, len(cfg.labels)) if balance_classes else None
        targets = y_tr
        if teacher_model is not None and distill is not None:
            teacher_probs = teacher_model.predict(x_tr, verbose=0, batch_size=256)
            targets = soft_targets(y_tr, teacher_probs, distill.alpha, distill.temperature)
        if train_epochs == 0:
            result = TrainResult(history={}, epochs_run=0, best_epoch=0, seconds=0.0)
        else:
            result = fit(keras_model, x_tr, targets, x_va, y_va, train_cfg, progress=progress,
                         desc=f"training {model}", class_weight=weights)
        keras_probs = keras_model.predict(x_te, verbose=0, batch_size=256)
        keras_metrics = classification_metrics(y_te, np.argmax(keras_probs, 1), cfg.labels)
    with steps("convert"):
        from ..convert import to_float_tflite, to_int8_tflite

        float_bytes = to_float_tflite(keras_model)
        int8_bytes = to_int8_tflite(keras_model, x_tr)
        save_models(out, keras_model, float_bytes, int8_bytes, cfg)
    with steps("evaluate"):
        comp = compare_runtimes(float_bytes, int8_bytes, x_te, y_te, cfg.labels, progress=progress)
        arena = board_arena(int8_bytes)
        real: dict[str, Any] = {}
        for d in real_dirs:
            m = score_folder(int8_bytes, d, cfg.labels, cfg.audio, progress=progress)
            m.pop("skipped_files", None)
            real[str(d)] = m
    sketch_files = export_sketch(out, sketch, arena, steps)
    board = comp.metrics.get("int8_tflm") or comp.metrics["int8_litert"]
    save_plots(out, result.history, f"{model} on {len(x_tr)} training examples", board["confusion"], cfg.labels,
               steps)
    metrics = {
        "balanced_accuracy": board["balanced_accuracy"],
        "per_class": board["per_class"],
        "unknown_false_accept_rate": board["unknown_false_accept_rate"],
        "scored_on": "int8 on TFLM, test split" if "int8_tflm" in comp.metrics else "int8 on LiteRT, test split",
        "real_eval": real,
        "trained_on": data_desc,
        "task": {"labels": list(cfg.labels), "data": data_desc, "data_roots": [str(r) for r in roots],
                 "own_data_roots": [str(r) for r in own_roots], "synthetic": synthetic,
                 "split_method": ds.split_method, "counts": counts, "skipped_files": ds.skipped,
                 "training_examples": int(len(x_tr)), "augment_copies": copies,
                 "perturb": dataclasses.asdict(pcfg) if pcfg else None,
                 "mask": dataclasses.asdict(mcfg) if mcfg else None,
                 "teacher": str(teacher) if teacher is not None else None,
                 "distill": dataclasses.asdict(distill) if teacher is not None and distill else None,
                 "init": str(init) if init is not None else None, "learning_rate": lr},
        "train": {"epochs_run": result.epochs_run, "best_epoch": result.best_epoch, "monitor": "val_balanced_accuracy",
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
    return finish(out, cfg, metrics, sketch_files)


def load_run(out: str | Path) -> RunResult:
    """A finished run folder as a ``RunResult`` (config, metrics), without training anything."""
    from ..config import load_run_config

    out = Path(out)
    for name in ("config.json", "metrics.json", "model_int8.tflite", "model.keras"):
        if not (out / name).is_file():
            raise KitError(f"{out}: not a finished keyword run (no {name}); train one with run_kws or 'kws run'")
    cfg = load_run_config(out / "config.json")
    if not isinstance(cfg, KwsRunConfig):
        raise KitError(f"{out}: a '{cfg.kind}' run, not a keyword one")
    try:
        metrics = json.loads((out / "metrics.json").read_text())
    except ValueError as e:
        raise KitError(f"{out / 'metrics.json'}: not valid JSON ({e})") from None
    return RunResult(out, cfg, metrics, ())


def reuse_or_run_kws(out: str | Path, fast: bool = False, **kwargs: Any) -> RunResult:
    """The run in ``out`` if it finished with the same fast setting (a notebook's earlier training), else train it.

    Notebooks 04-06 call this with notebook 03's run folder, so the course trains its model once. A
    finished run of the other mode is never replaced: this mode then uses ``OUT_fast`` or ``OUT_full``.
    """
    out = Path(out)
    for folder in (out, out.with_name(f"{out.name}_{'fast' if fast else 'full'}")):
        try:
            r = load_run(folder)
        except KitError:
            return run_kws(folder, fast=fast, **kwargs)
        if bool(r.metrics.get("fast")) == bool(fast) and r.metrics.get("task", {}).get("data_roots"):
            return r
        # A finished run of the other mode is kept: this mode gets the sibling folder.
    return run_kws(folder, fast=fast, **kwargs)


def format_summary(r: RunResult) -> str:
    """A short, human summary of a run for the terminal: balanced accuracy, recall per class, false accepts first."""
    m = r.metrics
    lines = [f"Keyword model: {', '.join(r.config.labels)}",
             f"  trained on: {m['trained_on']}",
             f"  split: {m['task']['split_method']}",
             f"  test clips: {m['keras']['n']}   epochs: {m['train']['epochs_run']} (best {m['train']['best_epoch']}, "
             "chosen on validation balanced accuracy)",
             f"  {m['scored_on']}: " + headline(m.get("int8_tflm") or m["int8_litert"])]
    for d, rm in m.get("real_eval", {}).items():
        lines.append(f"  real clips {d} ({rm['backend']}): " + headline(rm))
    if m["task"]["synthetic"] and not m.get("real_eval"):
        lines.append("  (no real clips scored: a model trained on synthetic voices can do much worse on real ones; "
                     "use --real-eval DIR)")
    lines.append("  balanced accuracy (plain accuracy) on the test split, by runtime:")
    for key, name in (("keras", "Keras float"), ("float", "TFLite float"), ("int8_litert", "int8 on LiteRT"),
                      ("int8_tflm", "int8 on TFLM (the board)")):
        if key in m:
            lines.append(f"    {name:<26} {m[key]['balanced_accuracy']:.3f}  ({m[key]['accuracy']:.3f})")
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
