"""The Arduino sketches: layout, includes, generated names, check-sketch, and a Cortex-M4F build of their plain C++."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tinymlkit.config import VwwRunConfig
from tinymlkit.export.checks import check_sketch
from tinymlkit.export.render import GENERATED_FILES
from tinymlkit.export.sketches import (MODEL_SKETCHES, SKETCHES, generated_name_problems, include_problems,
                                       library_src, sketch_dir)
from tinymlkit.export.write import export_model

from cpp_build import arm_tool, host_objects, m4_objects

BOARD_LIBRARY = library_src().parents[1] / "TinyMLKitBoard" / "src"
"""The kit's second Arduino library: board code (camera, interpreter bring-up, BENCH timing), one copy."""
ARDUINO_CLI_MIN = "1.3.0"
"""The first arduino-cli that accepts `dir:` library entries in sketch.yaml (1.1 and 1.2 reject them)."""


@pytest.mark.parametrize("name", SKETCHES)
def test_sketch_folder_layout(name):
    d = sketch_dir(name)
    assert (d / f"{name}.ino").is_file()
    assert (d / "README.md").is_file()
    yaml = (d / "sketch.yaml").read_text()
    assert "fqbn: arduino:mbed_nano:nano33ble" in yaml
    assert re.search(r"platform: arduino:mbed_nano \(\d+\.\d+\.\d+\)", yaml)
    for profile in re.split(r"^  (?=\w+:\n)", yaml.split("profiles:", 1)[1], flags=re.M)[1:]:
        assert "dir: ../libraries/TinyMLKit\n" in profile and "dir: ../libraries/TinyMLKitBoard\n" in profile, profile
    for lib in re.findall(r"^\s*- ([A-Za-z_]\w*)(?: \(([^)]*)\))?\s*$", yaml, re.M):
        assert lib[1], f"{name}/sketch.yaml: library {lib[0]} has no pinned version"
    if name in MODEL_SKETCHES:
        assert "Chirale_TensorFLowLite (2.0.0)" in yaml


@pytest.mark.parametrize("name", SKETCHES)
def test_arduino_cli_version_is_one_that_accepts_the_profiles(name):
    d = sketch_dir(name)
    for f in (d / "sketch.yaml", d / "README.md"):
        text = f.read_text(encoding="utf-8")
        for m in re.finditer(r"arduino-cli (\d+\.\d+(?:\.\d+)?)\+? or newer|arduino-cli (\d+\.\d+(?:\.\d+)?)\+", text):
            assert (m.group(1) or m.group(2)) == ARDUINO_CLI_MIN, f"{f}: says {m.group(0)!r}"
    assert f"arduino-cli {ARDUINO_CLI_MIN} or newer" in (d / "sketch.yaml").read_text(encoding="utf-8")


def _include_problems(folder: Path, generated_expected: bool) -> list[str]:
    """Includes that resolve nowhere a board build looks: sketch folder, both kit libraries, pinned headers."""
    problems = include_problems(folder, generated_expected=generated_expected)
    # tinymlkit.export.sketches.include_problems knows the TinyMLKit library; the board library is checked here.
    return [msg for msg in problems
            if not (m := re.search(r'#include "([^"]+)"', msg)) or not (BOARD_LIBRARY / m.group(1)).is_file()]


def _board_library_names() -> set[str]:
    """Constants the board library defines (kFrameWidth... in kit_camera.h)."""
    names: set[str] = set()
    for f in BOARD_LIBRARY.glob("*.h"):
        names |= set(re.findall(r"\bconstexpr\s+[\w:]+\s+(k[A-Z]\w*)\s*=", f.read_text(encoding="utf-8")))
    return names


def _generated_name_problems(folder: Path) -> list[str]:
    """generated_name_problems, without the names the board library defines for the sketch."""
    board = _board_library_names()
    return [msg for msg in generated_name_problems(folder)
            if not (m := re.search(r"uses (\w+), which no generated header defines", msg)) or m.group(1) not in board]


@pytest.mark.parametrize("name", SKETCHES)
def test_includes_resolve(name):
    generated_committed = name == "kws"
    assert _include_problems(sketch_dir(name), generated_committed) == []


