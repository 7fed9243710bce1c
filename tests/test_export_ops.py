"""The op table of the pinned Arduino TFLM library (tinymlkit.export.ops), on its own and on real models."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from tinymlkit.export.ops import METHOD_FOR_OP, OP_SUPPORT, PINNED_LIBRARY, RESOLVER_METHODS, version_problem
from tinymlkit.tflite_file import read_tflite

ROOT = Path(__file__).resolve().parents[1]
KWS_MODEL = ROOT / "arduino_sketches" / "kws" / "model" / "model_int8.tflite"


def test_every_versioned_op_can_be_registered_and_methods_are_one_to_one():
    assert set(OP_SUPPORT) <= set(METHOD_FOR_OP)
    assert len(METHOD_FOR_OP) == len(RESOLVER_METHODS), "two resolver methods claim the same op"
    for method, op in RESOLVER_METHODS.items():
        assert re.fullmatch(r"Add[A-Z0-9]\w*", method), method
        assert METHOD_FOR_OP[op] == method
    for op, support in OP_SUPPORT.items():
        assert support.max_version >= 1 and support.note, op


@pytest.mark.parametrize("op", sorted(OP_SUPPORT))
def test_version_problem_starts_just_above_the_highest_implemented_version(op):
    top = OP_SUPPORT[op].max_version
    assert version_problem(op, 1) is None and version_problem(op, top) is None
    msg = version_problem(op, top + 1)
    assert msg is not None
    assert f"{op} version {top + 1}" in msg and f"up to version {top}" in msg and PINNED_LIBRARY.version in msg


def test_an_op_without_a_resolver_method_is_named():
    msg = version_problem("NOT_AN_OP", 1)
    assert msg is not None and "NOT_AN_OP" in msg and "MicroMutableOpResolver" in msg
    # An op the library registers but whose versions are not in the table is not reported.
    assert "ABS" in METHOD_FOR_OP and "ABS" not in OP_SUPPORT and version_problem("ABS", 99) is None


def _models(shared: Path | None) -> list[Path]:
    models = [KWS_MODEL] if KWS_MODEL.is_file() else []
    if shared is not None:
        ref = shared / "tflite_micro_reference"
        models += [ref / "micro_speech" / "micro_speech_quantized.tflite", ref / "person_detection" / "person_detect.tflite"]
    return models


def test_the_course_models_need_nothing_the_pinned_library_lacks(shared_data):
    models = _models(shared_data)
    assert len(models) >= 2
    for path in models:
        opcodes = read_tflite(path).opcodes
        assert opcodes, path
        problems = [version_problem(op.name, op.version) for op in opcodes]
        assert not [p for p in problems if p], (path.name, problems)
        assert all(op.name in OP_SUPPORT for op in opcodes), f"{path.name}: an op whose versions are not checked"
