"""Load TensorFlow once without its start-up chatter on the notebook.

TensorFlow 2.21 prints absl lines before its logging is set up ("oneDNN custom operations are on",
"Could not find cuda drivers", "failed call to cuInit") straight to file descriptor 2, whatever
TF_CPP_MIN_LOG_LEVEL says. In a notebook they look like errors, and nbgrader scores a graded cell that
writes to stderr as failed. Every module of the kit calls ``load_tensorflow()`` before its first
TensorFlow or Keras import; GPUs stay usable, only the messages are held back (and shown if the
import fails).
"""
from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
import threading
from collections.abc import Iterator
from typing import Any

__all__ = ["load_tensorflow", "drop_known_tf_noise", "capture_stderr_fd", "CapturedStderr"]


class CapturedStderr:
    """What C++ wrote to file descriptor 2 inside ``capture_stderr_fd``; readable during and after the block."""

    def __init__(self, file: Any) -> None:
        self._file = file
        self._data: bytes | None = None

    def read_bytes(self) -> bytes:
        """The captured bytes so far (all of them once the block has ended)."""
        if self._data is not None:
            return self._data
        self._file.flush()
        self._file.seek(0)
        return self._file.read()

    def read_text(self, errors: str = "replace") -> str:
        """The captured text, decoded as UTF-8."""
        return self.read_bytes().decode("utf-8", errors=errors)

    def unlink(self, missing_ok: bool = True) -> None:
        """Kept for callers of the old path-based API: the capture leaves no file behind anyway."""

    def _close(self) -> None:
        self._data = self.read_bytes()
        self._file.close()


@contextlib.contextmanager
def capture_stderr_fd() -> Iterator[CapturedStderr]:
    """Send what C++ writes to file descriptor 2 into an unnamed temporary file instead of the terminal.

    The file has no name on disk (``tempfile.TemporaryFile``), so nothing is left in /tmp whatever happens.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    f = tempfile.TemporaryFile(prefix="tinymlkit-stderr-")
    log = CapturedStderr(f)
    try:
        os.dup2(f.fileno(), 2)
        try:
            yield log
        finally:
            os.dup2(saved, 2)
    finally:
        os.close(saved)
        log._close()


def load_tensorflow() -> Any:
    """Import TensorFlow (and probe its devices) with the C++ start-up messages captured; returns the module."""
    if "tensorflow" in sys.modules and getattr(sys.modules["tensorflow"], "config", None) is not None:
        return sys.modules["tensorflow"]
    with capture_stderr_fd() as log:
        try:
            import tensorflow as tf

            tf.config.list_physical_devices()  # the cuInit probe happens here, inside the capture
        except BaseException:
            failed = True
        else:
            failed = False
    text = log.read_text(errors="replace")
    if failed:
        sys.stderr.write(text)
        import tensorflow as tf  # raise the real error, with its messages already shown
    return tf


# Keras 3 on TensorFlow 2.21 logs this once per tf.data pipeline it builds (every fit and predict):
# a harmless attribute mismatch, printed by C++ straight to file descriptor 2.
_NOISE = re.compile(rb"^[EWI]\d{4} [\d:. ]+\d+ node_def_util\.cc:\d+\] NodeDef mentions attribute use_unbounded_threadpool")


@contextlib.contextmanager
def drop_known_tf_noise() -> Iterator[None]:
    """While inside, lines on file descriptor 2 that are known TensorFlow noise are dropped; all else passes."""
    if threading.current_thread() is not threading.main_thread() or os.name != "posix":
        yield  # fd 2 is process-wide: only the main thread may swap it
        return
    sys.stderr.flush()
    saved = os.dup(2)
    r, w = os.pipe()
    os.dup2(w, 2)
    os.close(w)

    def forward() -> None:
        pending = b""
        while True:
            chunk = os.read(r, 65536)
            if not chunk:
                break
            pending += chunk
            *lines, pending = pending.split(b"\n")
            out = b"".join(ln + b"\n" for ln in lines if not _NOISE.match(ln))
            if pending and not pending[:1] in (b"E", b"W", b"I"):  # progress bars redraw without a newline
                out, pending = out + pending, b""
            if out:
                os.write(saved, out)
        if pending and not _NOISE.match(pending):
            os.write(saved, pending)

    t = threading.Thread(target=forward, daemon=True)
    t.start()
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)  # closes the pipe's last write end, so the forwarder sees the end
        t.join(timeout=5)
        os.close(r)
        os.close(saved)
