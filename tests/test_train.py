"""tinymlkit.train on tiny models: the kept epoch is the best by balanced accuracy; transfer runs in two phases.
"""
from __future__ import annotations

import types

import numpy as np
import pytest

from tinymlkit.config import TrainConfig


def _balanced_accuracy(y: np.ndarray, pred: np.ndarray) -> float:
    return float(np.mean([np.mean(pred[y == k] == k) for k in np.unique(y)]))


def _dense_model(n_in: int, n_classes: int):
    from tinymlkit.tf_quiet import load_tensorflow
    load_tensorflow()
    import keras

    return keras.Sequential([keras.Input((n_in,)), keras.layers.Dense(n_classes, activation="softmax")])


def test_fit_keeps_the_weights_of_the_best_balanced_accuracy_epoch():
    from tinymlkit.train import fit, set_seed

    rng = np.random.default_rng(3)
    # Three overlapping classes, one of them small: plain accuracy and balanced accuracy disagree.
    sizes, centres = (300, 300, 30), np.array([[0.0, 0.0], [1.2, 0.0], [0.6, 1.0]])
    x = np.concatenate([c + rng.normal(0, 0.4, (n, 2)) for c, n in zip(centres, sizes)]).astype(np.float32)
    y = np.concatenate([np.full(n, k) for k, n in enumerate(sizes)]).astype(np.int64)
    order = rng.permutation(len(y))
    x, y = x[order], y[order]
    x_tr, y_tr, x_va, y_va = x[:400], y[:400], x[400:], y[400:]
    set_seed(0)
    model = _dense_model(2, 3)
    r = fit(model, x_tr, y_tr, x_va, y_va, TrainConfig(epochs=4, batch_size=64, learning_rate=0.1, patience=2),
            progress=False)
    bal = r.history["val_balanced_accuracy"]
    assert r.epochs_run == len(r.history["loss"]) == len(bal) and 1 <= r.epochs_run <= 4
    assert r.best_epoch == int(np.argmax(bal)) + 1
    # The model left behind is the best epoch's, scored the same way.
    pred = np.argmax(model.predict(x_va, verbose=0), axis=1)
    assert _balanced_accuracy(y_va, pred) == pytest.approx(bal[r.best_epoch - 1], abs=1e-6)
    assert bal[r.best_epoch - 1] > 1 / 3 + 0.2  # it learnt something: well above chance (three classes)


def _tiny_images() -> types.SimpleNamespace:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (32, 8, 8, 1), dtype=np.uint8)
    y = np.arange(32) % 2
    return types.SimpleNamespace(train=(x[:24], y[:24]), validation=(x[24:], y[24:]))


def _tiny_classifier():
    """A kit-shaped classifier (a base named like MobileNet's, a 'predictions' head), small enough to train in a blink."""
    from tinymlkit.tf_quiet import load_tensorflow
    load_tensorflow()
    import keras
    from keras import layers

    from tinymlkit.models.mobilenet import BASE_NAME

    base = keras.Sequential([keras.Input((8, 8, 1)), layers.Conv2D(4, 3, activation="relu"),
                             layers.BatchNormalization()], name=BASE_NAME)
    inp = keras.Input((8, 8, 1))
    out = layers.Dense(2, activation="softmax", name="predictions")(layers.GlobalAveragePooling2D()(base(inp)))
    return keras.Model(inp, out), base


def test_train_classifier_transfer_trains_the_head_then_everything():
    from keras import layers

    from tinymlkit.train import set_seed, train_classifier

    set_seed(0)
    model, base = _tiny_classifier()
    before = [w.copy() for w in base.get_weights()]
    r = train_classifier(model, _tiny_images(), TrainConfig(epochs=4, batch_size=8, learning_rate=0.01, patience=4),
                         transfer=True, progress=False)
    # A quarter of the epochs (at least one) for the new head with the base frozen, the rest for everything.
    assert [p["phase"] for p in r["phases"]] == ["head (base frozen)", "fine-tune"]
    assert [p["epochs_run"] for p in r["phases"]] == [1, 3] and r["epochs_run"] == 4
    assert len(r["history"]["val_accuracy"]) == 4 and r["seconds"] > 0
    # The fine-tune phase moved the base, and the model is left trainable for the caller.
    assert any(not np.array_equal(a, b) for a, b in zip(before, base.get_weights()))
    assert base.trainable and all(lay.trainable for lay in base.layers if isinstance(lay, layers.BatchNormalization))


def test_train_classifier_can_keep_the_batch_norms_frozen():
    # A base read from a folded int8 model has no batch statistics to learn: its batch norms stay frozen.
    from keras import layers

    from tinymlkit.train import set_seed, train_classifier

    set_seed(0)
    model, base = _tiny_classifier()
    r = train_classifier(model, _tiny_images(), TrainConfig(epochs=2, batch_size=8, patience=2), transfer=False,
                         progress=False, frozen_batchnorm=True)
    assert [p["phase"] for p in r["phases"]] == ["all layers"] and r["epochs_run"] == 2
    assert base.trainable and not any(lay.trainable for lay in base.layers if isinstance(lay, layers.BatchNormalization))


def _count_train_step_traces(model) -> list[int]:
    traces = [0]
    step = model.train_step

    def counted(data):
        traces[0] += 1  # Python runs here only while TensorFlow traces the step
        return step(data)

    model.train_step = counted
    return traces


