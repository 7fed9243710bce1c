"""Models are validated in full before any interpreter sees them, and native crashes are contained (issue 11 section 4).

Each damaged model here once crashed the TFLM interpreter with SIGSEGV (or, for a bad buffer index, ran and
printed garbage, and `export` wrote a sketch for it). Now each is a one-line ``ModelLoadError`` naming the file.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tinymlkit.config import KwsRunConfig, VwwRunConfig, save_json
from tinymlkit.errors import KitError
from tinymlkit.runtime import ModelRunner, tflm_available
from tinymlkit.tflite_file import ModelLoadError, read_tflite, schema, validate_model

ROOT = Path(__file__).resolve().parents[1]
needs_tflm = pytest.mark.skipif(not tflm_available(), reason="the TFLM interpreter (tflite-micro) is not installed")


def _mutate(data: bytes, fn) -> bytes:
    import flatbuffers

    s = schema()
    m = s.ModelT.InitFromObj(s.Model.GetRootAsModel(data, 0))
    fn(m)
    b = flatbuffers.Builder(len(data) + 1024)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def _weight_tensor(m):
    return next(t for t in m.subgraphs[0].tensors if m.buffers[t.buffer].data is not None)


def _no_subgraph(m):
    m.subgraphs = []


def _buffer_index(m):
    _weight_tensor(m).buffer = 999


def _tensor_index(m):
    op = m.subgraphs[0].operators[0]
    op.inputs = [500, *[int(v) for v in op.inputs[1:]]]


def _opcode_index(m):
    m.subgraphs[0].operators[-1].opcodeIndex = 77


def _graph_output(m):
    m.subgraphs[0].outputs = [4000]


def _negative_shape(m):
    m.subgraphs[0].tensors[0].shape = [1, -40]


def _short_buffer(m):
    t = _weight_tensor(m)
    m.buffers[t.buffer].data = [int(v) for v in m.buffers[t.buffer].data[:7]]


def _offset_outside(m):
    t = _weight_tensor(m)
    m.buffers[t.buffer].data = None
    m.buffers[t.buffer].offset = 10**9
    m.buffers[t.buffer].size = 400


DAMAGE = {
    "no-subgraph": (_no_subgraph, "has no subgraph"),
    "buffer-index": (_buffer_index, "uses buffer 999, but the model has"),
    "tensor-index": (_tensor_index, "names input tensor 500"),
    "opcode-index": (_opcode_index, "uses opcode 77"),
    "graph-output": (_graph_output, "names tensor 4000 as an input or output"),
    "negative-shape": (_negative_shape, "impossible shape"),
    "short-buffer": (_short_buffer, "holds 7"),
    "offset-outside": (_offset_outside, "claims bytes 1000000000"),
}


@pytest.fixture(scope="module")
def reference(micro_speech_dir: Path) -> bytes:
    return (micro_speech_dir / "micro_speech_quantized.tflite").read_bytes()


@pytest.fixture
def damaged(tmp_path: Path, reference: bytes, request) -> tuple[Path, str]:
    fn, message = DAMAGE[request.param]
    path = tmp_path / f"{request.param}.tflite"
    path.write_bytes(_mutate(reference, fn))
    return path, message


@pytest.mark.parametrize("damaged", list(DAMAGE), indirect=True)
def test_validation_names_the_file_and_the_damage(damaged):
    path, message = damaged
    with pytest.raises(ModelLoadError) as e:
        read_tflite(path)
    assert str(e.value).startswith(f"{path}: ") and message in str(e.value) and "\n" not in str(e.value)


def test_a_cut_short_file_is_refused(tmp_path, reference):
    path = tmp_path / "cut.tflite"
    path.write_bytes(reference[: len(reference) // 3])
    with pytest.raises(ModelLoadError, match=rf"{path}: "):
        read_tflite(path)


def test_a_valid_model_passes(reference):
    validate_model(reference, "ref")
    assert read_tflite(reference, "ref").op_names == ("DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "RESHAPE", "SOFTMAX")


@needs_tflm
@pytest.mark.parametrize("damaged", ["buffer-index", "tensor-index", "no-subgraph"], indirect=True)
@pytest.mark.parametrize("backend", ["tflm", "litert"])
def test_runner_refuses_a_damaged_model_instead_of_crashing(damaged, backend):
    path, message = damaged
    with pytest.raises(ModelLoadError, match=message):
        ModelRunner(path, backend=backend)


def _batch_too_large(m):
    # Structurally valid (every index in range, every shape possible), but the fully connected layer's output (and
    # the softmax after it) claim 10,000 rows: TFLM's kernel takes its row count from the output shape and reads
    # 10,000 x 4,000 input bytes from a 4,000-byte activation, far past the arena, and the process dies with SIGSEGV
    # every time. (An output declared too small, the first try here, crashed or not with the heap's layout.)
    g = m.subgraphs[0]
    g.tensors[g.operators[2].outputs[0]].shape = [10_000, 4]
    g.tensors[g.operators[3].outputs[0]].shape = [10_000, 4]


@needs_tflm
@pytest.mark.parametrize("backend", ["tflm"])
def test_a_crash_in_the_interpreter_is_contained(tmp_path, reference, backend):
    path = tmp_path / "crashes.tflite"
    path.write_bytes(_mutate(reference, _batch_too_large))
    validate_model(path.read_bytes(), str(path))  # passes the static checks
    with pytest.raises(ModelLoadError, match=rf"{path}: the TFLM interpreter crashed \(signal \d+\)"):
        ModelRunner(path, backend=backend)
    # The same for export's arena measurement and for check-sketch: one line, no signal here.
    save_json(KwsRunConfig(), tmp_path / "config.json")
    r = _cli("export", "--model", str(path), "--config", str(tmp_path / "config.json"), "--sketch", str(tmp_path / "sk"))
    _one_error_line(r, str(path), "crashed")
    assert not (tmp_path / "sk").exists()


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "tinymlkit", *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=600)


def _one_error_line(r: subprocess.CompletedProcess, *needles: str) -> None:
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("tinymlkit: error: "), r.stderr
    for n in needles:
        assert n in r.stderr, r.stderr


@pytest.mark.parametrize("damaged", ["buffer-index"], indirect=True)
def test_export_never_writes_a_sketch_for_a_damaged_model(tmp_path, damaged):
    path, message = damaged
    save_json(KwsRunConfig(), tmp_path / "config.json")
    r = _cli("export", "--model", str(path), "--config", str(tmp_path / "config.json"), "--sketch", str(tmp_path / "sk"))
    _one_error_line(r, str(path), message)
    assert not (tmp_path / "sk").exists()


@needs_tflm
@pytest.mark.parametrize("damaged", ["tensor-index"], indirect=True)
def test_check_sketch_fix_with_a_damaged_model_is_one_line(tmp_path, damaged, reference):
    path, message = damaged
    save_json(KwsRunConfig(), tmp_path / "config.json")
    good = tmp_path / "good.tflite"
    good.write_bytes(reference)
    from tinymlkit.export.write import export_model
    sk = tmp_path / "sk"
    export_model(good, tmp_path / "config.json", sk, arena_measured=7584)
    (sk / "sk.ino").write_text("void setup() {}\nvoid loop() {}\n")
    r = _cli("check-sketch", str(sk), "--fix", "--model", str(path))
    _one_error_line(r, str(path), message)


def test_a_model_of_the_other_track_is_a_clear_error(tmp_path, person_detection_dir):
    save_json(KwsRunConfig(), tmp_path / "kws.json")
    r = _cli("export", "--model", str(person_detection_dir / "person_detect.tflite"), "--config",
             str(tmp_path / "kws.json"), "--sketch", str(tmp_path / "sk"))
    _one_error_line(r, "person_detect.tflite does not match", "kws.json", "looks like a person-detection (vww) model")
    assert not (tmp_path / "sk").exists()


def test_a_kws_model_with_a_vww_config(tmp_path, micro_speech_dir):
    from tinymlkit.tflite_file import require_model_fits_config
    tm = read_tflite(micro_speech_dir / "micro_speech_quantized.tflite")
    with pytest.raises(KitError, match=r"m.tflite does not match v.json: the model takes 1960 values \(1960\) but the "
                                       r"config describes 9216: a 96x96x1 image .*looks like a keyword \(kws\) model"):
        require_model_fits_config(tm, VwwRunConfig(), "m.tflite", "v.json")