AUDIO_MODEL_SKETCHES = ("kws", "early_exit", "anomaly")
"""Sketches that run a model on the microphone's features: all through kit_audio.h."""
_COPIED_BOARD_CODE = re.compile(r"^\s*(?:static\s+)?(?:void|bool|int)\s+(fail|set_led|led|start_frontend|"
                                r"process_audio)\s*\(|\b(?:FrontendProcessSamples|FrontendPopulateState|g_ring)\b", re.M)
"""What the sketches once each carried a copy of (error blink, LEDs, the audio ring and frontend feed)."""


def _all_sketch_sources() -> list[Path]:
    """Every hand-written .ino, including the advanced track's and early_exit's stage2/."""
    return sorted(p for p in sketch_dir("kws").parent.rglob("*.ino") if "libraries" not in p.parts)


def test_board_code_lives_once_in_the_board_library():
    for f in ("kit_camera.h", "kit_camera_config.h", "kit_interpreter.h", "kit_bench.h", "kit_status.h",
              "kit_audio.h"):
        assert (BOARD_LIBRARY / f).is_file(), f
    for name in SKETCHES:
        d = sketch_dir(name)
        copies = [f.name for f in d.iterdir() if f.name in ("camera.h", "camera_config.h") or
                  (f.suffix in (".h", ".cpp") and (BOARD_LIBRARY / f.name).is_file())]
        assert not copies, f"{name}: copies of the board library's files: {copies}"
        ino = (d / f"{name}.ino").read_text(encoding="utf-8")
        if name in MODEL_SKETCHES:
            # The interpreter is brought up by the library's helper, and the sketch answers BENCH.
            assert "kit_interpreter_begin(" in ino and "MicroInterpreter interpreter(" not in ino
            assert "kit_bench_inference(" in ino and "kit_bench_step(" in ino and "kit_bench_poll(" in ino
        if "KIT_CAMERA" in ino or "camera_read(" in ino:
            assert '#include "kit_camera.h"' in ino
    inos = _all_sketch_sources()
    assert {p.stem for p in inos} >= {*SKETCHES, *AUDIO_MODEL_SKETCHES, "stage2"}
    for ino_path in inos:
        ino = ino_path.read_text(encoding="utf-8")
        copied = sorted({m.group(1) or m.group(0) for m in _COPIED_BOARD_CODE.finditer(ino)})
        assert not copied, f"{ino_path.name} carries its own {copied}: use kit_status.h / kit_audio.h"
        if "kit_fail(" in ino or "kit_led" in ino:
            assert '#include "kit_status.h"' in ino, ino_path.name
    for name in (*AUDIO_MODEL_SKETCHES, "early_exit/stage2"):
        d = sketch_dir(name)
        ino = (d / f"{d.name}.ino").read_text(encoding="utf-8")
        assert "kit_interpreter_begin(" in ino and "MicroInterpreter interpreter(" not in ino, name
        assert "dir: ../" in (d / "sketch.yaml").read_text(encoding="utf-8"), name
        if name != "early_exit/stage2":
            # The microphone side is the library's; the front end is set from the generated settings.
            assert "kit_audio_begin(g_audio, KitFillFrontendConfig<FrontendConfig>)" in ino, name
            assert "kit_audio_poll(" in ino and "kit_window_ready(" in ino and "c.window.size_ms" not in ino, name
            assert "dir: ../libraries/TinyMLKitBoard\n" in (d / "sketch.yaml").read_text(encoding="utf-8"), name
        # The libraries' headers resolve (early_exit's own exported files, early_exit.h and stage2/, do not
        # exist until its export runs, so only the kit's headers are asserted here).
        problems = include_problems(d, generated_expected=False)
        assert not [p for p in problems if re.search(r'"(kit_\w+|feature_\w+)\.h"', p)], (name, problems)
    stage2_yaml = (sketch_dir("early_exit") / "stage2" / "sketch.yaml").read_text(encoding="utf-8")
    assert "dir: ../../libraries/TinyMLKit\n" in stage2_yaml and "dir: ../../libraries/TinyMLKitBoard\n" in stage2_yaml
    props = (BOARD_LIBRARY.parent / "library.properties").read_text()
    assert "name=TinyMLKitBoard" in props
    # Header-only: a sketch that includes none of it (capture_audio) compiles none of it.
    assert not list(BOARD_LIBRARY.glob("*.cpp")) and not list(BOARD_LIBRARY.glob("*.c"))