@pytest.mark.parametrize("built", [False, True])
def test_train_step_is_traced_once_when_its_state_is_built_first(built):
    """Keras traces the train step twice when its first trace creates the optimizer's and metrics' variables;
    build_training_state creates them beforehand (the control shows the second trace is real)."""
    from tinymlkit.tf_quiet import load_tensorflow
    from tinymlkit.train import build_training_state, set_seed

    load_tensorflow()
    import keras

    set_seed(0)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 4)).astype(np.float32), rng.integers(0, 3, 64)
    model = _dense_model(4, 3)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    if built:
        build_training_state(model, x, y)
        assert model.optimizer.built
    traces = _count_train_step_traces(model)
    hist = model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    assert traces[0] == (1 if built else 2)
    assert len(hist.history["accuracy"]) == 2  # the metric still counts from zero in every epoch
    assert 0.0 <= hist.history["accuracy"][0] <= 1.0


def test_fit_builds_the_training_state_before_keras_traces():
    from tinymlkit.train import fit

    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(80, 4)).astype(np.float32), rng.integers(0, 3, 80)
    model = _dense_model(4, 3)
    compile_ = model.compile
    holder = {}

    def compile_and_count(*a, **k):
        compile_(*a, **k)
        holder["traces"] = _count_train_step_traces(model)
        test_step = model.test_step
        holder["test_traces"] = [0]

        def counted(data):
            holder["test_traces"][0] += 1
            return test_step(data)

        model.test_step = counted

    model.compile = compile_and_count
    r = fit(model, x[:60], y[:60], x[60:], y[60:], TrainConfig(epochs=2, batch_size=16, patience=5), progress=False)
    assert holder["traces"][0] == 1
    assert holder["test_traces"][0] == 0, "the validation set is predicted once per epoch, not also evaluated"
    assert {"val_loss", "val_accuracy", "val_balanced_accuracy"} <= set(r.history)


def test_validation_loss_and_accuracy_from_predictions_equal_keras_evaluate():
    from tinymlkit.tf_quiet import load_tensorflow
    from tinymlkit.train import BalancedAccuracy, set_seed

    load_tensorflow()
    import keras

    set_seed(2)
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(90, 5)).astype(np.float32), rng.integers(0, 4, 90)
    model = _dense_model(5, 4)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=3, verbose=0)
    cb = BalancedAccuracy(x, y, loss_and_accuracy=True)
    cb.set_model(model)
    logs: dict = {}
    cb.on_epoch_end(0, logs)
    loss, acc = model.evaluate(x, y, verbose=0)
    assert logs["val_loss"] == pytest.approx(loss, rel=1e-5)
    # Keras keeps the ratio in float32: compare the number of correct predictions.
    assert round(logs["val_accuracy"] * len(y)) == round(acc * len(y))
    pred = np.argmax(model.predict(x, verbose=0), axis=1)
    assert logs["val_balanced_accuracy"] == pytest.approx(_balanced_accuracy(y, pred))


def test_soft_targets_mix_the_label_with_the_softened_teacher():
    from tinymlkit.train import DistillConfig, soft_targets

    y = np.array([0, 2, 1])
    teacher = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8], [0.05, 0.9, 0.05]])
    t = soft_targets(y, teacher, alpha=0.5, temperature=2.0)
    assert t.shape == (3, 3) and np.allclose(t.sum(axis=1), 1.0, atol=1e-6)
    assert np.array_equal(soft_targets(y, teacher, alpha=1.0), np.eye(3, dtype=np.float32)[y])
    assert np.allclose(soft_targets(y, teacher, alpha=0.0, temperature=1.0), teacher, atol=1e-6)
    # A higher temperature brings the classes closer (more entropy) and keeps the teacher's ranking.
    hot = soft_targets(y, teacher, alpha=0.0, temperature=4.0)
    ent = lambda p: -(p * np.log(p)).sum(axis=1)  # noqa: E731
    assert np.all(ent(hot) > ent(teacher))
    assert np.array_equal(np.argsort(hot, axis=1), np.argsort(teacher, axis=1))
    with pytest.raises(ValueError, match="do not match"):
        soft_targets(y[:2], teacher)
    with pytest.raises(ValueError, match="alpha"):
        DistillConfig(alpha=1.5)


def test_a_student_trained_on_soft_targets_learns_the_teachers_confidence():
    """Tiny distillation: a teacher that is unsure near the boundary (p = sigmoid(x)). On hard labels a
    student grows sure everywhere; on the teacher's probabilities it learns the teacher's own uncertainty."""
    from tinymlkit.train import fit, set_seed, soft_targets

    rng = np.random.default_rng(0)
    x = rng.uniform(-2, 2, (600, 2)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    p1 = 1 / (1 + np.exp(-x[:, 0]))
    teacher = np.stack([1 - p1, p1], axis=1)
    cfg = TrainConfig(epochs=40, batch_size=32, learning_rate=0.05, patience=40)
    gaps = {}
    for name, targets in (("hard", y), ("soft", soft_targets(y, teacher, alpha=0.0, temperature=1.0))):
        set_seed(1)
        model = _dense_model(2, 2)
        fit(model, x[:500], targets[:500], x[500:], y[500:], cfg, progress=False, class_weight={0: 1.0, 1: 1.0})
        pred = model.predict(x[500:], verbose=0)[:, 1]
        gaps[name] = float(np.mean(np.abs(pred - p1[500:])))
        assert np.mean((pred > 0.5) == (y[500:] == 1)) > 0.95  # both learn the boundary
    assert gaps["soft"] < 0.05, gaps
    assert gaps["hard"] > 2 * gaps["soft"], gaps
