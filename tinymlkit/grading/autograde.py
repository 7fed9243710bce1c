"""One submission graded by ``nbgrader autograde`` in a course folder of its own.

nbgrader's gradebook is one SQLite file and autograde runs one notebook at a time, so a class is graded
by giving every submission its own small course (config, the lab's source files, a copy of a gradebook
that holds only the assignment) in a temporary folder. Everything a task needs travels in a
:class:`GradeTask` (bytes, not paths), so a worker on another machine needs only the kit installed.

A task runs nbgrader either as its own ``nbgrader autograde`` process (:func:`grade_task`, used when grading
without Dask) or inside a long-lived Dask worker process through nbgrader's own Python API, the way its
formgrader does (:func:`grade_task_in_worker`): the worker imports nbgrader once instead of once per
submission. nbgrader changes the working directory and the environment while it grades, so a process runs at
most one grading in-process at a time; a second task in the same process (a worker with several threads) runs
as a child process instead.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..tf_quiet import capture_stderr_fd
from . import forked_kernels
from .env import KERNEL_THREAD_VARIABLES, nbgrader_env, run_nbgrader
from .tamper import tamper_report

__all__ = ["GradeTask", "grade_task", "grade_task_in_worker", "warm_worker", "GRADE_TIMEOUT_S", "cache_folder",
           "kernel_thread_env", "KERNEL_THREAD_VARIABLES", "grading_env"]

GRADE_TIMEOUT_S = 3600.0
"""An ``nbgrader autograde`` child is stopped after this long whatever the notebook budget says (a hung kernel).

In a Dask worker, where nbgrader runs in-process, nothing can be killed from outside: there the per-cell timeout,
the notebook budget and nbclient's kernel start-up timeout are what bound a submission."""


@dataclass(frozen=True)
class GradeTask:
    """Everything needed to grade one submission, as bytes."""

    student: str
    """Student id."""
    lab: str
    """Lab (assignment) id; also the notebook's name."""
    notebook: bytes
    """The submitted notebook."""
    release: bytes
    """The release notebook the student was given (for the tamper report)."""
    config: bytes
    """The course's ``nbgrader_config.py``."""
    gradebook: bytes
    """A gradebook holding the lab's assignment (made once per grading run)."""
    source_files: dict[str, bytes] = field(default_factory=dict)
    """Files of ``source/<lab>/`` other than notebooks, by relative path (nbgrader copies them in)."""
    timestamp: str | None = None
    """Submission time for ``timestamp.txt`` (late penalties), when known."""
    nbgrader_args: tuple[str, ...] = ()
    """Extra ``nbgrader autograde`` options (e.g. ``--Execute.timeout=30``)."""
    run_id: str = ""
    """The grading run's id: its notebooks share one reference-value cache per machine (empty: no cache)."""
    kernel_threads: int = 0
    """Threads the graded kernel's numerical libraries may use (TensorFlow's op pools, OpenMP, OpenBLAS, numba);
    0 leaves their defaults, which take every core of the machine."""
    forked_kernels: bool = False
    """Start the graded kernel as a fork of this machine's kernel fork server, which has imported what the labs
    import (:mod:`tinymlkit.grading.forked_kernels`), instead of as a new Python process."""


def kernel_thread_env(threads: int) -> dict[str, str]:
    """The environment that caps a graded kernel's libraries at ``threads`` threads ({} for 0: their defaults)."""
    return {name: str(threads) for name in KERNEL_THREAD_VARIABLES} if threads > 0 else {}


def cache_folder(run_id: str) -> Path:
    """Where a grading run's notebooks share values computed once (``tinymlkit.grading.labs.cached_reference``)."""
    return Path(tempfile.gettempdir()) / f"tinymlkit-grading-cache-{run_id}"


def _grades(db: Path, lab: str, student: str) -> dict[str, Any]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{db}") as gb:
        sub = gb.find_submission(lab, student)
        nbs = []
        for nb in sub.notebooks:
            nbs.append({
                "name": nb.name,
                "late_submission_penalty": nb.late_submission_penalty,
                "grades": {g.name: {"auto_score": g.auto_score, "max_score": g.max_score,
                                    "needs_manual_grade": bool(g.needs_manual_grade)} for g in nb.grades},
                "comments": {c.name: c.auto_comment for c in nb.comments},
            })
        return {"timestamp": sub.timestamp.isoformat() if sub.timestamp else None, "notebooks": nbs,
                "score": float(sub.score), "max_score": float(sub.max_score)}


