"""The runtime: the one quantisation rule, models named in every error, unsupported ops named, load errors one line."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tinymlkit.config import QuantParams
from tinymlkit.errors import KitError
from tinymlkit.runtime import ModelRunner, measure_arena, quantize, tflm_available
from tinymlkit.tflite_file import ModelLoadError, schema

needs_tflm = pytest.mark.skipif(not tflm_available(), reason="the TFLM interpreter (tflite-micro) is not installed")


def test_quantize_rounds_half_up_and_saturates():
    qp = QuantParams(0.5, -3)
    x = np.array([0.0, 0.25, -0.25, 0.74, 0.75, -0.75, 1000.0, -1000.0])
    # floor(x / 0.5 + 0.5) - 3: ties go up (0.25 -> 1 step, -0.25 -> 0 steps), then saturate to int8.
    assert quantize(x, qp).tolist() == [-3, -2, -3, -2, -1, -4, 127, -128]
    assert quantize(np.array([70000.0]), QuantParams(1.0, 0), np.int16).tolist() == [32767]


def test_frontend_to_int8_uses_the_same_rule():
    from tinymlkit.audio.features import frontend_to_int8
    qp = QuantParams(0.1017156839, -128)
    v = np.arange(0, 2700, dtype=np.uint16)
    assert np.array_equal(frontend_to_int8(v, qp), quantize(v.astype(np.float64) * 10 / 256, qp))


def test_errors_name_the_file(tmp_path: Path, micro_speech_dir: Path):
    with pytest.raises(ModelLoadError, match=rf"{tmp_path / 'nope.tflite'}: no such model file"):
        ModelRunner(tmp_path / "nope.tflite")
    text = tmp_path / "notes.tflite"
    text.write_text("hello, not a model")
    with pytest.raises(ModelLoadError, match=rf"{text}: not a TFLite model"):
        ModelRunner(text)
    with pytest.raises(ModelLoadError, match=r"^given.tflite: not a TFLite model"):
        ModelRunner(b"12345678 garbage", name="given.tflite")
    with pytest.raises(KitError, match="unknown backend"):
        ModelRunner(micro_speech_dir / "micro_speech_quantized.tflite", backend="gpu")


def _with_op(data: bytes, old: str, new: str) -> bytes:
    import flatbuffers
    s = schema()
    m = s.ModelT.InitFromObj(s.Model.GetRootAsModel(data, 0))
    for oc in m.operatorCodes:
        if max(oc.builtinCode, oc.deprecatedBuiltinCode) == getattr(s.BuiltinOperator, old):
            oc.builtinCode = oc.deprecatedBuiltinCode = getattr(s.BuiltinOperator, new)
    b = flatbuffers.Builder(len(data) + 1024)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


@needs_tflm
def test_an_unsupported_op_is_named_as_such(tmp_path: Path, micro_speech_dir: Path):
    path = tmp_path / "skipgram.tflite"
    path.write_bytes(_with_op((micro_speech_dir / "micro_speech_quantized.tflite").read_bytes(), "SOFTMAX", "SKIP_GRAM"))
    want = rf"{path}: the model uses the op SKIP_GRAM, which TFLM cannot run"
    with pytest.raises(ModelLoadError, match=want):
        measure_arena(path)  # once: "could not run the model even with a 4194304-byte arena"
    with pytest.raises(ModelLoadError, match=want):
        ModelRunner(path, backend="tflm")
    with pytest.raises(ModelLoadError, match=rf"{path}: the model uses the op SKIP_GRAM, which LiteRT cannot run"):
        ModelRunner(path, backend="litert")


def test_a_litert_load_error_is_one_line(person_detection_dir: Path):
    # LiteRT refuses the reference person detector (per-axis quantisation on an axis it does not accept);
    # TFLM runs it. The refusal used to come out as a multi-line traceback.
    path = person_detection_dir / "person_detect.tflite"
    with pytest.raises(ModelLoadError) as e:
        ModelRunner(path, backend="litert")
    assert str(e.value).startswith(f"{path}: LiteRT could not load the model") and "\n" not in str(e.value)


@needs_tflm
def test_a_model_file_is_probed_once_per_process(micro_speech_dir: Path):
    from tinymlkit import runtime
    path = micro_speech_dir / "micro_speech_quantized.tflite"
    a = ModelRunner(path, backend="tflm")
    probed = dict(runtime._probed)
    b = ModelRunner(path, backend="tflm")
    assert runtime._probed == probed and any(k[1] == "tflm" for k in probed)
    x = np.zeros((1, 1960), dtype=np.float32)
    assert np.array_equal(a.predict(x), b.predict(x))


def test_arena_bisection_counts_a_crashing_probe_as_too_small():
    """A probe that kills its child (TFLM's unchecked allocation) is "too small"; the next child carries on."""
    import os
    import signal

    from tinymlkit.runtime import _bisect_in_children

    def allocates(n: int) -> bool:
        if 600 <= n < 700:
            os.kill(os.getpid(), signal.SIGSEGV)
        return n >= 700

    assert _bisect_in_children(allocates, 0, 4096) == 700
    assert _bisect_in_children(lambda n: n >= 1, 0, 4096) == 1
    assert _bisect_in_children(lambda n: n >= 4096, 0, 4096) == 4096


def test_arena_bisection_reports_a_probe_that_fails_otherwise():
    from tinymlkit.runtime import _bisect_in_children

    def allocates(n: int) -> bool:
        raise ValueError("damaged model")

    with pytest.raises(ModelLoadError, match="not 'too small'"):
        _bisect_in_children(allocates, 0, 64)


def _with_softmax_input_scale(data: bytes, scale: float) -> bytes:
    """The model with its SOFTMAX's input scale set to ``scale`` (7.8e-9 is what the converter writes for logits
    that were the same on every calibration example)."""
    s = schema()
    m = s.ModelT.InitFromObj(s.Model.GetRootAsModel(data, 0))
    code = next(i for i, oc in enumerate(m.operatorCodes)
                if max(oc.builtinCode, oc.deprecatedBuiltinCode) == s.BuiltinOperator.SOFTMAX)
    softmax = next(op for op in m.subgraphs[0].operators if op.opcodeIndex == code)
    return _with_tensor_scale(data, int(softmax.inputs[0]), scale)


CONSTANT_LOGITS_SCALE = 2e-6 / 255
"""The converter's scale for a tensor that was 0 on every calibration example."""


@needs_tflm
def test_a_softmax_scale_tflm_aborts_on_is_refused_in_words(micro_speech_dir: Path):
    # TFLM's int8 SOFTMAX needs input scale x 2^26 > 1 and calls abort() otherwise: the process died with no
    # traceback (bench_compress prune-vww on an untrained MobileNetV1 whose activations died out).
    ref = (micro_speech_dir / "micro_speech_quantized.tflite").read_bytes()
    bad = _with_softmax_input_scale(ref, CONSTANT_LOGITS_SCALE)
    want = r"^logits.tflite: TFLM cannot run this model: its SOFTMAX \(operator \d+\) has the input scale 7.84e-09, below"
    with pytest.raises(ModelLoadError, match=want):
        ModelRunner(bad, backend="tflm", name="logits.tflite")
    with pytest.raises(ModelLoadError, match=want):
        measure_arena(bad, name="logits.tflite")
    # Just above the limit TFLM prepares and runs it: the check refuses what aborts, not more.
    from tinymlkit.tflite_file import tflm_prepare_problem

    edge = _with_softmax_input_scale(ref, 2.0 ** -26 * 1.001)
    assert tflm_prepare_problem(edge) is None and tflm_prepare_problem(ref) is None
    runner = ModelRunner(edge, backend="tflm", isolate=True)
    assert runner.run_raw(np.zeros(runner.input_shape, dtype=np.int8)).shape == (4,)


@needs_tflm
def test_measure_arena_survives_a_model_that_crashes_tflm(monkeypatch: pytest.MonkeyPatch, micro_speech_dir: Path):
    # Containment behind the check: with the check switched off, TFLM aborts on the first, full-size build;
    # that build runs in a forked child, so the abort is an error here, not the end of this process.
    from tinymlkit import runtime

    monkeypatch.setattr(runtime, "require_tflm_can_prepare", lambda data, where: None)
    bad = _with_softmax_input_scale((micro_speech_dir / "micro_speech_quantized.tflite").read_bytes(),
                                    CONSTANT_LOGITS_SCALE)
    with pytest.raises(ModelLoadError, match=r"^logits.tflite: the TFLM interpreter crashed \(SIGABRT\) building the "
                                             r"model with a 4,194,304-byte arena: TFLM cannot run this model"):
        measure_arena(bad, name="logits.tflite")


@pytest.fixture(scope="module")
def add_sub_model() -> bytes:
    """A small int8 model with an ADD and a SUB of two branches, made by the kit's converter."""
    import keras

    from tinymlkit.convert import to_int8_tflite

    keras.utils.set_random_seed(0)
    inp = keras.Input((8,))
    a, b, c, d = (keras.layers.Dense(4)(inp) for _ in range(4))  # no tensor shared by the ADD and the SUB
    # (no Concatenate: TFLM's int8 concatenation needs one scale for all inputs, which the converter does not give)
    both = keras.layers.Add()([keras.layers.Dense(4)(keras.layers.Add()([a, b])),
                               keras.layers.Dense(4)(keras.layers.Subtract()([c, d]))])
    model = keras.Model(inp, keras.layers.Dense(2, activation="softmax")(both))
    return to_int8_tflite(model, np.random.default_rng(0).normal(size=(64, 8)).astype(np.float32))


def _elementwise_scales(data: bytes, op_name: str) -> tuple[list[int], float, float, float]:
    """The op's (input, input, output) tensor indices and their scales."""
    s = schema()
    m = s.Model.GetRootAsModel(data, 0)
    g = m.Subgraphs(0)
    code = getattr(s.BuiltinOperator, op_name)
    for i in range(g.OperatorsLength()):
        op = g.Operators(i)
        oc = m.OperatorCodes(op.OpcodeIndex())
        if max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode()) == code:
            idx = [int(op.Inputs(0)), int(op.Inputs(1)), int(op.Outputs(0))]
            return (idx, *(float(g.Tensors(j).Quantization().Scale(0)) for j in idx))  # type: ignore[return-value]
    raise AssertionError(f"no {op_name} in the model")


