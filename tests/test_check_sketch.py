"""`tinymlkit check-sketch`: a correct sketch passes; each sketch made wrong in exactly one way fails that one check."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from tinymlkit.export.c_source import embedded_models, read_sources, strip_comments
from tinymlkit.export.checks import SketchError, check_sketch
from tinymlkit.cli import main
from tinymlkit.config import KwsRunConfig, save_json
from tinymlkit.export.render import arena_with_headroom
from tinymlkit.export.write import export_model
from tinymlkit.runtime import measure_arena, tflm_available
from tinymlkit.tflite_file import read_tflite, schema

needs_tflm = pytest.mark.skipif(not tflm_available(), reason="the TFLM interpreter (tflite-micro) is not installed")

MODEL_NAME = "micro_speech_quantized.tflite"

# A hand-written sketch in the style of the TFLM micro_speech example, using the generated files.
INO_GENERATED_RESOLVER = """\
#include <Chirale_TensorFlowLite.h>
#include "model_data.h"
#include "model_settings.h"
#include "model_ops.h"
#include "tensorflow/lite/micro/micro_interpreter.h"

alignas(16) uint8_t tensor_arena[kTensorArenaSize];
static ModelOpResolver resolver;

void setup() {
  // resolver.AddConv2D();   (commented out: must not count)
  RegisterModelOps(resolver);
}

void loop() {}
"""

# The same sketch with a resolver written by hand, as learners edit them.
INO_HANDWRITTEN_RESOLVER = """\
#include <Chirale_TensorFlowLite.h>
#include "model_data.h"
#include "model_settings.h"

alignas(16) uint8_t tensor_arena[kTensorArenaSize];
static tflite::MicroMutableOpResolver<4> micro_op_resolver;

void setup() {
  micro_op_resolver.AddDepthwiseConv2D();
  micro_op_resolver.AddFullyConnected();
  micro_op_resolver.AddReshape();
  micro_op_resolver.AddSoftmax();
}

