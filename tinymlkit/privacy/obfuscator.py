"""Keyword yes, speaker no: a small on-device feature obfuscator, judged by fresh speaker-ID attackers.

The default obfuscator is an information bottleneck (``build_code_obfuscator``): tiny_conv's 10x8 stride-2
convolution, each frame squeezed to ``code_channels`` values, averaged over the clip and bounded by tanh, so a
clip becomes a code of 8 numbers; a small dense keyword model (``build_code_head``) reads it. The older
feature-shaped obfuscator (``build_obfuscator``: a 3x3 convolution, a 1x1 merge and a per-frame mix of the 40
channels, 49x40 out, with the kit's keyword model behind it) is ``code_channels=0``. Either is trained with
the keyword model, optionally in alternating steps against speaker classifiers (the adversaries): first they
take a step on the obfuscated features of a batch, then the obfuscator and keyword model take one step on
``keyword CE - lambda * min(adversary CE, log(speakers))`` with the adversaries held fixed. The cap at the
chance level's cross-entropy stops the obfuscator being rewarded for making an adversary confidently wrong,
which would still give the speaker away (a relabelling). ``lambda = 0``: no adversary.

An adversary trained alongside may only have been fooled, so the verdict comes from FRESH ones
(``fresh_attack``): the obfuscator is frozen, its outputs on the training clips are standardised (so a mere
rescaling hides nothing) and new speaker classifiers (a CNN, a dense network, gradient-boosted trees) are
trained on them, then scored on held-out clips of the same speakers; the best one counts. The reference
(``plain``) is the kit's keyword model on the raw features, with the same attackers on the raw features. The
obfuscator and keyword model become ONE int8 model with the plain keyword model's input tensor (49x40 int8
micro features), scored on TFLM, so the keyword sketch runs it unchanged. The ideas: adversarial obfuscation
as in arXiv 1805.12024 and arXiv 2110.15171 (an obfuscator trained so a task survives while an adversary
cannot recover a private attribute) and the information bottleneck (arXiv physics/0004057, arXiv 1612.00410).
"""
from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..audio.augment import mix_background, random_noise_segment
from ..audio.features import micro_features
from ..config import AudioFrontendConfig, KwsTaskConfig
from ..data.speech_commands import clip_for, load_background_noise, scan_folder
from ..errors import KitError

__all__ = ["ObfuscatorConfig", "SpeakerData", "load_speaker_data", "build_obfuscator", "build_code_obfuscator",
           "build_code_head", "build_speaker_model", "TrainedObfuscator", "train_obfuscator", "FreshAdversary",
           "fresh_adversary", "fresh_attack", "GBM_ROUNDS", "ObfuscationRow", "ObfuscationStudy", "obfuscation_study",
           "code_width_sweep", "target_check", "export_obfuscated_sketch"]


@dataclasses.dataclass(frozen=True)
class ObfuscatorConfig:
    """How the obfuscator, the keyword model and the adversaries are trained."""

    filters: int = 4
    """Channels of the feature-shaped obfuscator's 3x3 convolution (``code_channels=0`` only)."""
    keyword_model: str = "tiny_conv"
    """The kit's keyword model ('tiny_conv' or 'ds_cnn') of the plain reference, and behind a feature-shaped
    obfuscator (``code_channels=0``)."""
    epochs: int = 25
    """Epochs of the joint training (obfuscator + keyword model, alternating with the adversary)."""
    adversary_epochs: int = 120
    """Epochs of the fresh adversaries, trained after the obfuscator is frozen (on real speakers 40 left them
    short: 0.65 on the raw features, 0.74 with 120)."""
    batch_size: int = 64
    """Examples per step."""
    learning_rate: float = 0.003
    """Adam's learning rate for the obfuscator and keyword model."""
    adversary_learning_rate: float = 0.003
    """Adam's learning rate for both adversaries."""
    seed: int = 0
    """Seed of weights and shuffling."""
    bottleneck: int = 0
    """Feature-shaped obfuscator only: channels each frame is squeezed through before the per-frame mix back to
    40 (0: no squeeze, the full 40x40 mix). Fewer channels leave less room for anything but what the keyword model
    is trained to need."""
    normalise_clip: bool = False
    """Subtract each clip's mean over time, per channel, first (cepstral mean normalisation: a speaker's average
    spectral envelope, and the microphone's, is removed before the obfuscator sees the clip)."""
    adversary_steps: int = 1
    """Adversary steps before each obfuscator step (a stronger partner is harder to merely fool)."""
    adversary_reset_epochs: int = 0
    """Start the adversary trained alongside from new random weights every this many epochs (0: never), so the
    obfuscator cannot settle on fooling one partner."""
    adversary_objective: str = "capped_ce"
    """What the obfuscator pushes the adversary towards: 'capped_ce' (its cross-entropy up to chance's, as
    before) or 'uniform' (its output towards the uniform distribution: no speaker favoured)."""
    adversaries: int = 1
    """Adversaries trained alongside at once (an ensemble); the obfuscator is pushed against their mean loss.
    With ``adversary_reset_epochs`` their restarts are staggered, so there is always one fresh partner."""
    code_channels: int = 8
    """More than 0 (the default): the obfuscator outputs a small CODE (an information bottleneck): a 10x8
    stride-2 convolution like tiny_conv's, each frame squeezed to this many channels, averaged over
    ``code_pool`` frames; the keyword model behind it is a small dense head (``keyword_model`` is not used).
    Only what the code carries can leave the device. 0: the older feature-shaped obfuscator (49x40 out) with
    ``keyword_model`` behind it."""
    code_pool: int = 25
    """Frames of the code averaged into one (the stride-2 convolution leaves 25 frames: 5 gives 5 steps, 25
    one step per clip). Only with ``code_channels``."""
    code_activation: str = "tanh"
    """The code's activation: 'tanh' (bounded to -1..1, so training noise limits what it can carry), 'relu'
    or 'linear'. Only with ``code_channels``."""
    code_noise: float = 0.0
    """Standard deviation of Gaussian noise added to the code while training (not on the device): with a
    bounded code, a channel can carry only so many distinguishable levels. Only with ``code_channels``."""
    code_filters: int = 8
    """Filters of the code obfuscator's 10x8 stride-2 convolution (tiny_conv has 8). Only with ``code_channels``."""
    code_head_units: int = 32
    """Hidden units of the dense keyword head behind a code (0: a single softmax layer)."""
    fresh_attackers: tuple[str, ...] = ("cnn", "mlp", "trees")
    """The fresh adversaries trained after the fact ('cnn': a small convolutional network, 'mlp': a dense one on
    the flattened features, 'trees': gradient-boosted trees on them); the verdict is the best of them on the
    held-out clips (the attacker's view). On real speakers no one kind was best everywhere."""


