"""Everything rendered into C is escaped or rejected (issue 11 section 3): hostile names compile and read back intact."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tinymlkit.export.c_source import c_literal_value
from tinymlkit.config import ConfigError, KwsRunConfig, KwsTaskConfig, save_json
from tinymlkit.export.render import c_comment, c_string
from tinymlkit.export.write import export_model

needs_gpp = pytest.mark.skipif(shutil.which("g++") is None, reason="g++ is not installed")

HOSTILE_LABELS = ('sil"ence\\', "unk*/??/", "ja \u00fc\u20ac \U0001F600", "/* x ??= y */ \"); int evil = 1; //")
HOSTILE_FILE = 'm\n"odel* ??= ??( \\ \u00e9 $(x).tflite'  # a file name cannot hold "/"

PRINT = r"""
#include <cstdio>
#include "model_settings.h"
static void hex(const char* s) { for (; *s; ++s) std::printf("%02x", (unsigned)(unsigned char)*s); std::printf("\n"); }
int main() {
  hex(kModelFile);
  for (int i = 0; i < kNumLabels; ++i) hex(kLabels[i]);
  return 0;
}
"""


@pytest.mark.parametrize("text", ["plain", 'q"uote', "back\\slash", "tri??/graph", "a??=b", "new\nline", "tab\t",
                                  "nul\x00byte", "\u00fcml\u00e4ut \u20ac \U0001F600", "*/ /* //", "\x7f\x01", "0\\0018"])
def test_c_string_reads_back_exactly(text):
    lit = c_string(text)
    assert lit.startswith('"') and lit.endswith('"')
    body = lit[1:-1]
    assert all(32 <= ord(ch) < 127 for ch in body) and "??" not in body and "\n" not in body
    assert c_literal_value(body) == text


def test_comment_text_cannot_end_the_comment_or_splice_lines():
    for text in ["a\nb", "x\\", "*/ int x; /*", "??/", "\u00e9"]:
        out = c_comment(text)
        assert "\n" not in out and "\\" not in out and "*/" not in out and "?" not in out and out.isascii()


@pytest.mark.parametrize("bad", ["a\nb", "nul\x00", "", " padded", "tab\there", "x" * 65])
def test_labels_that_cannot_be_a_label_are_refused(bad):
    with pytest.raises(ConfigError, match=r"KwsTaskConfig\.words"):
        KwsTaskConfig(words=("yes", bad))


@needs_gpp
@pytest.mark.parametrize("std", ["gnu++14", "c++14"])  # c++14 turns trigraphs on
def test_headers_from_hostile_names_compile_and_keep_the_strings(tmp_path: Path, micro_speech_dir: Path, std: str):
    model = tmp_path / HOSTILE_FILE
    model.write_bytes((micro_speech_dir / "micro_speech_quantized.tflite").read_bytes())
    cfg = KwsRunConfig(task=KwsTaskConfig(silence_label=HOSTILE_LABELS[0], unknown_label=HOSTILE_LABELS[1],
                                          words=HOSTILE_LABELS[2:]))
    save_json(cfg, tmp_path / "config.json")
    sketch = tmp_path / "sketch"
    export_model(model, tmp_path / "config.json", sketch, arena_measured=8000)
    (tmp_path / "print.cc").write_text(PRINT)
    exe = tmp_path / "print"
    r = subprocess.run(["g++", f"-std={std}", "-funsigned-char", "-Wall", "-Wextra", "-Werror", "-Wno-unused-variable",
                        f"-I{sketch}", str(tmp_path / "print.cc"), str(sketch / "model_data.cc"), "-o", str(exe)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.split()
    got = [bytes.fromhex(h).decode("utf-8") for h in out]
    assert got == [HOSTILE_FILE] + list(cfg.labels)
    # Comments hold only safe text, so nothing the name holds can end a comment or continue it onto code.
    for name in ("model_settings.h", "model_ops.h", "model_data.h", "model_data.cc"):
        for line in (sketch / name).read_text(encoding="utf-8").splitlines():
            assert line.isascii(), f"{name}: {line!r}"
            if "//" in line:
                comment = line[line.index("//"):]
                assert not comment.endswith("\\") and "??" not in comment, f"{name}: {line!r}"