def _with_tensor_scale(data: bytes, tensor: int, scale: float) -> bytes:
    import flatbuffers
    s = schema()
    m = s.ModelT.InitFromObj(s.Model.GetRootAsModel(data, 0))
    m.subgraphs[0].tensors[tensor].quantization.scale = [scale]
    b = flatbuffers.Builder(len(data) + 1024)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def _tflm_build_in_child(data: bytes) -> str:
    """Build and run the model on TFLM in a forked child with no check first: 'ran', or how the child died."""
    from tinymlkit.runtime import _answer_in_child, _ChildCrashed

    def build() -> bool:
        from tflite_micro.python.tflite_micro import runtime as tflm
        it = tflm.Interpreter.from_bytes(data, arena_size=64 * 1024)
        it.set_input(np.zeros((1, 8), dtype=np.int8), 0)
        it.invoke()
        return True

    try:
        _answer_in_child(build)
    except _ChildCrashed as e:
        return str(e)
    return "ran"


@needs_tflm
@pytest.mark.parametrize("op_name", ["ADD", "SUB"])
def test_add_and_sub_scales_tflm_aborts_on_are_refused_in_words(add_sub_model: bytes, op_name: str):
    # TFLM's quantised ADD/SUB pass s_i / (2 max(s1, s2)) and 2 max(s1, s2) / (2^20 s_out) to
    # QuantizeMultiplierSmallerThanOneExp, whose TFLITE_CHECKs abort() unless each is in (0, 1).
    from tinymlkit.tflite_file import tflm_prepare_problem

    assert tflm_prepare_problem(add_sub_model) is None and _tflm_build_in_child(add_sub_model) == "ran"
    (i1, i2, out), s1, s2, s_out = _elementwise_scales(add_sub_model, op_name)
    limit = 2 * max(s1, s2) / 2 ** 20  # the output scale must stay above this
    aborting = {"output scale below the limit": _with_tensor_scale(add_sub_model, out, limit * 0.99),
                "output scale 0": _with_tensor_scale(add_sub_model, out, 0.0),
                "an input scale 0": _with_tensor_scale(add_sub_model, i1, 0.0),
                "an input scale negative": _with_tensor_scale(add_sub_model, i2, -s2)}
    for what, bad in aborting.items():
        assert _tflm_build_in_child(bad) == "SIGABRT", what  # the check below refuses a real abort
        want = rf"^sum.tflite: TFLM cannot run this model: its {op_name} \(operator \d+\) has the input scales"
        with pytest.raises(ModelLoadError, match=want):
            ModelRunner(bad, backend="tflm", name="sum.tflite")
        with pytest.raises(ModelLoadError, match=want):
            measure_arena(bad, name="sum.tflite")
    # Just inside the limit TFLM prepares and runs it: the check refuses what aborts, not more.
    edge = _with_tensor_scale(add_sub_model, out, limit * 1.01)
    assert tflm_prepare_problem(edge) is None and _tflm_build_in_child(edge) == "ran"
    assert ModelRunner(edge, backend="tflm").run_raw(np.zeros((1, 8), dtype=np.int8)).shape == (2,)


