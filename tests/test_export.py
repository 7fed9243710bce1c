"""Export: the C array holds exactly the model's bytes, compiles for the host and Cortex-M4, and the
settings and op registration are generated from the model and config."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tinymlkit.config import KwsRunConfig, KwsTaskConfig, save_json
from tinymlkit.errors import KitError
from tinymlkit.export.render import arena_with_headroom, op_add_method
from tinymlkit.export.write import export_model
from tinymlkit.runtime import measure_arena, tflm_available

needs_gpp = pytest.mark.skipif(shutil.which("g++") is None, reason="g++ is not installed")

DUMP = r"""
#include <cstdio>
#include "model_data.h"
int main() { fwrite(g_model, 1, g_model_len, stdout);
  return (reinterpret_cast<unsigned long>(g_model) % 16) == 0 ? 0 : 3; }
"""


@pytest.fixture(scope="module")
def reference_export(tmp_path_factory, micro_speech_dir):
    sketch = tmp_path_factory.mktemp("sketch")
    model = micro_speech_dir / "micro_speech_quantized.tflite"
    cfg_path = save_json(KwsRunConfig(), sketch.parent / "config.json")
    result = export_model(model, cfg_path, sketch)
    return model, sketch, result


@needs_gpp
def test_model_data_compiles_and_holds_the_exact_bytes(reference_export, tmp_path):
    model, sketch, _ = reference_export
    (tmp_path / "dump.cc").write_text(DUMP)
    exe = tmp_path / "dump"
    subprocess.run(["g++", "-std=c++17", "-Wall", "-Werror", f"-I{sketch}", str(tmp_path / "dump.cc"),
                    str(sketch / "model_data.cc"), "-o", str(exe)], check=True)
    out = subprocess.run([str(exe)], capture_output=True)
    assert out.returncode == 0, "g_model is not 16-byte aligned"
    assert out.stdout == model.read_bytes()


def test_model_data_compiles_for_cortex_m4(reference_export, tmp_path):
    if shutil.which("arm-none-eabi-g++") is None:
        pytest.skip("arm-none-eabi-g++ is not installed (Debian package gcc-arm-none-eabi; .ci/run installs it)")
    model, sketch, _ = reference_export
    obj = tmp_path / "model_data.o"
    subprocess.run(["arm-none-eabi-g++", "-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16",
                    "-Os", "-std=c++17", "-fno-exceptions", "-fno-rtti", "-c", str(sketch / "model_data.cc"),
                    f"-I{sketch}", "-o", str(obj)], check=True)
    size = subprocess.run(["arm-none-eabi-size", "-A", str(obj)], capture_output=True, text=True, check=True).stdout
    rodata = sum(int(m.group(1)) for m in re.finditer(r"^\.rodata\S*\s+(\d+)", size, re.M))
    assert rodata >= len(model.read_bytes())


def test_settings_come_from_the_model_and_config(reference_export):
    model, sketch, result = reference_export
    s = (sketch / "model_settings.h").read_text()
    assert 'kLabels[kNumLabels] = {"silence", "unknown", "yes", "no"}' in s
    assert "kInputShape[kInputDims] = {1, 1960}" in s
    # The model's own input parameters, read back exactly.
    scale = float(re.search(r"kInputScale = ([0-9.e-]+)f", s).group(1))
    import numpy as np
    assert np.float32(scale) == np.float32(0.10171568393707275)
    assert "kInputZeroPoint = -128" in s
    assert f"kModelBytes = {len(model.read_bytes())}" in s
    assert "kFeatureCount = 49" in s and "kFeatureSize = 40" in s
    if tflm_available():
        measured = measure_arena(model).arena_bytes
        assert f"kTensorArenaMeasured = {measured}" in s
        assert f"kTensorArenaSize = {arena_with_headroom(measured)}" in s
        assert result.arena_size <= 10 * 1024  # the example's published arena is 10 KB


def test_ops_header_registers_exactly_the_models_ops(reference_export):
    _, sketch, result = reference_export
    ops = (sketch / "model_ops.h").read_text()
    assert "kModelOpCount = 4" in ops
    for add in ("AddDepthwiseConv2D", "AddFullyConnected", "AddReshape", "AddSoftmax"):
        assert f"resolver.{add}()" in ops
    assert ops.count("resolver.Add") == 4
    manifest = json.loads((sketch / "tinymlkit_export.json").read_text())
    assert manifest["model_bytes"] == result.model_bytes and set(manifest["files"]) >= {"model_settings.h", "model_ops.h"}


def test_op_method_names():
    assert op_add_method("CONV_2D") == "AddConv2D"
    assert op_add_method("DEPTHWISE_CONV_2D") == "AddDepthwiseConv2D"
    assert op_add_method("AVERAGE_POOL_2D") == "AddAveragePool2D"
    assert op_add_method("FULLY_CONNECTED") == "AddFullyConnected"
    assert op_add_method("RELU6") == "AddRelu6" and op_add_method("PADV2") == "AddPadV2"


def test_label_count_mismatch_is_refused(micro_speech_dir, tmp_path):
    cfg = KwsRunConfig(task=KwsTaskConfig(words=("yes", "no", "up")))
    with pytest.raises(KitError, match="4 outputs but the config names 5 labels"):
        export_model(micro_speech_dir / "micro_speech_quantized.tflite", cfg, tmp_path / "sk")


def test_not_a_model_is_refused(tmp_path):
    bad = tmp_path / "model.tflite"
    bad.write_bytes(b"hello world, not a flatbuffer")
    with pytest.raises(KitError, match="not a TFLite model"):
        export_model(bad, KwsRunConfig(), tmp_path / "sk")


# ---- Generated files are recognisable and never replace a learner's edits (issue 11 section 2)

def _export_to(tmp_path, micro_speech_dir, sketch=None, **kw):
    model = micro_speech_dir / "micro_speech_quantized.tflite"
    cfg = save_json(KwsRunConfig(), tmp_path / "run" / "config.json")
    sketch = sketch or tmp_path / "sketch"
    return sketch, export_model(model, cfg, sketch, arena_measured=7584, **kw)


def test_every_generated_file_carries_a_marker_with_its_hash(tmp_path, micro_speech_dir):
    from tinymlkit.export.render import GENERATED_FILES, generated_state
    sketch, _ = _export_to(tmp_path, micro_speech_dir)
    for name in GENERATED_FILES:
        first = (sketch / name).read_text().splitlines()[0]
        assert first.startswith("// tinymlkit-generated sha256=")
        assert generated_state(sketch / name) == "generated"
    p = sketch / "model_settings.h"
    p.write_text(p.read_text().replace("kNumLabels = 4", "kNumLabels = 3"))
    assert generated_state(p) == "edited"
    p.write_text("// my own settings\n")
    assert generated_state(p) == "foreign"


def _snapshot(folder):
    import hashlib
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_hand_edited_settings_are_not_overwritten_without_force(tmp_path, micro_speech_dir):
    sketch, _ = _export_to(tmp_path, micro_speech_dir)
    p = sketch / "model_settings.h"
    edited = p.read_text().replace("kTensorArenaSize = ", "kTensorArenaSize = 1024 + ")
    p.write_text(edited)
    before = _snapshot(sketch)
    with pytest.raises(KitError, match=r"not overwriting model_settings.h \(edited by hand since export\); nothing "
                                       r"was changed.*--force"):
        _export_to(tmp_path, micro_speech_dir)
    assert _snapshot(sketch) == before
    _, result = _export_to(tmp_path, micro_speech_dir, force=True)
    (backup,) = result.backups
    assert backup.name.startswith("model_settings.h.bak-") and backup.read_text() == edited
    assert "1024 + " not in p.read_text()


def test_a_file_the_kit_did_not_write_is_kept(tmp_path, micro_speech_dir):
    sketch = tmp_path / "sketch"
    sketch.mkdir()
    (sketch / "model_ops.h").write_text("// my resolver, written by hand\n")
    with pytest.raises(KitError, match=r"model_ops.h \(not written by tinymlkit\)"):
        _export_to(tmp_path, micro_speech_dir, sketch)
    assert (sketch / "model_ops.h").read_text() == "// my resolver, written by hand\n"
    assert sorted(p.name for p in sketch.iterdir()) == ["model_ops.h"]  # all or nothing


def test_cli_force_and_one_line_refusal(tmp_path, micro_speech_dir, capsys):
    from tinymlkit.cli import main
    sketch, _ = _export_to(tmp_path, micro_speech_dir)
    (sketch / "model_data.h").write_text("// edited\n")
    args = ["export", "--model", str(micro_speech_dir / "micro_speech_quantized.tflite"),
            "--config", str(tmp_path / "run" / "config.json"), "--sketch", str(sketch)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("tinymlkit: error: ") and "model_data.h" in err
    assert main(args + ["--force"]) == 0
    assert "kept your edited version as model_data.h.bak-" in capsys.readouterr().out


def test_sketch_carries_its_own_model_and_a_relative_manifest(tmp_path, micro_speech_dir):
    sketch, _ = _export_to(tmp_path, micro_speech_dir)
    manifest = json.loads((sketch / "tinymlkit_export.json").read_text())
    assert manifest["model"] == "model/micro_speech_quantized.tflite" and manifest["config"] == "model/config.json"
    assert (sketch / manifest["model"]).read_bytes() == (micro_speech_dir / "micro_speech_quantized.tflite").read_bytes()
    from tinymlkit.config import load_run_config
    assert load_run_config(sketch / manifest["config"]) == KwsRunConfig()
    # Moving the sketch (as a git clone does) keeps every reference valid.
    moved = tmp_path / "elsewhere" / "kws"
    shutil.move(str(sketch), moved)
    from tinymlkit.export.checks import check_sketch
    (moved / "kws.ino").write_text('#include "model_settings.h"\n#include "model_ops.h"\nstatic ModelOpResolver r;\n'
                                   "alignas(16) unsigned char tensor_arena[kTensorArenaSize];\n"
                                   "void setup() { RegisterModelOps(r); }\nvoid loop() {}\n")
    report = check_sketch(moved, measure=False)
    assert report.ok, [f.format() for f in report.findings]
    assert report.model.endswith("model/micro_speech_quantized.tflite")


_LIMITED_EXPORT = r"""
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG, as on a full disk
resource.setrlimit(resource.RLIMIT_FSIZE, (40000, 40000))
from tinymlkit.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_full_disk_leaves_the_sketch_as_it_was(tmp_path, micro_speech_dir):
    # model_data.cc (~125 KB) cannot be written under a 40 KB file-size limit: a real write error, mid-export.
    import os
    import sys
    sketch, _ = _export_to(tmp_path, micro_speech_dir)
    before = _snapshot(sketch)
    save_json(KwsRunConfig(task=KwsTaskConfig(words=("no", "yes"))), tmp_path / "run2.json")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    r = subprocess.run([sys.executable, "-c", _LIMITED_EXPORT, "export", "--model",
                        str(micro_speech_dir / "micro_speech_quantized.tflite"), "--config", str(tmp_path / "run2.json"),
                        "--sketch", str(sketch)], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 2, r.stderr
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("tinymlkit: error: ") and "Traceback" not in r.stderr
    assert "nothing was changed" in r.stderr and "File too large" in r.stderr
    assert _snapshot(sketch) == before
    assert not [p for p in sketch.rglob("*") if p.name.endswith(".part")]


FILL = r"""
#include <cstddef>
#include <cstdio>
// The member names and types of TFLM's microfrontend config structs
// (tensorflow/lite/experimental/microfrontend/lib/*_util.h), to compile the generated function against.
struct WindowConfig { size_t size_ms; size_t step_size_ms; };
struct FilterbankConfig { int num_channels; float upper_band_limit; float lower_band_limit; int output_scale_shift; };
struct NoiseReductionConfig { int smoothing_bits; float even_smoothing; float odd_smoothing; float min_signal_remaining; };
struct PcanGainControlConfig { int enable_pcan; float strength; float offset; int gain_bits; };
struct LogScaleConfig { int enable_log; int scale_shift; };
struct FrontendConfig { struct WindowConfig window; struct FilterbankConfig filterbank;
  struct NoiseReductionConfig noise_reduction; struct PcanGainControlConfig pcan_gain_control;
  struct LogScaleConfig log_scale; };
#include "model_settings.h"
int main() {
  FrontendConfig c = {};
  KitFillFrontendConfig(&c);
  std::printf("%zu %zu %d %.9g %.9g %d %.9g %.9g %.9g %d %.9g %.9g %d %d %d\n", c.window.size_ms, c.window.step_size_ms,
              c.filterbank.num_channels, c.filterbank.lower_band_limit, c.filterbank.upper_band_limit,
              c.noise_reduction.smoothing_bits, c.noise_reduction.even_smoothing, c.noise_reduction.odd_smoothing,
              c.noise_reduction.min_signal_remaining, c.pcan_gain_control.enable_pcan, c.pcan_gain_control.strength,
              c.pcan_gain_control.offset, c.pcan_gain_control.gain_bits, c.log_scale.enable_log, c.log_scale.scale_shift);
  return 0;
}
"""


@needs_gpp
def test_generated_frontend_fill_sets_every_member_from_the_config(tmp_path, micro_speech_dir):
    import numpy as np
    from tinymlkit.config import AudioFrontendConfig
    a = AudioFrontendConfig(window_size_ms=25, window_stride_ms=20, lower_band_limit=100.0, upper_band_limit=7000.0,
                            smoothing_bits=9, even_smoothing=0.03, odd_smoothing=0.07, min_signal_remaining=0.1,
                            enable_pcan=False, pcan_strength=0.9, pcan_offset=70.0, gain_bits=20, enable_log=True,
                            scale_shift=5)
    # 25 ms windows every 20 ms still give 49 frames: the reference model's input.
    cfg = KwsRunConfig(audio=a)
    assert a.feature_shape == (49, 40)
    sketch = tmp_path / "sk"
    export_model(micro_speech_dir / "micro_speech_quantized.tflite", cfg, sketch, arena_measured=8000)
    (tmp_path / "fill.cc").write_text(FILL)
    exe = tmp_path / "fill"
    subprocess.run(["g++", "-std=gnu++14", "-funsigned-char", "-Wall", "-Wextra", "-Werror", "-Wno-unused-variable",
                    f"-I{sketch}", str(tmp_path / "fill.cc"), "-o", str(exe)], check=True)
    got = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.split()
    want = [25, 20, 40, 100.0, 7000.0, 9, 0.03, 0.07, 0.1, 0, 0.9, 70.0, 20, 1, 5]
    assert [np.float32(float(g)) for g in got] == [np.float32(w) for w in want]
