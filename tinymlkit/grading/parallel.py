"""A whole class graded in parallel on Dask, merged into the instructor's gradebook, idempotently.

:func:`grade_class` finds the submissions, grades each in its own course copy on a Dask cluster (a
``LocalCluster`` on this machine by default, or a ``dask-scheduler`` address for many machines), and
merges every result into the instructor's gradebook from this process alone. A state file remembers what
was graded from which bytes: a second run grades only submissions that are new, changed, or failed.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import KitError
from ..files import atomic_write_bytes, atomic_write_text
from .autograde import GradeTask, cache_folder, grade_task, grade_task_in_worker, grading_env, warm_worker
from .forked_kernels import SUPPORTED as FORKING
from .forked_kernels import kernel_fork_server, stop_kernel_fork_server
from .env import run_nbgrader
from .labs import CACHING_HELPERS
from .merge import has_submission, merge_result
from .submissions import Rejected, Submission, find_submissions

__all__ = ["GradeRun", "grade_class", "course_labs", "STATE_FILE", "REPORT_DIR", "QUIET_DASK", "format_summary",
           "default_kernel_threads"]

STATE_FILE = ".tinymlkit-grading.json"
"""In the course folder: what was graded from which bytes, and how it went (makes re-runs incremental)."""
REPORT_DIR = "reports"
"""In the course folder: the summary table and the tamper report of the last run."""


@dataclass
class GradeRun:
    """What one grading run did."""

    graded: list[dict[str, Any]] = field(default_factory=list)
    """Results of the submissions graded in this run (without the autograded files)."""
    skipped: list[dict[str, Any]] = field(default_factory=list)
    """Submissions left alone: graded before from the same bytes (their earlier result)."""
    rejected: list[Rejected] = field(default_factory=list)
    """Files that could not be graded at all, and why."""
    seconds: float = 0.0
    """Wall time of the run."""
    workers: int = 0
    """Dask workers the run used."""
    phases: dict[str, float] = field(default_factory=dict)
    """Wall seconds of the run's phases: ``setup`` (cluster, template gradebook), ``grading``, ``reports``."""

    @property
    def failed(self) -> list[dict[str, Any]]:
        """Graded results whose grading failed (they are retried on the next run)."""
        return [r for r in self.graded if r["status"] != "ok"]

    def rows(self) -> list[dict[str, Any]]:
        """One summary row per submission (graded now or before), sorted by lab then student."""
        rows = []
        for r in self.graded + self.skipped:
            rows.append({"lab": r["lab"], "student": r["student"], "status": r["status"] if r in self.graded else "unchanged",
                         "score": r.get("score"), "max_score": r.get("max_score"),
                         "seconds": round(float(r.get("seconds", 0.0)), 1),
                         "tampered": "; ".join(f"{t['grade_id']} {t['change']}" for t in r.get("tamper", [])),
                         "out_of_time": "; ".join(f"{s['cell']} {s['what']}" for s in r.get("stopped", [])),
                         "error": r.get("error", "")})
        return sorted(rows, key=lambda x: (x["lab"], x["student"]))


def course_labs(course: Path) -> list[str]:
    """Labs (assignments) of a course folder: ``source/<lab>/<lab>.ipynb``."""
    src = course / "source"
    return sorted(p.name for p in src.iterdir() if (p / f"{p.name}.ipynb").is_file()) if src.is_dir() else []


def _digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(hashlib.sha256(p).digest())
    return h.hexdigest()


def _load_state(path: Path) -> dict[str, Any]:
    try:
        state = json.loads(path.read_text())
        return state if isinstance(state, dict) and isinstance(state.get("submissions"), dict) else {"submissions": {}}
    except (OSError, ValueError):
        return {"submissions": {}}


def _lab_files(course: Path, lab: str) -> dict[str, bytes]:
    src = course / "source" / lab
    return {str(p.relative_to(src)): p.read_bytes() for p in sorted(src.rglob("*"))
            if p.is_file() and p.suffix != ".ipynb" and ".ipynb_checkpoints" not in p.parts}


