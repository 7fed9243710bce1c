"""TensorFlow's known start-up and tf.data noise is held back; everything else on stderr still shows."""
from __future__ import annotations

import os
import subprocess
import sys

from tinymlkit.tf_quiet import capture_stderr_fd, drop_known_tf_noise

NOISE = (b"E0000 00:00:1795350643.831131   23084 node_def_util.cc:682] NodeDef mentions attribute "
         b"use_unbounded_threadpool which is not in the op definition: Op<name=MapDataset>\n")


def test_only_the_known_line_is_dropped():
    with capture_stderr_fd() as log:
        with drop_known_tf_noise():
            os.write(2, b"real warning 1\n" + NOISE)
            os.write(2, b"\rprogress 50%")
            os.write(2, b"\rprogress 100%\nE0000 00:00:1.0  1 other.cc:1] a real TF error\n")
    text = log.read_bytes()
    log.unlink()
    assert b"use_unbounded_threadpool" not in text
    assert text == b"real warning 1\n\rprogress 50%\rprogress 100%\nE0000 00:00:1.0  1 other.cc:1] a real TF error\n"


def test_importing_tensorflow_through_the_kit_prints_nothing():
    code = "from tinymlkit.tf_quiet import load_tensorflow; tf = load_tensorflow(); print(tf.__version__)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                       env={k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"})
    assert r.returncode == 0 and r.stdout.strip()
    assert "I0000" not in r.stderr and "E0000" not in r.stderr and "oneDNN" not in r.stderr, r.stderr


def test_capture_leaves_no_temporary_file(tmp_path, monkeypatch):
    # The capture used to create /tmp/tinymlkit-stderr-* files that error paths never removed.
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile
    monkeypatch.setattr(tempfile, "tempdir", None)
    with capture_stderr_fd() as log:
        os.write(2, b"from C++\n")
        assert log.read_text() == "from C++\n"
    assert log.read_text() == "from C++\n"
    assert list(tmp_path.iterdir()) == []