def _stopped_cells(nb_bytes: bytes) -> list[dict[str, str]]:
    """Cells whose output says they ran out of time or were not run for lack of it."""
    from .nbgrader_plugins import BUDGET_ERROR, TIMEOUT_ERROR

    try:
        nb = json.loads(nb_bytes)
    except ValueError:
        return []
    out = []
    for c in nb.get("cells", []):
        for o in c.get("outputs", []) or []:
            if o.get("output_type") == "error" and o.get("ename") in (TIMEOUT_ERROR, BUDGET_ERROR):
                out.append({"cell": str(c.get("metadata", {}).get("nbgrader", {}).get("grade_id") or c.get("id")),
                            "what": "ran out of time" if o["ename"] == TIMEOUT_ERROR else "not run (budget used up)"})
                break
    return out


_IN_PROCESS = threading.Lock()
"""Held while this process grades a submission in-process (nbgrader changes the cwd and os.environ)."""


_CONFIG_OPTION = re.compile(r"^--[A-Za-z_]\w*(\.[A-Za-z_]\w*)+=")
"""``--Class.trait=value``: the only kind of extra nbgrader option that is also applied in-process."""


def _autograde_args(task: GradeTask, work: Path) -> list[str]:
    return [f"--student={task.student}", "--create", f"--CourseDirectory.root={work}",
            f"--CourseDirectory.db_url=sqlite:///{work / 'gradebook.db'}", *task.nbgrader_args]


def _autograde_child(task: GradeTask, work: Path, env: dict[str, str]) -> tuple[bool, str]:
    """``nbgrader autograde`` as a child process (bounded by :data:`GRADE_TIMEOUT_S`); (succeeded, log)."""
    proc = run_nbgrader(work, ["autograde", task.lab, *_autograde_args(task, work)], timeout=GRADE_TIMEOUT_S,
                        env=env)
    return proc.returncode == 0, proc.stdout + proc.stderr


def _autograde_here(task: GradeTask, work: Path, env: dict[str, str]) -> tuple[bool, str]:
    """nbgrader's autograde through its Python API in this process (the caller holds :data:`_IN_PROCESS`).

    The configuration is read as ``nbgrader autograde`` reads it: the course's ``nbgrader_config.py``, then
    the same command-line options, so both ways give the same settings. The kernel nbgrader starts inherits
    this process's environment, which is set as for a child process for the time of the call.
    """
    from .nbgrader_main import prepare

    prepare()  # the worker's first grading imports nbgrader without its slow optional import
    from nbgrader.apps.api import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import KVArgParseConfigLoader, PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(work)).load_config()
    config.merge(KVArgParseConfigLoader([o for o in _autograde_args(task, work) if _CONFIG_OPTION.match(o)])
                 .load_config())
    saved = dict(os.environ)
    # What a child process would print (SQLAlchemy and nbformat warnings, the kernel's own stderr, which it
    # inherits) goes into the log instead of the worker's terminal.
    with capture_stderr_fd() as stderr, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            os.environ.clear()
            os.environ.update(env)
            api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
            out = api.autograde(task.lab, task.student, force=True, create=True)
        finally:
            os.environ.clear()
            os.environ.update(saved)
    return bool(out.get("success")), out.get("log", "") + out.get("error", "") + stderr.read_text()


def grading_env(kernel_threads: int) -> dict[str, str]:
    """The environment nbgrader and the graded kernels run in (this process's, adapted for nbgrader)."""
    env = nbgrader_env()
    env.update(kernel_thread_env(kernel_threads))
    return env


def warm_worker(forked_kernels_threads: int | None = None) -> None:
    """Import in this worker process, ahead of its first submission, what grading one imports.

    nbgrader's API, its autograde converter and preprocessors with the kit's own, and what they load lazily
    on the first notebook (the gradebook's SQLAlchemy, IPython for the kernel spec): measured, the first
    submission of a worker took 4-5 s longer than the next ones without this. With
    ``forked_kernels_threads`` (the tasks' ``kernel_threads``), the worker's kernel fork server starts too,
    so its imports run while the client prepares the class.
    """
    if forked_kernels_threads is not None and forked_kernels.SUPPORTED:
        # Waited for here, so this worker's first submission does not start an ordinary kernel meanwhile.
        forked_kernels.kernel_fork_server(grading_env(forked_kernels_threads)).wait_ready()
    from .nbgrader_main import prepare

    prepare()
    import IPython  # noqa: F401
    import nbgrader.apps.api  # noqa: F401
    import nbgrader.converters.autograde  # noqa: F401
    import nbgrader.preprocessors  # noqa: F401
    import sqlalchemy.orm  # noqa: F401

    from . import nbgrader_plugins  # noqa: F401