def _template_gradebook(course: Path, labs: list[str], tmp: Path) -> tuple[bytes, dict[str, bytes]]:
    """A gradebook holding only the labs' assignments, made by nbgrader's generate_assignment; and the releases."""
    shutil.copy(course / "nbgrader_config.py", tmp / "nbgrader_config.py")
    for lab in labs:
        shutil.copytree(course / "source" / lab, tmp / "source" / lab)
        proc = run_nbgrader(tmp, ["generate_assignment", lab, "--force", f"--CourseDirectory.root={tmp}",
                                  f"--CourseDirectory.db_url=sqlite:///{tmp / 'gradebook.db'}"], timeout=900)
        if proc.returncode != 0:
            raise KitError(f"{course / 'source' / lab}: nbgrader generate_assignment failed: "
                           + (proc.stdout + proc.stderr).strip()[-500:])
    releases = {lab: (tmp / "release" / lab / f"{lab}.ipynb").read_bytes() for lab in labs}
    return (tmp / "gradebook.db").read_bytes(), releases


_PER_STUDENT_TABLES = ("comment", "grade", "submitted_notebook", "submitted_assignment", "student")
"""nbgrader's gradebook tables that hold students and their submissions (nbgrader.api), children first."""


def _template_from_gradebook(db: Path, labs: list[str], tmp: Path) -> bytes | None:
    """The instructor's gradebook emptied of students and submissions, when it already holds every lab.

    This is the gradebook the sequential ``nbgrader autograde`` would grade against (its stored cells and
    checksums, made when the instructor released the labs), without running ``generate_assignment`` again.
    None when the gradebook is missing or lacks a lab (the caller then makes the template with nbgrader).
    """
    import sqlite3

    if not db.is_file():
        return None
    out = tmp / "template-from-gradebook.db"
    src = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
    dst = sqlite3.connect(out)
    try:
        src.backup(dst)  # a consistent copy even if nbgrader writes to it meanwhile
        names = {row[0] for row in dst.execute("SELECT name FROM assignment")}
        notebooks = {row[0] for row in dst.execute(
            "SELECT assignment.name FROM notebook JOIN assignment ON notebook.assignment_id = assignment.id "
            "WHERE notebook.name = assignment.name")}
        if not set(labs) <= names or not set(labs) <= notebooks:
            return None
        for table in _PER_STUDENT_TABLES:
            dst.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names
        dst.commit()
        dst.execute("VACUUM")
    except sqlite3.DatabaseError:
        return None  # not a gradebook this code knows: nbgrader makes the template instead
    finally:
        src.close()
        dst.close()
    return out.read_bytes()


def _ensure_assignments(course: Path, db: Path, labs: list[str], template: bytes, tmp: Path) -> None:
    """Put the labs' assignments into the instructor's gradebook if they are not there yet."""
    from nbgrader.api import Gradebook, MissingEntry

    if not db.exists():
        atomic_write_bytes(db, template)
        return
    missing = []
    with Gradebook(f"sqlite:///{db}") as gb:
        for lab in labs:
            try:
                gb.find_notebook(lab, lab)
            except MissingEntry:
                missing.append(lab)
    if not missing:
        return
    work = tmp / "instructor"
    work.mkdir()
    shutil.copy(course / "nbgrader_config.py", work / "nbgrader_config.py")
    for lab in missing:
        shutil.copytree(course / "source" / lab, work / "source" / lab)
        proc = run_nbgrader(work, ["generate_assignment", lab, "--force", f"--CourseDirectory.root={work}",
                                   f"--CourseDirectory.db_url=sqlite:///{db}"], timeout=900)
        if proc.returncode != 0:
            raise KitError(f"{db}: could not add {lab} with nbgrader generate_assignment: "
                           + (proc.stdout + proc.stderr).strip()[-500:])