void loop() {}
"""


@pytest.fixture(scope="module")
def source_model(micro_speech_dir: Path) -> Path:
    return micro_speech_dir / MODEL_NAME


def _make_sketch(root: Path, model: Path, ino: str, model_bytes: bytes | None = None) -> Path:
    """A sketch folder (root/micro/micro.ino) exported from the model with the default KWS config."""
    root.mkdir(parents=True, exist_ok=True)
    local_model = root / MODEL_NAME
    local_model.write_bytes(model_bytes if model_bytes is not None else model.read_bytes())
    save_json(KwsRunConfig(), root / "config.json")  # labels silence, unknown, yes, no: micro_speech's
    sketch = root / "micro"
    export_model(local_model, root / "config.json", sketch)
    (sketch / "micro.ino").write_text(ino)
    return sketch


def _flip_embedded_byte(cc: Path) -> None:
    """Change one weight byte of the embedded array (the .tflite keeps the original)."""
    lines = cc.read_text().splitlines()
    k = len(lines) // 2
    lines[k] = re.sub(r"0x([0-9a-f]{2})", lambda m: f"0x{(int(m.group(1), 16) ^ 0x01):02x}", lines[k], count=1)
    cc.write_text("\n".join(lines) + "\n")


def _error_checks(sketch: Path, **kw: object) -> set[str]:
    return {f.check for f in check_sketch(sketch, **kw).errors}


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1))


@needs_tflm
@pytest.mark.parametrize("ino", [INO_GENERATED_RESOLVER, INO_HANDWRITTEN_RESOLVER], ids=["generated", "handwritten"])
def test_correct_sketch_passes(tmp_path: Path, source_model: Path, ino: str) -> None:
    sketch = _make_sketch(tmp_path, source_model, ino)
    report = check_sketch(sketch)
    assert report.ok, [f.format() for f in report.findings]
    assert report.model is not None and report.model.endswith(MODEL_NAME)


@needs_tflm
def test_op_missing_from_handwritten_resolver(tmp_path: Path, source_model: Path) -> None:
    sketch = _make_sketch(tmp_path, source_model, INO_HANDWRITTEN_RESOLVER.replace(
        "  micro_op_resolver.AddSoftmax();", "  // micro_op_resolver.AddSoftmax();"))
    report = check_sketch(sketch, measure=False)
    assert {f.check for f in report.errors} == {"op-missing"}
    (finding,) = report.errors
    assert "SOFTMAX" in finding.message and "AddSoftmax" in finding.message and finding.file == "micro.ino"


@needs_tflm
def test_op_missing_from_stale_generated_ops(tmp_path: Path, source_model: Path) -> None:
    sketch = _make_sketch(tmp_path, source_model, INO_GENERATED_RESOLVER)
    text = (sketch / "model_ops.h").read_text()
    (sketch / "model_ops.h").write_text(re.sub(r".*AddReshape.*\n", "", text))
    report = check_sketch(sketch, measure=False)
    assert {f.check for f in report.errors} == {"op-missing"}
    assert "RESHAPE" in report.errors[0].message


@needs_tflm
def test_no_register_call_means_nothing_registered(tmp_path: Path, source_model: Path) -> None:
    sketch = _make_sketch(tmp_path, source_model, INO_GENERATED_RESOLVER.replace(
        "  RegisterModelOps(resolver);", "  /* RegisterModelOps(resolver); */"))
    errors = check_sketch(sketch, measure=False).errors
    assert {f.check for f in errors} == {"op-missing"} and len(errors) == 4


@needs_tflm
def test_resolver_smaller_than_its_add_calls(tmp_path: Path, source_model: Path) -> None:
    sketch = _make_sketch(tmp_path, source_model, INO_HANDWRITTEN_RESOLVER.replace(
        "MicroMutableOpResolver<4>", "MicroMutableOpResolver<3>"))
    report = check_sketch(sketch, measure=False)
    assert {f.check for f in report.errors} == {"resolver-size"}
    assert "<4>" in report.errors[0].message and report.errors[0].line == 6


@needs_tflm
def test_generated_resolver_size_constant_too_small(tmp_path: Path, source_model: Path) -> None:
    sketch = _make_sketch(tmp_path, source_model, INO_GENERATED_RESOLVER)
    _edit(sketch / "model_ops.h", "constexpr int kModelOpCount = 4;", "constexpr int kModelOpCount = 2;")
    assert _error_checks(sketch, measure=False) == {"resolver-size"}


@needs_tflm
def test_misspelt_resolver_method(tmp_path: Path, source_model: Path) -> None:
    sketch = _make_sketch(tmp_path, source_model, INO_HANDWRITTEN_RESOLVER.replace(
        "micro_op_resolver.AddReshape();", "micro_op_resolver.AddReshape();\n  micro_op_resolver.AddFullyConected();"))
    assert _error_checks(sketch, measure=False) == {"resolver-method"}


@needs_tflm
def test_arena_smaller_than_measured_need(tmp_path: Path, source_model: Path) -> None:
    sketch = _make_sketch(tmp_path, source_model, INO_GENERATED_RESOLVER.replace(
        "tensor_arena[kTensorArenaSize]", "tensor_arena[4 * 1024]"))
    report = check_sketch(sketch)
    assert {f.check for f in report.errors} == {"arena"}
    measured = measure_arena(source_model).arena_bytes
    assert f"{measured:,}" in report.errors[0].message and "4,096" in report.errors[0].message


@needs_tflm
def test_arena_without_headroom_is_too_small(tmp_path: Path, source_model: Path) -> None:
    measured = measure_arena(source_model).arena_bytes
    sketch = _make_sketch(tmp_path, source_model, INO_GENERATED_RESOLVER)
    need = arena_with_headroom(measured)
    _edit(sketch / "model_settings.h", f"kTensorArenaSize = {need};", f"kTensorArenaSize = {measured};")
    assert _error_checks(sketch) == {"arena"}


@needs_tflm
def test_label_count_disagrees(tmp_path: Path, source_model: Path) -> None:
    sketch = _make_sketch(tmp_path, source_model, INO_GENERATED_RESOLVER)
    _edit(sketch / "model_settings.h", 'kLabels[kNumLabels] = {"silence", "unknown", "yes", "no"}',
          'kLabels[kNumLabels] = {"silence", "unknown", "yes"}')
    _edit(sketch / "model_settings.h", "kNumLabels = 4;", "kNumLabels = 3;")
    assert _error_checks(sketch, measure=False) == {"labels"}


@needs_tflm
def test_labels_in_another_order_than_the_config(tmp_path: Path, source_model: Path) -> None:
    sketch = _make_sketch(tmp_path, source_model, INO_GENERATED_RESOLVER)
    _edit(sketch / "model_settings.h", '"yes", "no"}', '"no", "yes"}')
    report = check_sketch(sketch, measure=False)
    assert {f.check for f in report.errors} == {"labels"}
    assert "config" in report.errors[0].message


@needs_tflm
def test_input_shape_disagrees(tmp_path: Path, source_model: Path) -> None:
    sketch = _make_sketch(tmp_path, source_model, INO_GENERATED_RESOLVER)
    _edit(sketch / "model_settings.h", "kInputShape[kInputDims] = {1, 1960}", "kInputShape[kInputDims] = {1, 1940}")
    assert _error_checks(sketch, measure=False) == {"input-shape"}


@needs_tflm
def test_feature_count_disagrees(tmp_path: Path, source_model: Path) -> None:
    sketch = _make_sketch(tmp_path, source_model, INO_GENERATED_RESOLVER)
    _edit(sketch / "model_settings.h", "kFeatureElementCount = 1960;", "kFeatureElementCount = 1980;")
    assert _error_checks(sketch, measure=False) == {"input-shape"}


@needs_tflm
@pytest.mark.parametrize("pattern,replacement", [
    (r"kInputScale = [0-9.e-]+f;", "kInputScale = 0.1f;"),
    (r"kOutputZeroPoint = -128;", "kOutputZeroPoint = 0;"),
])
def test_quantization_constants_disagree(tmp_path: Path, source_model: Path, pattern: str, replacement: str) -> None:
    sketch = _make_sketch(tmp_path, source_model, INO_GENERATED_RESOLVER)
    settings = sketch / "model_settings.h"
    text, n = re.subn(pattern, replacement, settings.read_text(), count=1)
    assert n == 1
    settings.write_text(text)
    assert _error_checks(sketch, measure=False) == {"quantization"}


@needs_tflm
def test_embedded_model_bytes_differ_from_the_named_tflite(tmp_path: Path, source_model: Path) -> None:
    sketch = _make_sketch(tmp_path, source_model, INO_GENERATED_RESOLVER)
    _flip_embedded_byte(sketch / "model_data.cc")
    report = check_sketch(sketch, measure=False)
    assert {f.check for f in report.errors} == {"model-bytes"}
    assert report.errors[0].file == "model_data.cc"


@needs_tflm
def test_named_tflite_replaced_by_another_model(tmp_path: Path, source_model: Path) -> None:
    sketch = _make_sketch(tmp_path, source_model, INO_GENERATED_RESOLVER)
    # Retrained in place: same name, other bytes (one weight changed), settings and sketch untouched.
    data = bytearray(source_model.read_bytes())
    data[len(data) // 2] ^= 0x01
    (sketch / "model" / MODEL_NAME).write_bytes(bytes(data))
    assert _error_checks(sketch, measure=False) == {"model-bytes"}


def _bump_op_version(data: bytes, op: str, version: int) -> bytes:
    import flatbuffers

    s = schema()
    m = s.ModelT.InitFromObj(s.Model.GetRootAsModel(data, 0))
    code = getattr(s.BuiltinOperator, op)
    for oc in m.operatorCodes:
        if max(oc.builtinCode, oc.deprecatedBuiltinCode) == code:
            oc.version = version
    b = flatbuffers.Builder(len(data) + 1024)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


@needs_tflm
def test_op_version_newer_than_the_pinned_library(tmp_path: Path, source_model: Path) -> None:
    bumped = _bump_op_version(source_model.read_bytes(), "SOFTMAX", 9)
    assert ("SOFTMAX", 9) in {(o.name, o.version) for o in read_tflite(bumped).opcodes}
    sketch = _make_sketch(tmp_path, source_model, INO_GENERATED_RESOLVER, model_bytes=bumped)
    report = check_sketch(sketch, measure=False)
    assert {f.check for f in report.errors} == {"op-version"}
    assert "SOFTMAX version 9" in report.errors[0].message and "Chirale_TensorFlowLite 2.0.0" in report.errors[0].message


@needs_tflm
def test_settings_name_a_missing_model(tmp_path: Path, source_model: Path) -> None:
    sketch = _make_sketch(tmp_path, source_model, INO_GENERATED_RESOLVER)
    (tmp_path / MODEL_NAME).unlink()
    (sketch / "model" / MODEL_NAME).unlink()
    (sketch / "tinymlkit_export.json").unlink()
    report = check_sketch(sketch, measure=False)
    assert {f.check for f in report.errors} == {"model"}
    assert MODEL_NAME in report.errors[0].message
    assert report.model is not None and "embedded" in report.model  # the other checks ran on the embedded array


@needs_tflm
def test_fix_regenerates_generated_files_only(tmp_path: Path, source_model: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    ino = INO_GENERATED_RESOLVER.replace("tensor_arena[kTensorArenaSize]", "tensor_arena[4 * 1024]")
    sketch = _make_sketch(tmp_path, source_model, ino)
    _edit(sketch / "model_settings.h", "kNumLabels = 4;", "kNumLabels = 3;")
    _edit(sketch / "model_ops.h", "constexpr int kModelOpCount = 4;", "constexpr int kModelOpCount = 2;")
    _flip_embedded_byte(sketch / "model_data.cc")
    assert _error_checks(sketch) == {"labels", "resolver-size", "arena", "model-bytes"}
    before_ino = (sketch / "micro.ino").read_bytes()
    edited = {name: (sketch / name).read_bytes() for name in ("model_settings.h", "model_ops.h", "model_data.cc")}
    # Generated files edited by hand are not replaced without --force, and nothing is changed.
    assert main(["check-sketch", str(sketch), "--fix"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("tinymlkit: error: ")
    assert "model_settings.h (edited by hand since export)" in err and "--force" in err
    assert {name: (sketch / name).read_bytes() for name in edited} == edited
    assert main(["check-sketch", str(sketch), "--fix", "--force"]) == 1  # the hand-written arena is still too small
    out = capsys.readouterr().out
    assert "regenerated" in out and "[arena]" in out and "[labels]" not in out
    assert (sketch / "micro.ino").read_bytes() == before_ino
    for name, data in edited.items():  # each edited version kept beside the new file
        (backup,) = sketch.glob(name + ".bak-*")
        assert backup.read_bytes() == data
    (sketch / "micro.ino").write_text(INO_GENERATED_RESOLVER)
    assert main(["check-sketch", str(sketch)]) == 0


@needs_tflm
def test_cli_exit_status_and_json(tmp_path: Path, source_model: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sketch = _make_sketch(tmp_path, source_model, INO_GENERATED_RESOLVER)
    assert main(["check-sketch", str(sketch)]) == 0
    assert "OK" in capsys.readouterr().out
    _edit(sketch / "model_settings.h", "kInputZeroPoint = -128;", "kInputZeroPoint = 0;")
    assert main(["check-sketch", str(sketch), "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is False and [f["check"] for f in data["findings"] if f["severity"] == "error"] == ["quantization"]
    assert main(["check-sketch", str(sketch), "--fix", "--force", "--json"]) == 0
    json.loads(capsys.readouterr().out)


def test_not_a_sketch_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-sketch", str(tmp_path / "nowhere")]) == 2
    assert "no such sketch folder" in capsys.readouterr().err
    (tmp_path / "notes.txt").write_text("hi")
    assert main(["check-sketch", str(tmp_path)]) == 2
    assert "no .ino" in capsys.readouterr().err
    with pytest.raises(SketchError):
        check_sketch(tmp_path)


def test_strip_comments_keeps_strings_and_lines() -> None:
    src = 'a(); // b.AddSoftmax();\n/* c.AddConv2D();\n */ s = "// not a comment"; /* x */ d();\n'
    out = strip_comments(src)
    assert out.count("\n") == src.count("\n")
    assert "AddSoftmax" not in out and "AddConv2D" not in out
    assert '"// not a comment"' in out and "d();" in out


def test_embedded_model_found_in_handwritten_array(tmp_path: Path, source_model: Path) -> None:
    data = source_model.read_bytes()
    body = ", ".join(f"0x{b:02x}" for b in data)
    (tmp_path / "model.cpp").write_text(f"const unsigned char g_model[] DATA_ALIGN_ATTRIBUTE = {{{body}}};\n"
                                        f"const int g_model_len = {len(data)};\n")
    (tmp_path / "x.ino").write_text("void setup() {}\nvoid loop() {}\n")
    found = embedded_models(read_sources(tmp_path))
    assert [(name, blob) for name, blob, _, _ in found] == [("g_model", data)]


@needs_tflm
def test_person_detection_example_style_sketch(tmp_path: Path, person_detection_dir: Path) -> None:
    # The TFLM person_detection example's resolver, arena and model array, written by hand (no generated files).
    data = (person_detection_dir / "person_detect.tflite").read_bytes()
    sketch = tmp_path / "person_detection"
    sketch.mkdir()
    body = ",\n".join(", ".join(f"0x{b:02x}" for b in data[i:i + 16]) for i in range(0, len(data), 16))
    (sketch / "person_detect_model_data.cpp").write_text(
        f"alignas(16) const unsigned char g_person_detect_model_data[] = {{\n{body}\n}};\n"
        f"const int g_person_detect_model_data_len = {len(data)};\n")
    ino = """\
