"""Conversion: stripping tensor names keeps the model's behaviour and the 16-byte buffer alignment."""
from __future__ import annotations

import numpy as np
import pytest

from tinymlkit.convert import strip_tensor_names
from tinymlkit.runtime import ModelRunner, tflm_available
from tinymlkit.tflite_file import read_tflite, schema

pytestmark = pytest.mark.skipif(not tflm_available(), reason="stripping uses tflite-micro's aligner and TFLM")


def _buffer_offsets(data: bytes) -> list[tuple[int, int]]:
    s = schema()
    m = s.Model.GetRootAsModel(data, 0)
    out = []
    for i in range(m.BuffersLength()):
        b = m.Buffers(i)
        if b.DataLength():
            o = b._tab.Offset(4)
            out.append((b._tab.Vector(o), b.DataLength()))
    return out


def test_stripped_reference_model_runs_the_same_and_is_smaller(person_detection_dir):
    data = (person_detection_dir / "person_detect.tflite").read_bytes()
    stripped = strip_tensor_names(data)
    assert len(stripped) < len(data)
    assert all(t.name == "" for t in read_tflite(stripped).tensors)
    assert read_tflite(stripped).opcodes == read_tflite(data).opcodes
    rng = np.random.default_rng(0)
    a, b = ModelRunner(data, "tflm"), ModelRunner(stripped, "tflm")
    for _ in range(3):
        x = rng.integers(-128, 128, (1, 96, 96, 1)).astype(np.int8)
        assert np.array_equal(a.run_raw(x), b.run_raw(x))
    big = [(off, n) for off, n in _buffer_offsets(stripped) if n >= 16]
    assert big and all(off % 16 == 0 for off, _ in big)