QUIET_DASK = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.system-monitor.interval": "5s",
    "distributed.worker.memory.monitor-interval": "2s",
    "distributed.scheduler.work-stealing": False,
    "distributed.admin.tick.interval": "200ms",
    "distributed.scheduler.worker-saturation": 1.0,
}
"""Dask settings of the local grading cluster: its monitoring at a slower pace, no statistical profiler.

Measured on the 2-core development machine (``benchmarks/bench_grading.py --dask-idle``, medians of 3): with
Dask's defaults an idle 2-worker cluster used 8.4 s of CPU per 30 s (the workers' 10 ms stack sampler for the
dashboard, the 0.5 s system monitor, the nannies' 0.1 s memory checks, the scheduler's work stealing and 20 ms
ticks), CPU the graded kernels need; with these, 1.6 s. Tasks are queued on the scheduler until a worker is
free (saturation 1.0: a one-thread worker holds one task, where Dask's 1.1 rounds up to two, so a submission
could wait behind a looping one while the other worker sat idle), so stealing has nothing to balance; the memory
limit is still enforced, checked every 2 s."""


def _client(workers: int, scheduler: str | None) -> tuple[Any, Any]:
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise KitError("parallel grading needs Dask: pip install 'dask[distributed]'") from None
    import logging

    # Dask logs every worker start and stop at INFO on stderr; the summary table says what matters.
    logging.getLogger("distributed").setLevel(logging.WARNING)
    if scheduler:
        try:
            return Client(scheduler, timeout="20s"), None
        except (OSError, TimeoutError) as e:
            raise KitError(f"--scheduler {scheduler}: cannot reach the Dask scheduler ({e})") from None
    # One process per worker, one task at a time: each grades in-process with nbgrader imported once
    # (grade_task_in_worker), instead of starting an nbgrader process per submission.
    import dask

    with dask.config.set(QUIET_DASK):  # read by the scheduler, the nannies and the workers as they start
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                               silence_logs=logging.WARNING)
        return Client(cluster), cluster