constexpr int kTensorArenaSize = 136 * 1024;
alignas(16) static uint8_t tensor_arena[kTensorArenaSize];
void setup() {
  static tflite::MicroMutableOpResolver<5> micro_op_resolver;
  micro_op_resolver.AddAveragePool2D(tflite::Register_AVERAGE_POOL_2D_INT8());
  micro_op_resolver.AddConv2D(tflite::Register_CONV_2D_INT8());
  micro_op_resolver.AddDepthwiseConv2D(tflite::Register_DEPTHWISE_CONV_2D_INT8());
  micro_op_resolver.AddReshape();
  micro_op_resolver.AddSoftmax(tflite::Register_SOFTMAX_INT8());
}
void loop() {}
"""
    (sketch / "person_detection.ino").write_text(ino)
    report = check_sketch(sketch)
    assert report.ok, [f.format() for f in report.findings]
    (sketch / "person_detection.ino").write_text(ino.replace("136 * 1024", "64 * 1024"))
    assert _error_checks(sketch) == {"arena"}
    shutil.rmtree(sketch)


@needs_tflm
def test_all_ops_resolver_registers_every_op(tmp_path: Path, source_model: Path) -> None:
    ino = INO_GENERATED_RESOLVER.replace("static ModelOpResolver resolver;", "static tflite::AllOpsResolver resolver;")
    sketch = _make_sketch(tmp_path, source_model, ino.replace("  RegisterModelOps(resolver);\n", ""))
    assert check_sketch(sketch).ok


# ---- Generated files present and sane; the audio settings checked (issues 11 sections 5-6, 12 section 2)

@pytest.mark.parametrize("content", [None, b"", b"\x00\xff garbage \x01", b"// nothing here\nint x;\n"],
                         ids=["missing", "empty", "binary", "garbage"])
def test_missing_empty_or_garbage_settings_are_a_failure(tmp_path: Path, source_model: Path, content) -> None:
    sketch = _make_sketch(tmp_path, source_model, INO_GENERATED_RESOLVER)
    p = sketch / "model_settings.h"
    if content is None:
        p.unlink()
    else:
        p.write_bytes(content)
    report = check_sketch(sketch, measure=False)
    assert not report.ok
    assert "settings" in {f.check for f in report.errors}, [f.format() for f in report.findings]


def test_cli_never_says_ok_without_settings(tmp_path: Path, source_model: Path, capsys) -> None:
    sketch = _make_sketch(tmp_path, source_model, INO_GENERATED_RESOLVER)
    (sketch / "model_settings.h").write_text("")
    assert main(["check-sketch", str(sketch)]) == 1
    out = capsys.readouterr().out
    assert "OK" not in out and "[settings]" in out


@pytest.mark.parametrize("key,value", [("files", ["a"]), ("model", 5), ("arena_measured", "big"),
                                       ("config_data", {"kind": "kws"})])
def test_manifest_with_wrong_types_is_one_line(tmp_path: Path, source_model: Path, capsys, key, value) -> None:
    sketch = _make_sketch(tmp_path, source_model, INO_GENERATED_RESOLVER)
    m = sketch / "tinymlkit_export.json"
    data = json.loads(m.read_text())
    data[key] = value
    if key == "config_data":
        data["config"] = None
    m.write_text(json.dumps(data))
    assert main(["check-sketch", str(sketch)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("tinymlkit: error: ") and "tinymlkit_export.json" in err


@pytest.mark.parametrize("old,new", [("kAudioWindowStrideMs = 20;", "kAudioWindowStrideMs = 10;"),
                                     ("kAudioEnablePcan = true;", "kAudioEnablePcan = false;"),
                                     ("kAudioLowerBandLimit = 125.0f;", "kAudioLowerBandLimit = 300.0f;"),
                                     ("config->window.step_size_ms = kAudioWindowStrideMs;", "")])
def test_audio_settings_that_differ_from_the_config(tmp_path: Path, source_model: Path, old: str, new: str) -> None:
    sketch = _make_sketch(tmp_path, source_model, INO_GENERATED_RESOLVER)
    _edit(sketch / "model_settings.h", old, new)
    report = check_sketch(sketch, measure=False)
    assert {f.check for f in report.errors} == {"audio-settings"}, [f.format() for f in report.findings]


def test_settings_from_an_old_export_without_the_frontend_function(tmp_path: Path, source_model: Path) -> None:
    sketch = _make_sketch(tmp_path, source_model, INO_GENERATED_RESOLVER)
    p = sketch / "model_settings.h"
    p.write_text(re.sub(r"template <typename FrontendConfigT>.*?\n}\n", "", p.read_text(), flags=re.S))
    errors = check_sketch(sketch, measure=False).errors
    assert [f.check for f in errors] == ["audio-settings"] and "KitFillFrontendConfig" in errors[0].message