@dataclasses.dataclass
class SpeakerData:
    """Micro features for the study: speakers' own clips split within each speaker, plus other voices."""

    labels: tuple[str, ...]
    """Keyword labels in output order (silence, unknown, the words)."""
    speakers: tuple[str, ...]
    """Speaker ids of the study; a speaker's index is its class for the adversary."""
    x_train: np.ndarray
    """Training features (N, frames, channels): part of every study speaker's clips, and silence."""
    y_train: np.ndarray
    """Keyword label of each training example."""
    s_train: np.ndarray
    """Speaker index of each training example (-1 for silence, which has no speaker)."""
    x_held: np.ndarray
    """Held-out clips of the SAME speakers (and silence): where the adversaries are scored."""
    y_held: np.ndarray
    """Keyword label of each held-out example."""
    s_held: np.ndarray
    """Speaker index of each held-out example (-1 for silence)."""
    x_other: np.ndarray
    """Clips of voices outside the study (keyword scoring only; may be empty)."""
    y_other: np.ndarray
    """Keyword label of each of those clips."""
    description: str
    """Where the clips came from and how they were split, in words."""

    @property
    def x_keyword_test(self) -> np.ndarray:
        """Where the keyword model is scored: the held-out clips and the other voices' clips."""
        return np.concatenate([self.x_held, self.x_other]) if len(self.x_other) else self.x_held

    @property
    def y_keyword_test(self) -> np.ndarray:
        """Labels of ``x_keyword_test``."""
        return np.concatenate([self.y_held, self.y_other]) if len(self.y_other) else self.y_held


def load_speaker_data(root: str | Path, words: Sequence[str] = ("yes", "no"), max_speakers: int = 24,
                      min_clips: int = 20, held_out_share: float = 0.3, max_other_clips: int = 2000,
                      seed: int = 0, audio: AudioFrontendConfig | None = None,
                      progress: bool = False) -> SpeakerData:
    """The study's data from a Speech Commands style folder (synthetic voices or real speakers).

    The ``max_speakers`` speakers with the most clips (at least ``min_clips``) are the identities; each
    one's clips are split at random, ``held_out_share`` held out, so the adversary is scored on clips
    of speakers it trained on. Clips of every other speaker (up to ``max_other_clips``) only score the
    keyword model. Silence is background noise alone, as many clips as an average keyword has.
    """
    audio = audio or AudioFrontendConfig()
    task = KwsTaskConfig(words=tuple(words))
    labels = task.labels
    clips = [c for c in scan_folder(root) if c.word != "_silence_"]
    missing = [w for w in words if not any(c.word == w for c in clips)]
    if missing:
        raise KitError(f"{root}: no clips of keyword(s) {missing}; choose words the folder has")
    by_speaker: dict[str, list[Any]] = {}
    for c in clips:
        by_speaker.setdefault(c.speaker, []).append(c)
    eligible = sorted((s for s, cs in by_speaker.items() if len(cs) >= min_clips),
                      key=lambda s: (-len(by_speaker[s]), s))
    study = eligible[:max_speakers]
    if len(study) < 2:
        raise KitError(f"{root}: {len(study)} speaker(s) with at least {min_clips} clips; the study needs 2 or more "
                       "(lower min_clips, or give a folder with more clips per speaker)")
    rng = np.random.default_rng(seed)
    split: dict[str, list[tuple[Path | None, int, int]]] = {"train": [], "held": [], "other": []}
    for si, s in enumerate(study):
        cs = by_speaker[s]
        order = rng.permutation(len(cs))
        n_held = max(1, int(round(held_out_share * len(cs))))
        for rank, i in enumerate(order):
            c = cs[int(i)]
            y = labels.index(c.word) if c.word in words else labels.index(task.unknown_label)
            split["held" if rank < n_held else "train"].append((c.path, y, si))
    others = [c for s, cs in sorted(by_speaker.items()) if s not in study for c in cs]
    for i in sorted(rng.permutation(len(others))[:max_other_clips]):
        c = others[int(i)]
        split["other"].append((c.path, labels.index(c.word) if c.word in words else labels.index(task.unknown_label), -1))
    silence = labels.index(task.silence_label)
    for name in ("train", "held"):
        n_kw = sum(1 for _, y, _ in split[name] if labels[y] in words)
        split[name] += [(None, silence, -1)] * int(math.ceil(n_kw / len(words)))
    background = load_background_noise(root, audio.sample_rate)

    def features(items: list[tuple[Path | None, int, int]], desc: str) -> tuple[np.ndarray, ...]:
        it: Any = items
        if progress:
            from tqdm.auto import tqdm

            it = tqdm(items, desc=f"features ({desc})", unit="clip", leave=False)
        xs = []
        for path, _, _ in it:
            clip = clip_for(path, audio.sample_rate, audio.clip_samples)
            if path is None and background:
                noise = random_noise_segment(background[int(rng.integers(len(background)))], len(clip), rng)
                clip = mix_background(clip, noise, float(rng.uniform(0, 1.0)))
            xs.append(micro_features(clip, audio))
        x = np.stack(xs) if xs else np.zeros((0, *audio.feature_shape), np.float32)
        return (x, np.array([y for _, y, _ in items], np.int64), np.array([s for _, _, s in items], np.int64))

    xt, yt, st = features(split["train"], "training")
    xh, yh, sh = features(split["held"], "held out")
    xo, yo, _ = features(split["other"], "other voices")
    desc = (f"{root}: {len(study)} speakers with >= {min_clips} clips each, {held_out_share:.0%} of each one's clips "
            f"held out; {len(xo)} clips of {len({c.speaker for c in others})} other speakers score the keywords only")
    return SpeakerData(labels, tuple(study), xt, yt, st, xh, yh, sh, xo, yo, desc)