def test_the_copy_check_sees_a_copied_helper():
    # The rule above must be able to fail: a sketch with its own fail() and ring is caught.
    text = "namespace {\nint16_t g_ring[8192];\nvoid fail(const char* what) {\n}\n}\n"
    assert {m.group(1) or m.group(0) for m in _COPIED_BOARD_CODE.finditer(text)} == {"fail", "g_ring"}


def test_kws_committed_files_pass_check_sketch_and_names_exist():
    d = sketch_dir("kws")
    assert _generated_name_problems(d) == []
    report = check_sketch(d)
    assert report.ok, [f.format() for f in report.errors]
    assert report.model and report.model.endswith("model_int8.tflite")


def _copy(name: str, tmp_path: Path) -> Path:
    dst = tmp_path / name
    shutil.copytree(sketch_dir(name), dst)
    # Keep the library beside it, as in the repository, so includes still resolve.
    return dst


def _checks(report) -> set[str]:
    return {f.check for f in report.errors}


@pytest.mark.parametrize("breakage,check", [
    ("resolver", "op-missing"), ("arena", "arena"), ("labels", "labels"), ("quant", "quantization"),
])
def test_kws_check_sketch_fails_when_broken(tmp_path, breakage, check):
    d = _copy("kws", tmp_path)
    # The copy's manifest points at ../model relative to the sketch: the model folder came along.
    if breakage == "resolver":
        p = d / "model_ops.h"
        p.write_text(re.sub(r"^.*AddConv2D.*\n", "", p.read_text(), flags=re.M))
    elif breakage == "arena":
        p = d / "model_settings.h"
        p.write_text(re.sub(r"kTensorArenaSize = \d+", "kTensorArenaSize = 4096", p.read_text()))
    elif breakage == "labels":
        p = d / "model_settings.h"
        p.write_text(p.read_text().replace("kNumLabels = 4", "kNumLabels = 3"))
    else:
        p = d / "model_settings.h"
        p.write_text(re.sub(r"kInputZeroPoint = -?\d+", "kInputZeroPoint = 0", p.read_text()))
    report = check_sketch(d)
    assert not report.ok
    assert check in _checks(report), [f.format() for f in report.errors]


def test_person_detection_without_export_says_what_is_missing():
    d = sketch_dir("person_detection")
    assert not any((d / f).exists() for f in GENERATED_FILES)
    report = check_sketch(d, measure=False)
    assert not report.ok
    assert any("tinymlkit export" in f.message for f in report.errors)
    assert generated_name_problems(d)[0].endswith("run `tinymlkit export`")


@pytest.fixture(scope="module")
def person_sketch(tmp_path_factory, person_detection_dir) -> Path:
    """person_detection with generated files from the TFLM reference model (exported at test time)."""
    d = tmp_path_factory.mktemp("pd") / "person_detection"
    shutil.copytree(sketch_dir("person_detection"), d)
    cfg = tmp_path_factory.mktemp("pdcfg") / "config.json"
    from tinymlkit.config import save_json
    save_json(VwwRunConfig(), cfg)
    export_model(person_detection_dir / "person_detect.tflite", cfg, d)
    return d


def test_person_detection_exported_passes_check_sketch(person_sketch):
    report = check_sketch(person_sketch)
    assert report.ok, [f.format() for f in report.errors]
    assert _include_problems(person_sketch, True) == []


def test_person_detection_generated_names_exist(person_sketch):
    problems = _generated_name_problems(person_sketch)
    assert _board_library_names() >= {"kFrameWidth", "kFrameHeight", "kFrameFormat", "kFrameBytes"}
    assert problems == [], ("the sketch needs names export.py does not write yet (kPixelToInt8: the pixel->int8 "
                            f"table of tinymlkit.vision.int8_input; change requested from the lead): {problems}")


