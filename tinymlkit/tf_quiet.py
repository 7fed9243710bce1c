"""Load TensorFlow once without its start-up chatter on the notebook.

TensorFlow 2.21 prints absl lines before its logging is set up ("oneDNN custom operations are on",
"Could not find cuda drivers", "failed call to cuInit") straight to file descriptor 2, whatever
TF_CPP_MIN_LOG_LEVEL says. In a notebook they look like errors, and nbgrader scores a graded cell that
writes to stderr as failed. Every module of the kit calls ``load_tensorflow()`` before its first
TensorFlow or Keras import; GPUs stay usable, only the messages are held back (and shown if the
import fails).
"""
from __future__ import annotations

import sys
from typing import Any

__all__ = ["load_tensorflow"]


def load_tensorflow() -> Any:
    """Import TensorFlow (and probe its devices) with the C++ start-up messages captured; returns the module."""
    if "tensorflow" in sys.modules and getattr(sys.modules["tensorflow"], "config", None) is not None:
        return sys.modules["tensorflow"]
    from .runtime import capture_stderr_fd

    with capture_stderr_fd() as log:
        try:
            import tensorflow as tf

            tf.config.list_physical_devices()  # the cuInit probe happens here, inside the capture
        except BaseException:
            failed = True
        else:
            failed = False
    text = log.read_text(errors="replace")
    log.unlink(missing_ok=True)
    if failed:
        sys.stderr.write(text)
        import tensorflow as tf  # raise the real error, with its messages already shown
    return tf