def grade_task_in_worker(task: GradeTask) -> dict[str, Any]:
    """:func:`grade_task` for a Dask worker: nbgrader runs in this process when no other grading does."""
    if all(_CONFIG_OPTION.match(o) for o in task.nbgrader_args) and _IN_PROCESS.acquire(blocking=False):
        try:
            return grade_task(task, in_process=True)
        finally:
            _IN_PROCESS.release()
    return grade_task(task)


def grade_task(task: GradeTask, in_process: bool = False) -> dict[str, Any]:
    """Grade one submission; returns scores, the autograded files, the tamper report and timings (never raises).

    ``in_process``: run nbgrader in this process (only through :func:`grade_task_in_worker`, which makes sure no
    other grading runs in it at the same time); otherwise as a child process.
    """
    t0 = time.perf_counter()
    result: dict[str, Any] = {"student": task.student, "lab": task.lab, "status": "failed", "error": "",
                              "tamper": [], "stopped": [], "files": {}, "checksum_warnings": 0,
                              "started_at": time.time()}
    try:
        submitted = json.loads(task.notebook)
        if not isinstance(submitted, dict) or not isinstance(submitted.get("cells"), list):
            raise ValueError("not a notebook")
    except (ValueError, UnicodeDecodeError) as e:
        result["error"] = f"the submission is not a readable notebook ({str(e)[:200]})"
        result["seconds"] = time.perf_counter() - t0
        return result
    try:
        result["tamper"] = [f.to_json() for f in tamper_report(json.loads(task.release), submitted)]
    except Exception as e:  # a report that cannot be made must not cost the grade
        result["tamper"] = [{"grade_id": "?", "kind": "?", "change": "unreadable", "detail": str(e)[:200]}]
    work = Path(tempfile.mkdtemp(prefix="tinymlkit-grade-"))
    try:
        (work / "nbgrader_config.py").write_bytes(task.config)
        src = work / "source" / task.lab
        src.mkdir(parents=True)
        for rel, data in task.source_files.items():
            dest = (src / rel).resolve()
            if src.resolve() not in dest.parents:
                continue  # a path outside the lab's folder is never written
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(data)
        (work / "gradebook.db").write_bytes(task.gradebook)
        sub_dir = work / "submitted" / task.student / task.lab
        sub_dir.mkdir(parents=True)
        (sub_dir / f"{task.lab}.ipynb").write_bytes(task.notebook)
        if task.timestamp:
            (sub_dir / "timestamp.txt").write_text(task.timestamp)
        env = grading_env(task.kernel_threads)
        if task.forked_kernels and forked_kernels.SUPPORTED:
            env = forked_kernels.kernel_fork_server(env).kernel_env(env)
        if task.run_id:
            from .labs import CACHE_ENV

            cache = cache_folder(task.run_id)
            cache.mkdir(parents=True, exist_ok=True)
            env[CACHE_ENV] = str(cache)
        ok, log = (_autograde_here if in_process else _autograde_child)(task, work, env)
        result["checksum_warnings"] = log.count("Attribute 'checksum'")
        result["log_tail"] = log[-4000:]
        graded = work / "autograded" / task.student / task.lab
        if not ok or not graded.is_dir():
            result["error"] = "nbgrader autograde failed: " + log.strip()[-600:]
            return result
        for f in sorted(graded.rglob("*")):
            if f.is_file() and not f.is_symlink():
                result["files"][str(f.relative_to(graded))] = f.read_bytes()
        result.update(_grades(work / "gradebook.db", task.lab, task.student))
        result["stopped"] = _stopped_cells(result["files"].get(f"{task.lab}.ipynb", b""))
        result["status"] = "ok"
    except Exception as e:  # one submission never stops the class: report it and go on
        result["error"] = f"{type(e).__name__}: {str(e)[:500]}"
    finally:
        shutil.rmtree(work, ignore_errors=True)  # the task's own temporary folder
        result["seconds"] = time.perf_counter() - t0
    return result
