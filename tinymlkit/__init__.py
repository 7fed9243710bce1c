"""TinyML Course Kit: keyword spotting and visual wake words from sensor data to an Arduino sketch.

Import the sub-modules you need (``tinymlkit.audio``, ``tinymlkit.convert``, ...); importing the
package itself stays light and does not load TensorFlow.
"""
__version__ = "0.1.0"

import os as _os

# TensorFlow's C++ INFO/WARNING lines (oneDNN, CUDA probing) flood a notebook and, on stderr, make
# nbgrader score a correct cell as failed; keep errors only unless the user chose otherwise.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