def default_kernel_threads(workers: int, scheduler: str | None) -> int:
    """Threads per graded kernel when none is asked for: this machine's cores shared out between its workers.

    Left alone, TensorFlow, OpenBLAS and OpenMP each start a pool as large as the machine in every kernel, so
    two workers on two cores run four or more busy threads that take turns. One worker, or a cluster on other
    machines (whose cores this process cannot see), keeps the libraries' defaults (0).
    """
    if scheduler or workers <= 1:
        return 0
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(1, cores // workers)


def grade_class(course: str | Path, submissions: str | Path | None = None, labs: list[str] | None = None,
                lab: str | None = None, workers: int = 2, scheduler: str | None = None, force: bool = False,
                nbgrader_args: tuple[str, ...] = (), progress: bool = True,
                on_result: Callable[[dict[str, Any]], None] | None = None,
                before_grading: Callable[[], Any] | None = None, kernel_threads: int | None = None,
                forked_kernels: bool = True) -> GradeRun:
    """Autograde every submission of a course in parallel and merge the results into its gradebook.

    ``submissions``: nbgrader's ``submitted/`` (default), an exchange inbound folder, or a folder of
    ``<student_id>.ipynb`` for ``lab``. ``workers`` 0 grades one after the other in this process (no Dask).
    ``force`` grades again what is unchanged. ``before_grading`` runs once before the first submission is
    graded, and not at all when there is nothing to grade (the command line warms librosa's compile cache).
    ``kernel_threads`` caps the threads of each graded kernel's numerical libraries; None: this machine's cores
    shared out between the local workers (see :func:`default_kernel_threads`), 0: the libraries' defaults.
    ``forked_kernels``: each graded kernel is forked from a server per worker that has imported what the labs
    import (:mod:`tinymlkit.grading.forked_kernels`); False starts every kernel as a new Python process.
    """
    t0 = time.perf_counter()
    course = Path(course).resolve()
    if not (course / "nbgrader_config.py").is_file():
        raise KitError(f"{course}: not an nbgrader course folder (no nbgrader_config.py)")
    all_labs = course_labs(course)
    if not all_labs:
        raise KitError(f"{course}: no labs in source/<lab>/<lab>.ipynb")
    wanted = list(labs or all_labs)
    if lab is not None:
        wanted = [lab]
    unknown = [x for x in wanted if x not in all_labs]
    if unknown:
        raise KitError(f"unknown lab {', '.join(unknown)}: {course} has {', '.join(all_labs)}")
    if workers < 0 or workers > 512:
        raise KitError(f"--workers {workers}: give 0 (no Dask) to 512")
    if kernel_threads is None:
        kernel_threads = default_kernel_threads(workers, scheduler)
    forked_kernels = forked_kernels and FORKING
    if kernel_threads < 0 or kernel_threads > 1024:
        raise KitError(f"--kernel-threads {kernel_threads}: give 0 (the libraries' defaults) to 1024")
    subs, rejected = find_submissions(submissions or course / "submitted", wanted, lab)
    run = GradeRun(rejected=list(rejected))
    db = course / "gradebook.db"
    db_url = f"sqlite:///{db}"
    state_path = course / STATE_FILE
    state = _load_state(state_path)
    config = (course / "nbgrader_config.py").read_bytes()
    run_id = hashlib.sha256(f"{course}-{time.time()}".encode()).hexdigest()[:12]
    with tempfile.TemporaryDirectory(prefix="tinymlkit-grade-run-") as tmp_name:
        tmp = Path(tmp_name)
        labs_used = sorted({s.lab for s in subs})
        if not labs_used:
            run.seconds = time.perf_counter() - t0
            return run
        pending: list[tuple[Submission, bytes, str]] = []
        for s in subs:
            try:
                data = s.path.read_bytes()
            except OSError as e:
                run.rejected.append(Rejected(s.path, f"cannot read it ({e.strerror})"))
                continue
            source_nb = (course / "source" / s.lab / f"{s.lab}.ipynb").read_bytes()
            digest = _digest(data, source_nb, config, repr(nbgrader_args).encode(), (s.timestamp or "").encode())
            key = f"{s.lab}/{s.student}"
            before = state["submissions"].get(key)
            if (not force and before and before.get("digest") == digest and before.get("status") == "ok"
                    and has_submission(db_url, s.lab, s.student)
                    and (course / "autograded" / s.student / s.lab / f"{s.lab}.ipynb").is_file()):
                run.skipped.append(before)
                continue
            pending.append((s, data, digest))
        todo: list[tuple[Submission, GradeTask, str]] = []

        def finish(sub: Submission, digest: str, result: dict[str, Any]) -> None:
            if result["status"] == "ok":
                try:
                    merge_result(course, db_url, result, sub.path)
                except Exception as e:  # noqa: BLE001 - recorded as a failure, retried next run
                    result["status"], result["error"] = "failed", f"merge into the gradebook failed: {e}"
            slim = {k: v for k, v in result.items() if k not in ("files", "log_tail")}
            slim["digest"] = digest
            state["submissions"][f"{sub.lab}/{sub.student}"] = slim
            atomic_write_text(state_path, json.dumps(state, indent=1, sort_keys=True))
            run.graded.append(slim)
            if on_result is not None:
                on_result(slim)

        dask: tuple[Any, Any] | None = None
        try:
            if pending:  # nbgrader and Dask are started only when there is something to grade
                # The cluster starts in a thread while this process imports nbgrader; then the workers import
                # nbgrader and before_grading runs (in a thread) while this process makes the template gradebook.
                client_box: dict[str, Any] = {}
                cluster_done = _in_thread((lambda: client_box.update(dask=_client(workers, scheduler)))
                                          if workers > 0 else None)
                try:
                    from .nbgrader_main import prepare

                    prepare()  # nbgrader without its slow optional import, in this process too
                finally:
                    cluster_done()
                    dask = client_box.get("dask")
                if dask is not None:
                    _warm_workers(dask[0], kernel_threads if forked_kernels else None)
                forks = kernel_fork_server(grading_env(kernel_threads)) if dask is None and forked_kernels else None
                hook_done = _in_thread(before_grading)
                pending_labs = sorted({s.lab for s, _, _ in pending})
                committed = {x: course / "release" / x / f"{x}.ipynb" for x in pending_labs}
                template = None
                if all(f.is_file() for f in committed.values()):
                    # The labs were released from this course folder: grade against the gradebook they were
                    # released with, as `nbgrader autograde` does, instead of running generate_assignment again.
                    template = _template_from_gradebook(db, pending_labs, tmp)
                releases: dict[str, bytes] = {}
                if template is None:
                    (tmp / "template").mkdir()
                    template, releases = _template_gradebook(course, pending_labs, tmp / "template")
                    _ensure_assignments(course, db, pending_labs, template, tmp)
                for rel_lab, release_file in committed.items():
                    if release_file.is_file():
                        releases[rel_lab] = release_file.read_bytes()  # what the students were really given
                lab_files = {x: _lab_files(course, x) for x in pending_labs}
                for s, data, digest in pending:
                    task = GradeTask(student=s.student, lab=s.lab, notebook=data, release=releases[s.lab],
                                     config=config, gradebook=template, source_files=lab_files[s.lab],
                                     timestamp=s.timestamp, nbgrader_args=tuple(nbgrader_args), run_id=run_id,
                                     kernel_threads=kernel_threads, forked_kernels=forked_kernels)
                    todo.append((s, task, digest))
                hook_done()
                if forks is not None:
                    forks.wait_ready()  # its imports ran while the gradebook was made
            run.phases["setup"] = time.perf_counter() - t0
            t_grading = time.perf_counter()
            bar = _bar(len(todo), progress)
            try:
                if dask is None:
                    for sub, task, digest in todo:
                        finish(sub, digest, grade_task(task))
                        bar.update(1)
                else:
                    cached = {lab for lab in {sub.lab for sub, _, _ in todo} if uses_grading_cache(course, lab)}
                    run.workers = _run_on_dask(dask[0], todo, finish, bar, cached)
            finally:
                bar.close()
                run.phases["grading"] = time.perf_counter() - t_grading
        finally:
            if dask is not None:
                dask[0].close()
                if dask[1] is not None:
                    dask[1].close()
            shutil.rmtree(cache_folder(run_id), ignore_errors=True)  # this run's own cache (made by its tasks)
            if dask is None:
                stop_kernel_fork_server()  # this process's own (a worker's ends with the worker)
    t_reports = time.perf_counter()
    write_reports(course, run)
    run.phases["reports"] = time.perf_counter() - t_reports
    run.seconds = time.perf_counter() - t0
    return run


def uses_grading_cache(course: Path, lab: str) -> bool:
    """Whether a lab's notebook computes values once per grading run (``tinymlkit.grading.labs``'s cache)."""
    try:
        text = (course / "source" / lab / f"{lab}.ipynb").read_text(errors="replace")
    except OSError:
        return False
    return any(name in text for name in CACHING_HELPERS)


def _in_thread(fn: Callable[[], Any] | None) -> Callable[[], None]:
    """Start ``fn`` in a thread; returns a function that waits for it and raises what it raised."""
    if fn is None:
        return lambda: None
    box: dict[str, BaseException] = {}

    def body() -> None:
        try:
            fn()
        except BaseException as e:  # noqa: BLE001 - handed to the waiting caller
            box["error"] = e

    thread = threading.Thread(target=body, name="tinymlkit-before-grading", daemon=True)
    thread.start()

    def wait() -> None:
        thread.join()
        if "error" in box:
            raise box["error"]

    return wait


def _warm_workers(client: Any, forked_kernels_threads: int | None) -> None:
    """Have every worker import nbgrader (and start its kernel fork server) now, not on its first submission."""
    for addr in client.scheduler_info().get("workers", {}):
        client.submit(warm_worker, forked_kernels_threads, pure=False, workers=[addr], allow_other_workers=False,
                      key=f"warm-{addr}")


def _run_on_dask(client: Any, todo: list[tuple[Submission, GradeTask, str]],
                 finish: Callable[[Submission, str, dict[str, Any]], None], bar: Any, cached: set[str]) -> int:
    """Grade on Dask; in a lab that fills a cache, the first submission runs alone so the cache is filled once."""
    from dask.distributed import as_completed

    n_workers = len(client.scheduler_info().get("workers", {}))
    first: dict[str, int] = {}
    for i, (sub, _, _) in enumerate(todo):
        first.setdefault(sub.lab, i)
    rest: dict[str, list[int]] = {}
    for i, (sub, _, _) in enumerate(todo):
        if first[sub.lab] != i and sub.lab in cached:
            rest.setdefault(sub.lab, []).append(i)
    starts = sorted(set(first.values()) | {i for i, (sub, _, _) in enumerate(todo) if sub.lab not in cached})
    index: dict[Any, int] = {}
    futures = []
    for i in starts:
        f = client.submit(grade_task_in_worker, todo[i][1], pure=False, key=f"grade-{todo[i][0].lab}-{todo[i][0].student}")
        index[f.key] = i
        futures.append(f)
    done = as_completed(futures)
    for f in done:
        i = index[f.key]
        sub, _, digest = todo[i]
        try:
            result = f.result()
        except Exception as e:  # noqa: BLE001 - a lost worker: the submission is retried next run
            result = {"student": sub.student, "lab": sub.lab, "status": "failed", "seconds": 0.0,
                      "error": f"the Dask task failed: {type(e).__name__}: {e}", "tamper": [], "stopped": []}
        finish(sub, digest, result)
        bar.update(1)
        if first.get(sub.lab) == i:
            for j in rest.pop(sub.lab, []):
                g = client.submit(grade_task_in_worker, todo[j][1], pure=False,
                                  key=f"grade-{todo[j][0].lab}-{todo[j][0].student}")
                index[g.key] = j
                done.add(g)
    return n_workers


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _bar(total: int, progress: bool) -> Any:
    if not progress or total == 0:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="grading", unit="submission")