@needs_tflm
def test_model_runner_contains_a_tflm_crash_on_bytes_it_was_given(monkeypatch: pytest.MonkeyPatch,
                                                                  add_sub_model: bytes):
    # Containment behind the checks: with them switched off, TFLM aborts building the model; bytes made in
    # this process are built first in a forked child, so the abort is an error here, not the end of this process.
    from tinymlkit import runtime

    monkeypatch.setattr(runtime, "require_tflm_can_prepare", lambda data, where: None)
    (_, _, out), *_ = _elementwise_scales(add_sub_model, "ADD")
    bad = _with_tensor_scale(add_sub_model, out, 0.0)
    with pytest.raises(ModelLoadError, match=r"^sum.tflite: the TFLM interpreter crashed \(SIGABRT\) preparing or "
                                             r"running the model: TFLM cannot run this model"):
        ModelRunner(bad, backend="tflm", name="sum.tflite")
    assert ModelRunner(add_sub_model, backend="tflm").run_raw(np.zeros((1, 8), dtype=np.int8)).shape == (2,)


def test_forked_probes_run_no_garbage_collection():
    # A forked child holds the parent's objects without the threads behind them (TensorFlow's): a collection there
    # ran a finalizer that crashed the child, which passed for a TFLM crash. Here a finalizer crashes any child.
    import os
    import signal

    from tinymlkit.runtime import _answer_in_child, _bisect_in_children

    parent = os.getpid()

    class CrashesAChild:
        def __del__(self) -> None:
            if os.getpid() != parent:
                os.kill(os.getpid(), signal.SIGSEGV)

    def garbage_then_work(n: int) -> int:
        cycle = CrashesAChild()
        cycle.me = cycle  # only the collector frees it
        del cycle
        return len([[i] for i in range(20000)]) and n  # enough allocations to start a collection

    assert _answer_in_child(lambda: garbage_then_work(7)) == 7
    assert _bisect_in_children(lambda n: garbage_then_work(n) >= 5, 0, 64) == 5
