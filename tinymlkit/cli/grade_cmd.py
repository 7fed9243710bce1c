"""``tinymlkit grade``: autograde a class's lab submissions in parallel on Dask with nbgrader."""
from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from .common import int_in, seconds

__all__ = ["register"]


def register(sub: Any) -> None:
    """Add the ``grade`` command."""
    p = sub.add_parser(
        "grade", help="autograde lab submissions in parallel (nbgrader on Dask) into the course gradebook",
        description="Grade every submission of a course's labs with nbgrader's autograde, each in its own course "
                    "copy, in parallel on a Dask cluster, and merge the scores into the course's gradebook.db (so "
                    "nbgrader's generate_feedback, export and formgrader work as usual). A second run grades only "
                    "what is new, changed or failed. Prints a summary table and writes reports/grading_summary.csv "
                    "and reports/tamper_report.json (test cells edited, deleted, moved or stripped) in the course.")
    p.add_argument("course", type=Path, nargs="?", default=Path("labs"), metavar="COURSE_DIR",
                   help="the nbgrader course folder (holds nbgrader_config.py and source/; default: labs)")
    p.add_argument("--submissions", type=Path, metavar="DIR",
                   help="where the submissions are: nbgrader's submitted/<student>/<lab>/ (default: COURSE_DIR/submitted), "
                        "an exchange inbound folder (<student>+<lab>+<time>/), or a folder of <student_id>.ipynb (with --lab)")
    p.add_argument("--lab", metavar="LAB", help="grade this lab only (needed for a folder of <student_id>.ipynb)")
    p.add_argument("--workers", type=int_in(0, 512), default=2, metavar="N",
                   help="Dask workers on this machine (default 2; 0 grades one after the other without Dask)")
    p.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                   help="use a running dask-scheduler (workers started with `dask worker tcp://HOST:PORT` on each "
                        "machine, the kit installed there) instead of a local cluster")
    p.add_argument("--kernel-threads", type=int_in(0, 1024), metavar="N",
                   help="threads each graded kernel's TensorFlow/BLAS may use (default: this machine's cores divided "
                        "by --workers on a local cluster, the libraries' own default with --scheduler; 0: their default)")
    p.add_argument("--fresh-kernels", action="store_true",
                   help="start every graded kernel as a new Python process (default: forked from a server per worker "
                        "that has already imported numpy, librosa and TensorFlow, which saves seconds per submission)")
    p.add_argument("--cell-timeout", type=seconds, metavar="S", help="seconds per cell (default: the course config)")
    p.add_argument("--budget", type=seconds, metavar="S",
                   help="seconds per notebook (default: the course config's BudgetedExecute.notebook_budget)")
    p.add_argument("--force", action="store_true", help="grade again submissions that are unchanged since the last run")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_grade)


def _grade(args: argparse.Namespace) -> int:
    from ..grading.nbgrader_main import prepare

    prepare()  # this process reads and writes the gradebook with nbgrader: without its slow optional import
    from ..grading.parallel import format_summary, grade_class

    extra = []
    if args.cell_timeout:
        extra.append(f"--Execute.timeout={int(math.ceil(args.cell_timeout))}")
    if args.budget:
        extra.append(f"--BudgetedExecute.notebook_budget={args.budget}")
    if args.scheduler and not args.scheduler.startswith(("tcp://", "tls://", "inproc://", "ucx://")):
        from ..errors import KitError

        raise KitError(f"--scheduler {args.scheduler!r}: give the scheduler's address, e.g. tcp://10.0.0.5:8786")
    warm = None
    if not args.scheduler:
        # librosa's first call compiles for minutes on a fresh install: here, not inside a graded cell's timeout
        # (workers on other machines warm their own: `python -m tinymlkit.audio.jit_cache` in their set-up).
        from ..audio.jit_cache import warm_up as warm
    run = grade_class(args.course, submissions=args.submissions, lab=args.lab, workers=args.workers,
                      scheduler=args.scheduler, force=args.force, nbgrader_args=tuple(extra), progress=not args.quiet,
                      before_grading=warm, kernel_threads=args.kernel_threads,
                      forked_kernels=not args.fresh_kernels)
    print(format_summary(run))
    return 1 if run.failed else 0
