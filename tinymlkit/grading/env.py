"""Run nbgrader from the kit's Python whether or not its virtual environment is activated.

nbgrader starts ``alembic`` (database migrations) as a program found on PATH. A venv that is not
activated does not put its ``bin`` folder on PATH, so nbgrader fails with ``FileNotFoundError:
'alembic'`` unless some other alembic happens to be installed. Every nbgrader call the kit makes goes
through :func:`nbgrader_command` and :func:`nbgrader_env`.
"""
from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["python_bin_dir", "nbgrader_env", "nbgrader_command", "run_nbgrader", "KERNEL_THREAD_VARIABLES"]

KERNEL_THREAD_VARIABLES = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS",
                           "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")
"""The environment variables that cap a kernel's threads: TensorFlow and the BLAS/OpenMP/numba libraries read
them when they start, so they are set in the kernel's environment, before its first import."""


def python_bin_dir() -> Path:
    """The folder of the running Python's programs (a venv's ``bin``), where nbgrader's ``alembic`` lives."""
    # Not resolved: a venv's python is a symlink to the base interpreter, whose bin has no alembic.
    return Path(sys.executable).absolute().parent


def nbgrader_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """An environment for an nbgrader child: this Python's bin first on PATH, no inherited grading mode."""
    env = dict(os.environ if base is None else base)
    bin_dir = str(python_bin_dir())
    parts = [p for p in env.get("PATH", "").split(os.pathsep) if p and p != bin_dir]
    env["PATH"] = os.pathsep.join([bin_dir, *parts]) if parts else bin_dir
    env.pop("NBGRADER_EXECUTION", None)  # nbgrader sets it for the kernels it starts; never inherit one
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.setdefault("MPLBACKEND", "Agg")
    return env


def nbgrader_command(*args: str) -> list[str]:
    """``nbgrader ARGS`` run by this Python, so no ``nbgrader`` script is needed on PATH.

    It goes through :mod:`tinymlkit.grading.nbgrader_main`, nbgrader's own ``main()`` started without the
    9-second optional import every nbgrader process otherwise pays.
    """
    return [sys.executable, "-m", "tinymlkit.grading.nbgrader_main", *args]


def run_nbgrader(course: str | os.PathLike[str], args: Sequence[str], timeout: float | None = None,
                 env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run one nbgrader command in a course folder; returns the finished process (output captured)."""
    return subprocess.run(nbgrader_command(*args), cwd=course, capture_output=True, text=True,
                          env=nbgrader_env(env), timeout=timeout)
