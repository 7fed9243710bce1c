"""Grading a synthetic class: nbgrader's own sequential autograde against `tinymlkit grade` on Dask.

For each lab, a class is made from the release and the solutions in realistic proportions (correct, partial,
empty, raising, looping, tampered). The same class is graded twice, each in a fresh copy of the course:

1. sequentially: `nbgrader autograde LAB` (one process, one notebook after the other);
2. in parallel: `tinymlkit.grading.grade_class` on a Dask LocalCluster of --workers workers.

Reported: wall time, submissions/hour, the speed-up, per-submission seconds, that every score is identical
between the two, zero hidden-test lines in any generated feedback file, every tampered cell in the tamper
report, no checksum warning for the untouched and correct submissions; and a projection for 500 students x 6
labs on a 16-core machine from the measured per-submission times.

    python benchmarks/bench_grading.py                      # lab 1 (no TensorFlow), 10 students
    python benchmarks/bench_grading.py --labs lab1_audio_features lab4_quantization --students 10

The looping submission is stopped by a short cell timeout and notebook budget (--cell-timeout, --budget) so the
run stays short; the course config's own values (120 s, 300 s) bound it the same way, only later.
"""
from __future__ import annotations

import argparse
import copy
import html
import json
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import median, write  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
LABS = ROOT / "labs"

# Out of 10 students: what a real class hands in (most right, some partial, a few broken). The first six cover
# every kind, so a short run (--students 6) still grades each once.
MIX = ("correct", "partial", "empty", "raising", "looping", "tampered", "correct", "correct", "correct", "partial")


def _src(c: dict[str, Any]) -> str:
    """A cell's source as one string (nbformat stores it as a string or a list of lines)."""
    return "".join(c["source"]) if isinstance(c["source"], list) else c["source"]


def _meta(c: dict[str, Any]) -> dict[str, Any]:
    return c.get("metadata", {}).get("nbgrader", {})