def build_obfuscator(input_shape: tuple[int, int], filters: int = 4, bottleneck: int = 0,
                     normalise_clip: bool = False) -> Any:
    """The obfuscator: 3x3 conv (ReLU), 1x1 merge, then a per-frame mix of the channels; output shape = input shape.

    ``bottleneck`` > 0 squeezes each frame to that many channels before the mix; ``normalise_clip`` subtracts
    each clip's per-channel mean over time first (see :class:`ObfuscatorConfig`).
    """
    from ..tf_quiet import load_tensorflow
    load_tensorflow()
    import keras
    from keras import layers

    frames, channels = input_shape
    if bottleneck < 0 or bottleneck > channels:
        raise KitError(f"bottleneck {bottleneck}: give 0 (none) to {channels} channels")
    inp = keras.Input(shape=input_shape, name="features")
    x = inp
    if normalise_clip:
        x = layers.Subtract(name="obf_clip_mean")([x, keras.ops.mean(x, axis=1, keepdims=True)])  # MEAN, SUB
    x = layers.Reshape((frames, channels, 1))(x)
    x = layers.Conv2D(filters, (3, 3), padding="same", activation="relu", name="obf_conv")(x)
    x = layers.Conv2D(1, (1, 1), name="obf_merge")(x)
    # Each frame's channels mixed by one 40x40 matrix: a 1x1 convolution over a (frames, 1, channels) view,
    # which the converter keeps as CONV_2D (an op every TFLM build has).
    x = layers.Reshape((frames, 1, channels))(x)
    if bottleneck:
        x = layers.Conv2D(bottleneck, (1, 1), name="obf_squeeze")(x)
    x = layers.Conv2D(channels, (1, 1), name="obf_mix")(x)
    out = layers.Reshape(input_shape, name="obfuscated")(x)
    return keras.Model(inp, out, name="obfuscator")


CODE_ACTIVATIONS = ("tanh", "relu", "linear")


