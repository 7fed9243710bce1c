"""Export: the C array holds exactly the model's bytes, compiles for the host and Cortex-M4, and the
settings and op registration are generated from the model and config."""
from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from tinymlkit.config import KwsRunConfig, KwsTaskConfig, save_json
from tinymlkit.errors import KitError
from tinymlkit.export import arena_with_headroom, export_model, op_add_method
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