@pytest.mark.parametrize("breakage,check", [("resolver", "op-missing"), ("arena", "arena"), ("shape", "input-shape")])
def test_person_detection_check_sketch_fails_when_broken(tmp_path, person_sketch, breakage, check):
    d = tmp_path / "person_detection"
    shutil.copytree(person_sketch, d)
    if breakage == "resolver":
        p = d / "model_ops.h"
        p.write_text(re.sub(r"^.*AddDepthwiseConv2D.*\n", "", p.read_text(), flags=re.M))
    elif breakage == "arena":
        p = d / "model_settings.h"
        p.write_text(re.sub(r"kTensorArenaSize = \d+", "kTensorArenaSize = 20000", p.read_text()))
    else:
        p = d / "model_settings.h"
        p.write_text(p.read_text().replace("kImageWidth = 96", "kImageWidth = 128"))
    report = check_sketch(d)
    assert not report.ok
    assert check in _checks(report), [f.format() for f in report.errors]


# ---------------------------------------------------------------- Cortex-M4F build


def _arm_size(folder: Path, tmp_path: Path, extra: list[Path]) -> dict[str, int]:
    size = arm_tool("size")
    lib = library_src()
    objs = m4_objects([*sorted(lib.glob("*.cpp")), folder / "model_data.cc", *extra], tmp_path, [lib, folder])
    out = subprocess.run([size, "-A", "-d", *map(str, objs)], capture_output=True, text=True, check=True).stdout
    flash = ram = 0
    for line in out.splitlines():
        m = re.match(r"^\.(text|rodata|data|bss)\S*\s+(\d+)", line)
        if m:
            if m.group(1) in ("text", "rodata", "data"):
                flash += int(m.group(2))
            if m.group(1) in ("data", "bss"):
                ram += int(m.group(2))
    return {"flash": flash, "ram": ram}


def _settings_user(folder: Path, tmp_path: Path) -> Path:
    """A translation unit that uses the generated headers' settings with the library (no TFLM needed)."""
    src = tmp_path / "settings_user.cc"
    src.write_text('#include "model_settings.h"\n#include "model_data.h"\n#include "feature_quant.h"\n'
                   '#include "recognize_commands.h"\n#include "image_convert.h"\n'
                   "alignas(16) unsigned char tensor_arena[kTensorArenaSize];\nKitRecognizer g_recognizer;\n"
                   "int settings_user(const unsigned short* v, signed char* out) {\n"
                   "  tensor_arena[0] = (unsigned char)out[0];\n  kit_recognizer_reset(&g_recognizer);\n"
                   "  kit_features_to_int8(v, 1, 10, 256, kInputScale, kInputZeroPoint, out);\n"
                   "  return kNumLabels + kInputElementCount + kTensorArenaSize + (int)g_model_len;\n}\n")
    return src


def test_kws_plain_cpp_and_model_build_for_cortex_m4f(tmp_path):
    folder = sketch_dir("kws")
    sizes = _arm_size(folder, tmp_path, [_settings_user(folder, tmp_path)])
    model_bytes = (folder / "model" / "model_int8.tflite").stat().st_size
    assert sizes["flash"] > model_bytes  # the model lands in flash, with the library's code
    arena = int(re.search(r"kTensorArenaSize = (\d+)", (folder / "model_settings.h").read_text()).group(1))
    assert sizes["ram"] >= arena  # the arena and the recognizer's buffers are static RAM (bss)
    print(f"kws plain C++ + model on Cortex-M4F: flash {sizes['flash']} B, static RAM {sizes['ram']} B")


def test_person_detection_plain_cpp_and_model_build_for_cortex_m4f(tmp_path, person_sketch):
    sizes = _arm_size(person_sketch, tmp_path, [_settings_user(person_sketch, tmp_path)])
    model_bytes = int(re.search(r"kModelBytes = (\d+)", (person_sketch / "model_settings.h").read_text()).group(1))
    assert sizes["flash"] > model_bytes
    print(f"person_detection plain C++ + model on Cortex-M4F: flash {sizes['flash']} B, static RAM {sizes['ram']} B")


def _host_build(folder: Path, tmp_path: Path, extra: list[Path]) -> None:
    lib = library_src()
    host_objects([*sorted(lib.glob("*.cpp")), folder / "model_data.cc", *extra], tmp_path, [lib, folder])


def test_kws_library_and_generated_headers_build_on_the_host_like_the_board(tmp_path):
    folder = sketch_dir("kws")
    _host_build(folder, tmp_path, [_settings_user(folder, tmp_path)])


def test_person_detection_library_and_generated_headers_build_on_the_host_like_the_board(tmp_path, person_sketch):
    _host_build(person_sketch, tmp_path, [_settings_user(person_sketch, tmp_path)])
