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