def write_reports(course: Path, run: GradeRun) -> Path:
    """``reports/grading_summary.csv`` (one row per submission) and ``reports/tamper_report.json``."""
    out = course / REPORT_DIR
    rows = run.rows()
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=["lab", "student", "status", "score", "max_score", "seconds", "tampered",
                                        "out_of_time", "error"])
    w.writeheader()
    w.writerows(rows)
    atomic_write_text(out / "grading_summary.csv", buf.getvalue())
    tamper = {f"{r['lab']}/{r['student']}": r.get("tamper", []) for r in run.graded + run.skipped if r.get("tamper")}
    atomic_write_text(out / "tamper_report.json", json.dumps(tamper, indent=1, sort_keys=True))
    return out


def format_summary(run: GradeRun, limit: int = 200) -> str:
    """The run as a text table plus totals (what ``tinymlkit grade`` prints)."""
    from ..errors import printable

    rows = run.rows()
    lines = [f"{'lab':<22} {'student':<18} {'status':<9} {'score':>11} {'s':>6}  notes"]
    for r in rows[:limit]:
        score = "-" if r["score"] is None else f"{r['score']:g}/{r['max_score']:g}"
        notes = "; ".join(x for x in (r["tampered"] and f"tampered: {r['tampered']}",
                                      r["out_of_time"] and f"time: {r['out_of_time']}",
                                      r["error"]) if x)
        lines.append(f"{r['lab']:<22} {printable(r['student']):<18} {r['status']:<9} {score:>11} {r['seconds']:>6.1f}  "
                     f"{printable(notes, limit=160)}")
    if len(rows) > limit:
        lines.append(f"... {len(rows) - limit} more rows in {REPORT_DIR}/grading_summary.csv")
    for rej in run.rejected:
        lines.append(f"not graded: {printable(str(rej.path))}: {rej.reason}")
    n_ok = sum(1 for r in run.graded if r["status"] == "ok")
    rate = n_ok / run.seconds * 3600 if run.seconds > 0 and n_ok else 0.0
    lines.append(f"graded {n_ok}, failed {len(run.failed)}, unchanged {len(run.skipped)}, not gradable "
                 f"{len(run.rejected)}; {run.seconds:.0f} s on {run.workers or 'no'} Dask worker(s)"
                 + (f" ({rate:.0f} submissions/hour)" if rate else ""))
    return "\n".join(lines)