def _class(lab: str, n: int) -> dict[str, dict[str, Any]]:
    release = json.loads((LABS / "release" / lab / f"{lab}.ipynb").read_text())
    source = json.loads((LABS / "source" / lab / f"{lab}.ipynb").read_text())
    answers = {_meta(c)["grade_id"]: "\n".join(ln for ln in _src(c).splitlines() if "### " not in ln)
               for c in source["cells"] if _meta(c).get("solution")}
    solved = copy.deepcopy(release)
    for c in solved["cells"]:
        if _meta(c).get("solution"):
            c["source"] = answers[_meta(c)["grade_id"]]
    answer_ids = [gid for gid in answers]
    tests = [_meta(c)["grade_id"] for c in release["cells"] if _meta(c).get("grade")]
    out = {}
    for i in range(n):
        kind = MIX[i % len(MIX)]
        nb = copy.deepcopy(release if kind == "empty" else solved)
        cells = {_meta(c).get("grade_id"): c for c in nb["cells"]}
        if kind == "partial":
            cells[answer_ids[-1]]["source"] = release_source(release, answer_ids[-1])
        elif kind == "raising":
            cells[answer_ids[len(answer_ids) // 2]]["source"] += "\nraise RuntimeError('student bug')"
        elif kind == "looping":
            cells[answer_ids[-1]]["source"] = "while True:\n    pass"
        elif kind == "tampered":
            cells[tests[0]]["source"] = "print('passed')"
            nb["cells"].remove(cells[tests[-1]])
        out[f"s{i:03d}_{kind}"] = nb
    return out


def release_source(release: dict[str, Any], gid: str) -> str:
    return next(_src(c) for c in release["cells"] if _meta(c).get("grade_id") == gid)


def _course(tmp: Path, name: str, labs: list[str]) -> Path:
    course = tmp / name
    course.mkdir()
    shutil.copy(LABS / "nbgrader_config.py", course)
    for lab in labs:
        shutil.copytree(LABS / "source" / lab, course / "source" / lab)
        shutil.copytree(LABS / "release" / lab, course / "release" / lab)
    return course


def _scores(db: Path, lab: str) -> dict[str, float]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{db}") as gb:
        return {s.student.id: float(s.score) for s in gb.find_assignment(lab).submissions}


def _hidden_lines(lab: str) -> set[str]:
    """Lines specific to the hidden tests (as tests/test_labs.py finds them)."""
    source = json.loads((LABS / "source" / lab / f"{lab}.ipynb").read_text())
    release = "\n".join(_src(c) for c in json.loads((LABS / "release" / lab / f"{lab}.ipynb").read_text())["cells"])
    out, visible = set(), set()
    for c in source["cells"]:
        inside = False
        for line in _src(c).splitlines():
            if "BEGIN HIDDEN TESTS" in line:
                inside = True
            elif "END HIDDEN TESTS" in line:
                inside = False
            elif inside and len(line.strip()) > 20 and line.strip() not in release:
                out.add(line.strip())
            elif not inside:
                visible.add(line.strip())
    # A line the solution also holds (lab 4: `t = read_tflite(model_bytes).input`) is in a correct student's own
    # answer: not a leak.
    return out - visible


def profile(lab: str) -> dict[str, Any]:
    """Where one correct submission's time goes: kernel start, each cell, and whether TensorFlow was imported."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(LABS / "source" / lab / f"{lab}.ipynb", as_version=4)  # solutions and hidden tests in place
    nb.cells.append(nbformat.v4.new_code_cell("import sys; print('TF_IMPORTED', 'tensorflow' in sys.modules)"))
    env_before = dict(os.environ)
    os.environ.update(NBGRADER_EXECUTION="autograde", MPLBACKEND="Agg")
    client = NotebookClient(nb, timeout=600, kernel_name="python3", record_timing=True)
    try:
        t0 = time.perf_counter()
        with client.setup_kernel():
            started = time.perf_counter() - t0
            cells = []
            for i, cell in enumerate(nb.cells):
                t1 = time.perf_counter()
                client.execute_cell(cell, i)
                gid = cell.metadata.get("nbgrader", {}).get("grade_id") or f"cell {i}"
                cells.append((gid, time.perf_counter() - t1))
        total = time.perf_counter() - t0
    finally:
        os.environ.clear()
        os.environ.update(env_before)
    out = "".join(o.get("text", "") for o in nb.cells[-1].get("outputs", []))
    cells.sort(key=lambda x: -x[1])
    return {"total_s": round(total, 1), "kernel_start_s": round(started, 1),
            "tensorflow_imported": "TF_IMPORTED True" in out,
            "slowest_cells_s": {g: round(t, 1) for g, t in cells[:6]}}


def _sleep(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def dask_idle(quiet: bool, seconds: float = 30.0, workers: int = 2) -> dict[str, float]:
    """CPU seconds a local cluster burns while its workers only sleep: Dask's defaults, or the kit's QUIET_DASK."""
    import logging

    import dask
    import psutil
    from dask.distributed import Client, LocalCluster

    from tinymlkit.grading.parallel import QUIET_DASK

    with dask.config.set(QUIET_DASK if quiet else {}):
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                               silence_logs=logging.WARNING)
        client = Client(cluster)
    try:
        time.sleep(3)  # past the start-up
        me = psutil.Process()

        def cpu() -> tuple[float, float]:
            kids = sum(sum(p.cpu_times()[:2]) for p in me.children(recursive=True))
            return kids, sum(me.cpu_times()[:2])

        before = cpu()
        client.gather([client.submit(_sleep, seconds, pure=False) for _ in range(workers)])
        after = cpu()
    finally:
        client.close()
        cluster.close()
    return {"seconds": seconds, "workers_and_nannies_cpu_s": round(after[0] - before[0], 2),
            "scheduler_process_cpu_s": round(after[1] - before[1], 2)}


def main() -> None:
    """Run the benchmark and write benchmarks/results/grading.json."""
    from tinymlkit.grading.env import run_nbgrader
    from tinymlkit.grading.parallel import grade_class

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--labs", nargs="+", default=["lab1_audio_features"])
    ap.add_argument("--students", type=int, default=10, help="submissions per lab")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--cell-timeout", type=int, default=20)
    ap.add_argument("--budget", type=float, default=40.0)
    ap.add_argument("--kernel-threads", type=int, default=None,
                    help="threads per graded kernel in the parallel run (default: grade_class's, the cores shared "
                         "out between the workers; 0: the libraries' defaults, as before)")
    ap.add_argument("--fresh-kernels", action="store_true",
                    help="the parallel path starts each kernel as a new process (tinymlkit grade --fresh-kernels)")
    ap.add_argument("--profile", action="store_true", help="also time each cell of a correct submission per lab")
    ap.add_argument("--dask-idle", action="store_true",
                    help="only measure the CPU an idle 2-worker cluster uses in 30 s, Dask's defaults vs the kit's")
    args = ap.parse_args()
    if args.dask_idle:
        out = {"defaults": [], "quiet": []}
        for _ in range(3):  # alternating, 3 times each
            for quiet in (False, True):
                out["quiet" if quiet else "defaults"].append(dask_idle(quiet))
        summary = {k: {"median_workers_and_nannies_cpu_s": median([r["workers_and_nannies_cpu_s"] for r in v]),
                       "median_scheduler_process_cpu_s": median([r["scheduler_process_cpu_s"] for r in v])}
                   for k, v in out.items()}
        print(json.dumps(summary, indent=1))
        write("grading_dask_idle", {"runs": out, "summary": summary})
        return
    extra = (f"--Execute.timeout={args.cell_timeout}", f"--BudgetedExecute.notebook_budget={args.budget}")
    results: dict[str, Any] = {"labs": {}, "settings": {"students_per_lab": args.students, "workers": args.workers,
                                                        "cell_timeout_s": args.cell_timeout, "budget_s": args.budget,
                                                        "mix": list(MIX), "kernel_threads": args.kernel_threads,
                                                        "forked_kernels": not args.fresh_kernels}}
    with tempfile.TemporaryDirectory(prefix="bench-grading-") as tmp_name:
        tmp = Path(tmp_name)
        seq_course = _course(tmp, "sequential", args.labs)
        par_course = _course(tmp, "parallel", args.labs)
        classes = {lab: _class(lab, args.students) for lab in args.labs}
        for lab, subs in classes.items():
            for sid, nb in subs.items():
                for course in (seq_course, par_course):
                    d = course / "submitted" / sid / lab
                    d.mkdir(parents=True)
                    (d / f"{lab}.ipynb").write_text(json.dumps(nb))
        t0 = time.perf_counter()
        proc = run_nbgrader(seq_course, ["generate_assignment", "*", "--force"], timeout=1800)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        seq_setup = time.perf_counter() - t0
        # The parallel course is released the same way (untimed for both): an instructor grades a course whose
        # labs were released from it, so its gradebook already holds them.
        proc = run_nbgrader(par_course, ["generate_assignment", "*", "--force"], timeout=1800)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        seq_times: dict[str, float] = {}
        seq_logs = {}
        for lab in args.labs:
            t0 = time.perf_counter()
            proc = run_nbgrader(seq_course, ["autograde", lab, "--create", *extra], timeout=7200)
            seq_times[lab] = time.perf_counter() - t0
            seq_logs[lab] = proc.stdout + proc.stderr
            assert proc.returncode == 0, seq_logs[lab][-3000:]
        print(f"sequential nbgrader: {seq_times} (+{seq_setup:.0f} s generate_assignment)", flush=True)
        t0 = time.perf_counter()
        wall0 = time.time()
        run = grade_class(par_course, workers=args.workers, nbgrader_args=extra, progress=True,
                          kernel_threads=args.kernel_threads, forked_kernels=not args.fresh_kernels)
        par_total = time.perf_counter() - t0
        print(f"parallel on {args.workers} Dask workers: {par_total:.0f} s; phases (s): "
              + json.dumps({k: round(v, 1) for k, v in run.phases.items()}), flush=True)
        timeline = sorted((round(r.get("started_at", wall0) - wall0, 1), round(float(r["seconds"]), 1), r["student"])
                          for r in run.graded)
        print("timeline (start s, seconds, student):", timeline, flush=True)
        results["parallel_phases_s"] = {k: round(v, 1) for k, v in run.phases.items()}
        results["parallel_timeline"] = timeline
        proc = run_nbgrader(par_course, ["generate_feedback", "*"], timeout=3600)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        n_all = 0
        for lab in args.labs:
            seq = _scores(seq_course / "gradebook.db", lab)
            par = _scores(par_course / "gradebook.db", lab)
            rows = [r for r in run.graded if r["lab"] == lab]
            per_sub = [r["seconds"] for r in rows]
            secrets = _hidden_lines(lab)
            leaks = []
            for page in (par_course / "feedback").glob(f"*/{lab}/*.html"):
                text = html.unescape(re.sub(r"<[^>]+>", "", page.read_text()))
                leaks += [f"{page.parent.parent.name}: {s}" for s in secrets if s in text]
            tampered = {r["student"]: sorted(f"{t['grade_id']} {t['change']}" for t in r["tamper"]) for r in rows
                        if r["tamper"]}
            quiet = {r["student"]: r["checksum_warnings"] for r in rows
                     if r["student"].endswith(("_correct", "_empty"))}
            n_all += len(seq)
            results["labs"][lab] = {
                "submissions": len(seq),
                "sequential_s": round(seq_times[lab], 1),
                "sequential_per_submission_s": round(seq_times[lab] / max(1, len(seq)), 1),
                "parallel_per_submission_s_median": round(median(per_sub), 1) if per_sub else None,
                "per_kind_s": {r["student"].split("_", 1)[1]: round(r["seconds"], 1) for r in rows},
                "scores_identical": seq == par,
                "scores": {k: [seq.get(k), par.get(k)] for k in sorted(set(seq) | set(par))},
                "feedback_pages": len(list((par_course / "feedback").glob(f"*/{lab}/*.html"))),
                "hidden_lines_in_feedback": leaks,
                "tamper_report": tampered,
                "checksum_warnings_untouched_or_correct": quiet,
                "sequential_checksum_warnings": seq_logs[lab].count("Attribute 'checksum'"),
            }
        seq_total = sum(seq_times.values())
        speedup = seq_total / par_total if par_total else 0.0
        per_sub_seq = {lab: seq_times[lab] / max(1, results["labs"][lab]["submissions"]) for lab in args.labs}
        mean_per_sub = sum(per_sub_seq.values()) / len(per_sub_seq)
        efficiency = speedup / args.workers
        projected_h = 500 * 6 * mean_per_sub / (16 * efficiency) / 3600 if efficiency else None
        results.update({
            "sequential_total_s": round(seq_total, 1), "sequential_generate_assignment_s": round(seq_setup, 1),
            "parallel_total_s": round(par_total, 1), "parallel_includes": "cluster start, template gradebook, merge, reports (both courses released before timing)",
            "submissions": n_all,
            "sequential_submissions_per_hour": round(n_all / seq_total * 3600),
            "parallel_submissions_per_hour": round(n_all / par_total * 3600),
            "speedup": round(speedup, 2), "per_worker_efficiency": round(efficiency, 2),
            "projection_500x6_on_16_cores_h": round(projected_h, 2) if projected_h else None,
            "projection_basis": (f"mean sequential seconds per submission of the labs measured ({', '.join(args.labs)}), "
                                 "scaled by 16 workers at the measured per-worker efficiency; labs not measured are "
                                 "assumed to cost the same"),
        })
    if args.profile:
        results["profile"] = {lab: profile(lab) for lab in args.labs}
    write("grading", results)


if __name__ == "__main__":
    main()