def build_code_obfuscator(input_shape: tuple[int, int], channels: int, pool: int = 1, activation: str = "tanh",
                          noise: float = 0.0, filters: int = 8, normalise_clip: bool = False) -> Any:
    """An obfuscator that outputs a small code (an information bottleneck), not a feature map.

    A 10x8 stride-2 convolution (ReLU, like tiny_conv's), each frame squeezed to ``channels`` values by a
    convolution over all its frequency cells, averaged over ``pool`` frames, then ``activation``; while
    training, Gaussian noise of standard deviation ``noise`` is added (a no-op on the device). The output
    is (frames // 2 // pool, channels): for 49x40 features, 25 // pool steps of ``channels`` values.
    """
    from ..tf_quiet import load_tensorflow
    load_tensorflow()
    import keras
    from keras import layers

    frames, bands = input_shape
    steps = (frames + 1) // 2
    if channels < 1:
        raise KitError(f"code_channels {channels}: give 1 or more (0 means no code: use build_obfuscator)")
    if pool < 1 or pool > steps:
        raise KitError(f"code_pool {pool}: give 1 to {steps} (the frames left after the stride-2 convolution)")
    if activation not in CODE_ACTIVATIONS:
        raise KitError(f"code_activation {activation!r}: give one of {list(CODE_ACTIVATIONS)}")
    if noise < 0:
        raise KitError(f"code_noise {noise}: give 0 or more")
    inp = keras.Input(shape=input_shape, name="features")
    x = inp
    if normalise_clip:
        x = layers.Subtract(name="obf_clip_mean")([x, keras.ops.mean(x, axis=1, keepdims=True)])
    x = layers.Reshape((frames, bands, 1))(x)
    x = layers.Conv2D(filters, (10, 8), strides=(2, 2), padding="same", activation="relu", name="obf_conv")(x)
    x = layers.Conv2D(channels, (1, x.shape[2]), name="obf_code")(x)  # (steps, 1, channels)
    if pool > 1:
        x = layers.AveragePooling2D((pool, 1), name="obf_pool")(x)
    if activation != "linear":
        x = layers.Activation(activation, name="obf_bound")(x)
    if noise > 0:
        x = layers.GaussianNoise(noise, name="obf_noise")(x)
    out = layers.Reshape((steps // pool, channels), name="obfuscated")(x)
    return keras.Model(inp, out, name="code_obfuscator")


def build_code_head(code_shape: tuple[int, int], num_labels: int, units: int = 32) -> Any:
    """The keyword model behind a code: flatten, one hidden dense layer (``units``; 0: none), softmax."""
    from ..tf_quiet import load_tensorflow
    load_tensorflow()
    import keras
    from keras import layers

    inp = keras.Input(shape=code_shape, name="code")
    x = layers.Flatten()(inp)
    if units:
        x = layers.Dense(units, activation="relu", name="head_hidden")(x)
        x = layers.Dropout(0.1)(x)
    out = layers.Dense(num_labels, activation="softmax", name="labels")(x)
    return keras.Model(inp, out, name="code_head")


def build_speaker_model(input_shape: tuple[int, int], num_speakers: int, mean: np.ndarray | None = None,
                        std: np.ndarray | None = None, kind: str = "cnn") -> Any:
    """The adversary: a small network that names the speaker of a feature map or code (standardising it first
    when ``mean`` and ``std`` are given). ``kind`` 'cnn': three 3x3 convolutions; 'mlp': two dense layers on
    the flattened input."""
    from ..tf_quiet import load_tensorflow
    load_tensorflow()
    import keras
    from keras import layers

    if kind not in ("cnn", "mlp"):
        raise KitError(f"speaker model {kind!r}: give 'cnn' or 'mlp'")
    inp = keras.Input(shape=input_shape, name="features")
    x = inp
    if mean is not None and std is not None:
        x = layers.Normalization(axis=(1, 2), mean=mean, variance=np.square(std), name="standardise")(x)
    if kind == "mlp":
        x = layers.Flatten()(x)
        for i, u in enumerate((256, 128)):
            x = layers.Dense(u, activation="relu", name=f"spk_dense{i}")(x)
            x = layers.Dropout(0.3)(x)
        out = layers.Dense(num_speakers, activation="softmax", name="speaker")(x)
        return keras.Model(inp, out, name="speaker_id_mlp")
    x = layers.Reshape((*input_shape, 1))(x)
    small = min(input_shape) < 8  # a code: pool with padding so no side shrinks to nothing
    for i, f in enumerate((16, 32, 64)):
        x = layers.Conv2D(f, (3, 3), padding="same", activation="relu", name=f"spk_conv{i}")(x)
        if i < 2:
            x = layers.MaxPooling2D(2, padding="same" if small else "valid")(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(0.2)(x)
    out = layers.Dense(num_speakers, activation="softmax", name="speaker")(x)
    return keras.Model(inp, out, name="speaker_id")


@dataclasses.dataclass
class TrainedObfuscator:
    """One lambda's obfuscator and keyword model, their int8 model and its keyword scores."""

    lam: float
    """Weight of the adversary's loss (0: the plain model, no adversary)."""
    obfuscator: Any
    """The Keras obfuscator (features -> features of the same shape)."""
    keyword_model: Any
    """The Keras keyword model that reads the obfuscated features."""
    combined: Any
    """Obfuscator then keyword model: one Keras model with the plain keyword model's input."""
    int8_model: bytes
    """``combined`` as a full-int8 .tflite (the obfuscator as its front layers)."""
    backend: str
    """Runtime the int8 model was scored on ('tflm' where tflite-micro is installed)."""
    keyword_metrics: dict[str, Any]
    """Classification metrics of the int8 model on ``SpeakerData.x_keyword_test``."""
    keyword_raw: np.ndarray
    """The int8 model's raw outputs on those clips, one row per clip."""
    keyword_float_balanced_accuracy: float
    """Balanced accuracy of ``combined`` in float on the same clips."""
    co_adversary_accuracy: float | None
    """Held-out speaker accuracy of the adversary trained alongside (the best of an ensemble; None for lambda 0):
    NOT the verdict."""
    seconds: float
    """Wall time of the joint training."""


def _build_front_and_head(shape: tuple[int, int], num_labels: int, cfg: ObfuscatorConfig,
                          plain: bool = False) -> tuple[Any, Any]:
    """The obfuscator ``cfg`` asks for and the keyword model that reads its output (``plain``: no obfuscator, an
    identity in its place, and the kit's ``cfg.keyword_model`` on the raw features)."""
    from ..models import build_kws_model

    if plain:
        import keras

        inp = keras.Input(shape=shape, name="features")
        return keras.Model(inp, inp, name="no_obfuscator"), build_kws_model(cfg.keyword_model, shape, num_labels)
    if cfg.code_channels:
        obf = build_code_obfuscator(shape, cfg.code_channels, cfg.code_pool, cfg.code_activation,
                                    cfg.code_noise, cfg.code_filters, cfg.normalise_clip)
        return obf, build_code_head(tuple(obf.output_shape[1:]), num_labels, cfg.code_head_units)
    obf = build_obfuscator(shape, cfg.filters, cfg.bottleneck, cfg.normalise_clip)
    return obf, build_kws_model(cfg.keyword_model, shape, num_labels)


def _batches(n: int, size: int, rng: np.random.Generator) -> list[np.ndarray]:
    # Full batches only (each epoch drops a different remainder): one shape, so each step is traced once.
    size = max(1, min(size, n))
    order = rng.permutation(n)
    return [order[i:i + size] for i in range(0, n - size + 1, size)]


def _predict(model: Any, x: np.ndarray, batch: int = 512) -> np.ndarray:
    """A model's outputs, called eagerly in batches (``Model.predict`` retraces for every new input size)."""
    out = [np.asarray(model(x[i:i + batch], training=False)) for i in range(0, len(x), batch)]
    return np.concatenate(out) if out else np.zeros((0, *model.output_shape[1:]), np.float32)


def train_obfuscator(data: SpeakerData, lam: float, cfg: ObfuscatorConfig = ObfuscatorConfig(),
                     progress: bool = False, plain: bool = False) -> TrainedObfuscator:
    """Train the obfuscator and keyword model against a speaker adversary (alternating steps), convert, score.

    ``plain``: the reference instead, the kit's keyword model (``cfg.keyword_model``) alone on the raw features,
    trained the same way with no adversary (its ``obfuscator`` is an identity; ``lam`` must be 0).
    """
    from ..convert import to_int8_tflite
    from ..evaluate import classification_metrics, score_runner
    from ..pipelines.kws import balanced_class_weights
    from ..runtime import LITERT, TFLM, ModelRunner, tflm_available
    from ..tf_quiet import load_tensorflow
    from ..train import set_seed

    if lam < 0 or (plain and lam):
        raise KitError(f"lambda {lam}: give 0 or more (0 for the plain model)")
    tf = load_tensorflow()
    import keras

    set_seed(cfg.seed)
    shape = (int(data.x_train.shape[1]), int(data.x_train.shape[2]))
    k, n_spk = len(data.labels), len(data.speakers)
    if cfg.adversary_objective not in ("capped_ce", "uniform"):
        raise KitError(f"adversary_objective {cfg.adversary_objective!r}: give 'capped_ce' or 'uniform'")
    if cfg.adversary_steps < 1 or cfg.adversary_reset_epochs < 0 or cfg.adversaries < 1:
        raise KitError("adversary_steps and adversaries must be 1 or more and adversary_reset_epochs 0 or more")
    obf, kws = _build_front_and_head(shape, k, cfg, plain)
    code_shape = tuple(obf.output_shape[1:])
    advs = [build_speaker_model(code_shape, n_spk) for _ in range(cfg.adversaries)]
    main_vars = obf.trainable_variables + kws.trainable_variables
    opt_main = keras.optimizers.Adam(cfg.learning_rate)
    opt_advs = [keras.optimizers.Adam(cfg.adversary_learning_rate) for _ in advs]
    opt_main.build(main_vars)
    for adv, opt_adv in zip(advs, opt_advs):
        opt_adv.build(adv.trainable_variables)
    cw = balanced_class_weights(data.y_train, k)
    weight_of = np.array([cw.get(i, 0.0) for i in range(k)], np.float32)
    cap = float(math.log(n_spk))
    ce = keras.losses.SparseCategoricalCrossentropy(reduction=None)

    def adv_loss(s: Any, p: Any) -> Any:
        mask = tf.cast(s >= 0, tf.float32)
        per = ce(tf.maximum(s, 0), p)
        return tf.reduce_sum(per * mask) / tf.maximum(tf.reduce_sum(mask), 1.0)

    @tf.function(autograph=False)
    def adversary_step(x: Any, s: Any) -> Any:
        z = obf(x, training=False)
        losses = []
        for adv, opt_adv in zip(advs, opt_advs):
            with tf.GradientTape() as tape:
                loss = adv_loss(s, adv(z, training=True))
            opt_adv.apply_gradients(zip(tape.gradient(loss, adv.trainable_variables), adv.trainable_variables))
            losses.append(loss)
        return tf.add_n(losses)

    def privacy_loss(s: Any, p: Any) -> Any:
        """What the obfuscator minimises about the adversary's answer p (speakers only, not silence)."""
        if cfg.adversary_objective == "uniform":  # cross-entropy against the uniform target, minus its floor
            mask = tf.cast(s >= 0, tf.float32)
            per = -tf.reduce_mean(tf.math.log(tf.clip_by_value(p, 1e-7, 1.0)), axis=-1) - cap
            return tf.reduce_sum(per * mask) / tf.maximum(tf.reduce_sum(mask), 1.0)
        return -tf.minimum(adv_loss(s, p), cap)

    @tf.function(autograph=False)
    def main_step(x: Any, y: Any, s: Any, w: Any) -> Any:
        with tf.GradientTape() as tape:
            z = obf(x, training=True)
            kw = tf.reduce_sum(ce(y, kws(z, training=True)) * w) / tf.reduce_sum(w)
            loss = kw
            if lam > 0:
                loss = kw + lam * tf.add_n([privacy_loss(s, adv(z, training=False)) for adv in advs]) / len(advs)
        opt_main.apply_gradients(zip(tape.gradient(loss, main_vars), main_vars))
        return kw

    rng = np.random.default_rng(cfg.seed)
    x_all = data.x_train.astype(np.float32)
    t0 = time.perf_counter()
    epochs: Any = range(cfg.epochs)
    if progress:
        from tqdm.auto import tqdm

        epochs = tqdm(epochs, desc=f"obfuscator lambda {lam:g}", unit="epoch", leave=False)
    for epoch in epochs:
        for i, (adv, opt_adv) in enumerate(zip(advs, opt_advs)):
            period = cfg.adversary_reset_epochs
            offset = (i * period) // len(advs)  # staggered: the ensemble never restarts all at once
            if lam > 0 and period and epoch > offset and (epoch - offset) % period == 0:
                adv.set_weights(build_speaker_model(code_shape, n_spk).get_weights())  # new random weights
                for v in opt_adv.variables:
                    v.assign(tf.zeros_like(v))
        for idx in _batches(len(x_all), cfg.batch_size, rng):
            x = tf.constant(x_all[idx])
            s = tf.constant(data.s_train[idx])
            if lam > 0:
                for _ in range(cfg.adversary_steps):
                    adversary_step(x, s)
            y = data.y_train[idx]
            main_step(x, tf.constant(y), s, tf.constant(weight_of[y]))
    seconds = time.perf_counter() - t0

    inp = keras.Input(shape=shape, name="features")
    combined = keras.Model(inp, kws(obf(inp)), name=f"obfuscated_{cfg.keyword_model}")
    int8 = to_int8_tflite(combined, data.x_train)
    backend = TFLM if tflm_available() else LITERT
    xk, yk = data.x_keyword_test, data.y_keyword_test
    metrics, raw = score_runner(ModelRunner(int8, backend=backend), xk, yk, data.labels)
    fm = classification_metrics(yk, np.argmax(_predict(combined, xk), 1), data.labels)
    co = None
    if lam > 0:
        held = data.s_held >= 0
        z_held = _predict(obf, data.x_held[held])
        co = max(float(np.mean(np.argmax(_predict(adv, z_held), 1) == data.s_held[held])) for adv in advs)
    return TrainedObfuscator(float(lam), obf, kws, combined, int8, backend, metrics, raw,
                             float(fm["balanced_accuracy"]), co, round(seconds, 2))


@dataclasses.dataclass
class FreshAdversary:
    """A speaker classifier trained from scratch on frozen (obfuscated or raw) features, and its score."""

    model: Any
    """The trained classifier (Keras, standardising its input first; or scikit-learn's for 'trees')."""
    accuracy: float
    """Share of held-out clips of the study speakers whose speaker it names."""
    chance: float
    """Accuracy of always naming the most frequent held-out speaker."""
    train_accuracy: float
    """Its accuracy on the clips it trained on (how well it fits)."""
    history: dict[str, list[float]]
    """Mean training loss per epoch (``loss``; for 'trees', per boosting round)."""
    kind: str = "cnn"
    """Its kind ('cnn' or 'mlp', see :func:`build_speaker_model`; 'trees': gradient-boosted trees)."""


GBM_ROUNDS = 200
"""Boosting rounds of the 'trees' attacker (scikit-learn's histogram gradient boosting, its other defaults)."""


def fresh_adversary(obfuscator: Any | None, data: SpeakerData, cfg: ObfuscatorConfig = ObfuscatorConfig(),
                    seed_offset: int = 1, kind: str = "cnn") -> FreshAdversary:
    """Freeze the obfuscator (None: raw features), train a new speaker classifier on its outputs, score held-out clips.

    ``kind``: 'cnn' or 'mlp' (Keras, ``cfg.adversary_epochs`` epochs at ``cfg.adversary_learning_rate``), or
    'trees' (gradient-boosted trees on the flattened values, ``GBM_ROUNDS`` rounds; on real speakers the strongest
    attacker on the raw features and on small codes).
    """
    if kind not in ("cnn", "mlp", "trees"):
        raise KitError(f"fresh attacker {kind!r}: give 'cnn', 'mlp' or 'trees'")
    from ..tf_quiet import load_tensorflow
    from ..train import set_seed

    tf = load_tensorflow()
    import keras

    tr, he = data.s_train >= 0, data.s_held >= 0

    def view(x: np.ndarray) -> np.ndarray:
        return np.asarray(x if obfuscator is None else _predict(obfuscator, x), np.float32)

    z_tr, z_he = view(data.x_train[tr]), view(data.x_held[he])
    s_tr, s_he = data.s_train[tr], data.s_held[he]
    chance = float(np.bincount(s_he).max() / len(s_he)) if len(s_he) else 0.0
    if kind == "trees":
        from sklearn.ensemble import HistGradientBoostingClassifier

        flat_tr, flat_he = z_tr.reshape(len(z_tr), -1), z_he.reshape(len(z_he), -1)
        trees = HistGradientBoostingClassifier(max_iter=GBM_ROUNDS, random_state=cfg.seed + seed_offset)
        trees.fit(flat_tr, s_tr)
        return FreshAdversary(trees, float(trees.score(flat_he, s_he)), chance, float(trees.score(flat_tr, s_tr)),
                              {"loss": [float(v) for v in -trees.train_score_]}, kind)
    set_seed(cfg.seed + seed_offset)
    model = build_speaker_model(z_tr.shape[1:], len(data.speakers), z_tr.mean(axis=0), z_tr.std(axis=0) + 1e-6,
                                kind=kind)
    opt = keras.optimizers.Adam(cfg.adversary_learning_rate)
    opt.build(model.trainable_variables)
    ce = keras.losses.SparseCategoricalCrossentropy()

    @tf.function(autograph=False)
    def step(x: Any, s: Any) -> Any:
        with tf.GradientTape() as tape:
            loss = ce(s, model(x, training=True))
        opt.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
        return loss

    rng = np.random.default_rng(cfg.seed + seed_offset)
    losses = []
    for _ in range(cfg.adversary_epochs):
        batch_losses = [float(step(tf.constant(z_tr[i]), tf.constant(s_tr[i])))
                        for i in _batches(len(z_tr), cfg.batch_size, rng)]
        losses.append(float(np.mean(batch_losses)))
    acc = float(np.mean(np.argmax(_predict(model, z_he), 1) == s_he))
    train_acc = float(np.mean(np.argmax(_predict(model, z_tr), 1) == s_tr))
    return FreshAdversary(model, acc, chance, train_acc, {"loss": losses}, kind)


def fresh_attack(obfuscator: Any | None, data: SpeakerData,
                 cfg: ObfuscatorConfig = ObfuscatorConfig()) -> tuple[FreshAdversary, dict[str, float]]:
    """Every fresh attacker in ``cfg.fresh_attackers`` on the frozen obfuscator's outputs: the best one (the
    verdict: an attacker picks what works) and each one's held-out accuracy."""
    if not cfg.fresh_attackers:
        raise KitError("fresh_attackers is empty: give at least one of 'cnn', 'mlp', 'trees'")
    found = [fresh_adversary(obfuscator, data, cfg, kind=kind) for kind in cfg.fresh_attackers]
    return max(found, key=lambda f: f.accuracy), {f.kind: f.accuracy for f in found}


@dataclasses.dataclass(frozen=True)
class ObfuscationRow:
    """One point of the trade-off curve."""

    lam: float
    """Weight of the adversary's loss (0: no adversary)."""
    keyword_balanced_accuracy: float
    """Balanced accuracy of the int8 model (obfuscator + keyword model) on ``backend``."""
    keyword_float_balanced_accuracy: float
    """The same in float (Keras)."""
    speaker_accuracy: float
    """The best fresh adversary's accuracy on held-out clips of the study speakers (the honest test)."""
    speaker_train_accuracy: float
    """That adversary's accuracy on its own training clips."""
    speaker_chance: float
    """Accuracy of always naming the most frequent held-out speaker."""
    co_adversary_accuracy: float | None
    """The adversary trained alongside, on the same held-out clips (None at lambda 0)."""
    backend: str
    """Where the int8 model was scored."""
    model_bytes: int
    """Size of the int8 model."""
    seconds: float
    """Wall time of the joint training."""
    speaker_accuracy_by_attacker: dict[str, float] = dataclasses.field(default_factory=dict)
    """Each fresh attacker's held-out accuracy ('cnn', 'mlp', 'trees'); ``speaker_accuracy`` is the largest."""
    setting: str = "obfuscator"
    """'obfuscator' (a row of the sweep) or 'plain' (the reference: the keyword model on the raw features, and
    the fresh adversaries on the raw features)."""


@dataclasses.dataclass
class ObfuscationStudy:
    """The lambda sweep on one data set."""

    rows: list[ObfuscationRow]
    """One row per lambda, in the order given."""
    raw_speaker_accuracy: float
    """The best fresh adversary on the features with no obfuscator at all (reference)."""
    raw_speaker_chance: float
    """Its chance level."""
    data: str
    """Where the clips came from (``SpeakerData.description``)."""
    speakers: int
    """Number of identities."""
    models: dict[float, TrainedObfuscator]
    """Each lambda's trained models (not for JSON)."""
    plain: ObfuscationRow | None = None
    """The reference every target is measured against: the kit's keyword model on the raw features (int8, same
    training) and the fresh adversaries on the raw features (None if the study was run without it)."""


def _scored_row(t: TrainedObfuscator, attacker: FreshAdversary, each: dict[str, float],
                setting: str = "obfuscator") -> ObfuscationRow:
    """One point of a trade-off curve: a trained model's int8 keyword score and the best fresh attacker's."""
    return ObfuscationRow(t.lam, float(t.keyword_metrics["balanced_accuracy"]), t.keyword_float_balanced_accuracy,
                          attacker.accuracy, attacker.train_accuracy, attacker.chance, t.co_adversary_accuracy,
                          t.backend, len(t.int8_model), t.seconds, each, setting)


def obfuscation_study(data: SpeakerData, lambdas: Sequence[float] = (0.0, 0.3, 1.0, 3.0),
                      cfg: ObfuscatorConfig = ObfuscatorConfig(), progress: bool = False,
                      plain: bool = True) -> ObfuscationStudy:
    """Train one obfuscator per lambda, score its int8 model's keywords and fresh adversaries on its outputs.

    ``plain``: also train the reference, the kit's keyword model alone on the raw features, the same way.
    """
    if 0.0 not in [float(v) for v in lambdas]:
        lambdas = (0.0, *lambdas)  # no adversary at all: what the obfuscator's shape alone does
    raw, raw_each = fresh_attack(None, data, cfg)
    plain_row = None
    if plain:
        t = train_obfuscator(data, 0.0, cfg, progress, plain=True)
        plain_row = _scored_row(t, raw, raw_each, "plain")
        if progress:
            print(f"plain {cfg.keyword_model} on raw features: "
                  f"keyword balanced {plain_row.keyword_balanced_accuracy:.3f} "
                  f"({t.backend}), fresh speaker-ID {raw.accuracy:.3f} {raw_each} (chance {raw.chance:.3f})")
    rows, models = [], {}
    for lam in lambdas:
        t = train_obfuscator(data, float(lam), cfg, progress)
        fa, each = fresh_attack(t.obfuscator, data, cfg)
        rows.append(_scored_row(t, fa, each))
        models[t.lam] = t
        if progress:
            r = rows[-1]
            print(f"lambda {r.lam:g}: keyword balanced {r.keyword_balanced_accuracy:.3f} ({r.backend}), "
                  f"fresh speaker-ID {r.speaker_accuracy:.3f} {each} (chance {r.speaker_chance:.3f})")
    return ObfuscationStudy(rows, raw.accuracy, raw.chance, data.description, len(data.speakers), models, plain_row)


def code_width_sweep(data: SpeakerData, widths: Sequence[int], cfg: ObfuscatorConfig = ObfuscatorConfig(),
                     progress: bool = False) -> list[ObfuscationRow]:
    """The information bottleneck's trade-off curve: one code obfuscator per width (``code_channels``), with no
    adversary (lambda 0), everything else as in ``cfg``; each row scored like the lambda sweep's (int8 keyword
    model, best fresh attacker). Each row's ``setting`` is 'code C'."""
    rows = []
    for c in widths:
        if c < 1:
            raise KitError(f"code width {c}: give 1 or more channels")
        one = dataclasses.replace(cfg, code_channels=int(c))
        t = train_obfuscator(data, 0.0, one, progress)
        fa, each = fresh_attack(t.obfuscator, data, one)
        rows.append(_scored_row(t, fa, each, f"code {int(c)}"))
        if progress:
            r = rows[-1]
            print(f"code {c} x {t.obfuscator.output_shape[1]} step(s): "
                  f"keyword balanced {r.keyword_balanced_accuracy:.3f} "
                  f"({r.backend}), fresh speaker-ID {r.speaker_accuracy:.3f} {each} (chance {r.speaker_chance:.3f})")
    return rows


def target_check(rows: Sequence[ObfuscationRow], max_keyword_drop: float = 0.05, min_gap_removed: float = 0.5,
                 plain: ObfuscationRow | None = None) -> list[dict[str, Any]]:
    """The issue's target per obfuscator row: keyword kept within ``max_keyword_drop`` of the reference while the
    fresh adversary loses at least ``min_gap_removed`` of the reference's gap to chance.

    The reference is ``plain`` (the keyword model and the fresh adversaries on the raw features; then every row,
    lambda 0 included, is checked) or, without it, the sweep's lambda-0 row (then only lambdas > 0 are checked).
    """
    ref = plain
    if ref is None:
        ref = next((r for r in rows if r.lam == 0.0 and r.setting != "plain"), None)
        if ref is None:
            raise KitError("the sweep has no lambda 0 (the plain model every target is measured against)")
    gap = ref.speaker_accuracy - ref.speaker_chance
    out = []
    for r in rows:
        if r is ref or r.setting == "plain" or (plain is None and r.lam == 0.0):
            continue
        drop = ref.keyword_balanced_accuracy - r.keyword_balanced_accuracy
        removed = (ref.speaker_accuracy - r.speaker_accuracy) / gap if gap > 0 else float("nan")
        out.append({"setting": r.setting, "lam": r.lam, "keyword_drop_points": round(100 * drop, 1),
                    "share_of_speaker_gap_removed": round(removed, 3),
                    "meets_target": bool(drop <= max_keyword_drop and removed >= min_gap_removed)})
    return out


def export_obfuscated_sketch(trained: TrainedObfuscator, out: str | Path, sketch: str | Path,
                             words: Sequence[str] = ("yes", "no"), audio: AudioFrontendConfig | None = None,
                             cfg: ObfuscatorConfig = ObfuscatorConfig(), force: bool = False) -> Any:
    """Put one lambda's int8 model (the obfuscator as its front layers) into the kit's keyword sketch.

    ``out`` gets ``model_int8.tflite`` and the run's ``config.json`` (the task's ``words`` and the front end
    ``audio`` the study's features were made with: pass the ones given to ``load_speaker_data``). ``sketch``
    gets the keyword sketch's own files where it has none yet, then the generated ones (``export_model``:
    arena measured on TFLM, nothing hand-edited replaced unless ``force``). The sketch needs no change: the
    model takes the plain keyword model's 49x40 int8 features. Returns the export's result.
    """
    from ..config import KwsRunConfig, TrainConfig, save_json
    from ..export.sketches import copy_sketch
    from ..export.write import export_model
    from ..files import atomic_write_bytes

    out, sketch = Path(out), Path(sketch)
    out.mkdir(parents=True, exist_ok=True)
    run_cfg = KwsRunConfig(audio=audio or AudioFrontendConfig(), task=KwsTaskConfig(words=tuple(words)),
                           train=TrainConfig(model=cfg.keyword_model, seed=cfg.seed))
    if tuple(run_cfg.labels) != tuple(trained.keyword_metrics.get("labels", run_cfg.labels)):
        raise KitError(f"the model was trained on labels {trained.keyword_metrics['labels']}, not {run_cfg.labels}: "
                       "pass the words given to load_speaker_data")
    atomic_write_bytes(out / "model_int8.tflite", trained.int8_model)
    save_json(run_cfg, out / "config.json")
    if not (sketch / "kws.ino").is_file():
        copy_sketch("kws", sketch)
    return export_model(out / "model_int8.tflite", out / "config.json", sketch, force=force)
