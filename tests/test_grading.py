"""Grading a class: the numpy-only rule, the tamper report, finding submissions, nbgrader without an activated
venv, and `tinymlkit grade` end to end on lab 1 (no TensorFlow) with real nbgrader, real kernels and Dask."""
from __future__ import annotations

import copy
import csv
import html
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tinymlkit.grading.rules import modules_used
from tinymlkit.grading.submissions import find_submissions
from tinymlkit.grading.tamper import tamper_report

ROOT = Path(__file__).resolve().parents[1]
LABS = ROOT / "labs"
LAB = "lab1_audio_features"
SYSTEM_PATH = "/usr/bin:/bin"


def _main_functions(src: str) -> dict[str, Any]:
    """Functions defined as a notebook defines them (module __main__)."""
    ns: dict[str, Any] = {"__name__": "__main__"}
    exec(compile(src, "<cell>", "exec"), ns)
    return ns


def test_numpy_only_rule_sees_every_way_in():
    ns = _main_functions(
        "import numpy as np\nimport math\nimport scipy.signal as ss\nfrom librosa import util\n"
        "def helper(x):\n    return np.abs(x) + math.pi\n"
        "def clean(x):\n    return helper(np.fft.rfft(x))\n"
        "def imports_inside(x):\n    import librosa\n    return librosa.util.frame(x, frame_length=2, hop_length=1)\n"
        "def via_alias(x):\n    return ss.get_window('hann', 4)\n"
        "def via_from_import(x):\n    return util.frame(x, frame_length=2, hop_length=1)\n"
        "def via_helper(x):\n    return via_alias(x)\n"
        "def sneaky(x):\n    return __import__('librosa')\n")
    assert modules_used([ns["clean"]]) == {"numpy", "math"}
    assert "librosa" in modules_used([ns["imports_inside"]])
    assert modules_used([ns["via_alias"]]) == {"scipy"}
    assert modules_used([ns["via_from_import"]]) == {"librosa"}
    assert modules_used([ns["via_helper"]]) == {"scipy"}, "a helper of the student's own is followed"
    assert "builtins.__import__" in modules_used([ns["sneaky"]])


def _nb(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def _text(cell: dict[str, Any]) -> str:
    """A cell's source as one string (nbformat stores it as a string or as a list of lines)."""
    src = cell["source"]
    return src if isinstance(src, str) else "".join(src)


def _cell(nb: dict[str, Any], gid: str) -> dict[str, Any]:
    return next(c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == gid)


def test_tamper_report_names_every_change():
    release = _nb(LABS / "release" / LAB / f"{LAB}.ipynb")
    assert tamper_report(release, copy.deepcopy(release)) == [], "an untouched submission has nothing to report"
    sub = copy.deepcopy(release)
    _cell(sub, "test_hann_window")["source"] = "assert True"
    sub["cells"].remove(_cell(sub, "test_frame_signal"))
    stripped = _cell(sub, "test_mel_scale")
    stripped["metadata"] = {}
    text = _cell(sub, "text-04")
    text["source"] = _text(text) + "\nI changed the instructions."
    moved = _cell(sub, "test_log_mel")
    sub["cells"].remove(moved)
    sub["cells"].insert(3, moved)
    _cell(sub, "test_power_spectrogram")["metadata"]["nbgrader"]["points"] = 30
    found = {(f.grade_id, f.change) for f in tamper_report(release, sub)}
    assert found == {("test_hann_window", "edited"), ("test_frame_signal", "deleted"), ("test_mel_scale", "stripped"),
                     ("text-04", "edited"), ("test_log_mel", "moved"), ("test_power_spectrogram", "metadata")}, found
    kinds = {f.grade_id: f.kind for f in tamper_report(release, sub)}
    assert kinds["text-04"] == "read-only" and kinds["test_hann_window"] == "test"


def test_finds_submissions_in_every_layout(tmp_path):
    nb = (LABS / "release" / LAB / f"{LAB}.ipynb").read_bytes()
    colab = tmp_path / "colab"
    colab.mkdir()
    (colab / "s001.ipynb").write_bytes(nb)
    (colab / "bad name!.ipynb").write_bytes(nb)
    (colab / "empty.ipynb").write_bytes(b"")
    subs, rejected = find_submissions(colab, [LAB], LAB)
    assert [(s.student, s.lab) for s in subs] == [("s001", LAB)]
    assert sorted(r.path.name for r in rejected) == ["bad name!.ipynb", "empty.ipynb"]
    exchange = tmp_path / "inbound"
    for stamp in ("2026-01-01 10:00:00.000000 UTC", "2026-01-02 09:00:00.000000 UTC"):
        d = exchange / f"s002+{LAB}+{stamp}"
        d.mkdir(parents=True)
        (d / f"{LAB}.ipynb").write_bytes(nb)
    subs, _ = find_submissions(exchange, [LAB])
    assert [(s.student, s.timestamp) for s in subs] == [("s002", "2026-01-02 09:00:00.000000 UTC")], "the latest counts"
    submitted = tmp_path / "submitted" / "s003" / LAB
    submitted.mkdir(parents=True)
    (submitted / f"{LAB}.ipynb").write_bytes(nb)
    subs, _ = find_submissions(tmp_path / "submitted", [LAB])
    assert [(s.student, s.lab) for s in subs] == [("s003", LAB)]


def test_reference_values_computed_once_per_grading_run(tmp_path, monkeypatch):
    import numpy as np

    from tinymlkit.grading.labs import CACHE_ENV, cached_reference

    calls = []

    def compute():
        calls.append(1)
        return {"w": np.arange(6.0).reshape(2, 3), "acc": np.asarray(0.75)}

    monkeypatch.delenv(CACHE_ENV, raising=False)
    cached_reference("lab6 base", compute)
    cached_reference("lab6 base", compute)
    assert len(calls) == 2, "outside a grading run nothing is cached"
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    first = cached_reference("lab6 base", compute)
    again = cached_reference("lab6 base", compute)
    assert len(calls) == 3, "inside a grading run the second notebook loads what the first computed"
    assert np.array_equal(first["w"], again["w"]) and float(again["acc"]) == 0.75
    cached_reference("lab6 base, other seed", compute)
    assert len(calls) == 4


def test_lab7_base_is_trained_and_converted_once_per_grading_run(tmp_path, monkeypatch):
    """pretrained_kws: the first notebook of a run trains and converts; the next loads the same weights and bytes."""
    import numpy as np

    from tinymlkit.compress import workbench
    from tinymlkit.compress.budget import measure_cost
    from tinymlkit.config import KwsRunConfig, KwsTaskConfig
    from tinymlkit.grading.labs import CACHE_ENV, pretrained_kws
    from tinymlkit.models import tiny_conv

    rng = np.random.default_rng(0)
    x = rng.uniform(0, 26, (24, 49, 40)).astype(np.float32)
    y = np.arange(24) % 4
    work = workbench.KwsWork(KwsRunConfig(task=KwsTaskConfig(words=("yes", "no"))), x, y, x[:8], y[:8], x[:8], y[:8], "noise")
    trained = []
    real = workbench.train_kws_model
    monkeypatch.setattr(workbench, "train_kws_model", lambda *a, **k: trained.append(1) or real(*a, **k))
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    make = lambda: tiny_conv((49, 40), 4)  # noqa: E731
    first, first_bytes = pretrained_kws(make, work, epochs=1, learning_rate=0.005, seed=3)
    again, again_bytes = pretrained_kws(make, work, epochs=1, learning_rate=0.005, seed=3)
    assert len(trained) == 1 and len(list(tmp_path.glob("pretrained_kws*.npz"))) == 1
    assert first_bytes == again_bytes and measure_cost(again_bytes).arena_bytes > 0
    for a, b in zip(first.get_weights(), again.get_weights()):
        np.testing.assert_array_equal(a, b)
    pretrained_kws(make, work, epochs=1, learning_rate=0.005, seed=4)
    assert len(trained) == 2, "another seed is another model"


def test_nbgrader_runs_without_an_activated_venv(tmp_path):
    """nbgrader starts `alembic` from PATH: with only the system's PATH the kit's call still works."""
    from tinymlkit.grading.env import nbgrader_command, run_nbgrader

    shutil.copy(LABS / "nbgrader_config.py", tmp_path)
    base = {**os.environ, "PATH": SYSTEM_PATH}
    proc = run_nbgrader(tmp_path, ["db", "student", "add", "s1", "--last-name=One"], env=base, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (tmp_path / "gradebook.db").is_file()
    proc = run_nbgrader(tmp_path, ["db", "upgrade"], env=base, timeout=300)  # here nbgrader runs `alembic upgrade`
    assert proc.returncode == 0 and "Running upgrade" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    if shutil.which("alembic", path=SYSTEM_PATH) is None:
        # The control: nbgrader's own main() with the system's PATH as it is fails on alembic, so the kit's call
        # (its alembic question answered in-process, alembic's own PATH for `db upgrade`) is what works.
        (tmp_path / "gradebook.db").unlink()
        raw = subprocess.run([sys.executable, "-c", "from nbgrader.apps.nbgraderapp import main; main()",
                              "db", "student", "add", "s1"], cwd=tmp_path, capture_output=True,
                             text=True, env=base, timeout=300)
        assert raw.returncode != 0 and "alembic" in raw.stdout + raw.stderr


def test_alembic_head_in_process_is_what_alembic_prints():
    """nbgrader_main answers nbgrader's `alembic heads` question in-process: the same revision the program prints."""
    from nbgrader.dbutil import _temp_alembic_ini

    from tinymlkit.grading.env import python_bin_dir
    from tinymlkit.grading.nbgrader_main import alembic_head

    with _temp_alembic_ini("sqlite:////tmp/gradebook.db") as ini:
        out = subprocess.run([str(python_bin_dir() / "alembic"), "-c", ini, "heads"], capture_output=True, text=True,
                             timeout=300)
    assert out.returncode == 0, out.stderr
    printed = out.stdout.split("\n")[0].split(" ")[0]
    assert len(printed) == 12 and alembic_head() == printed


def _answers(release: dict[str, Any], source: dict[str, Any]) -> dict[str, Any]:
    nb = copy.deepcopy(release)
    answers = {c["metadata"]["nbgrader"]["grade_id"]: c["source"] for c in source["cells"]
               if c["metadata"].get("nbgrader", {}).get("solution")}
    for c in nb["cells"]:
        m = c["metadata"].get("nbgrader", {})
        if m.get("solution"):
            c["source"] = "\n".join(ln for ln in answers[m["grade_id"]].splitlines() if "### " not in ln)
    return nb


def _secret_lines(source: dict[str, Any], release_text: str) -> set[str]:
    out = set()
    for c in source["cells"]:
        inside = False
        for line in _text(c).splitlines():
            if "BEGIN HIDDEN TESTS" in line:
                inside = True
                continue
            if "END HIDDEN TESTS" in line:
                inside = False
            elif inside and len(line.strip()) > 20 and line.strip() not in release_text:
                out.add(line.strip())
    return out


def _plain_html(path: Path) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", path.read_text()))


@pytest.mark.slow
def test_grade_command_end_to_end(tmp_path):
    """A small class of lab 1 graded on 2 Dask workers; feedback, export and a second run with nbgrader's own commands."""
    from tinymlkit.cli import main
    from tinymlkit.grading.env import run_nbgrader

    course = tmp_path / "course"
    course.mkdir()
    shutil.copy(LABS / "nbgrader_config.py", course)
    shutil.copytree(LABS / "source" / LAB, course / "source" / LAB)
    shutil.copytree(LABS / "release" / LAB, course / "release" / LAB)
    release = _nb(LABS / "release" / LAB / f"{LAB}.ipynb")
    source = _nb(LABS / "source" / LAB / f"{LAB}.ipynb")
    solved = _answers(release, source)
    tampered = copy.deepcopy(solved)
    _cell(tampered, "hann_window")["source"] = "def hann_window(n):\n    return np.ones(n)"
    _cell(tampered, "test_hann_window")["source"] = "print('all good')"
    tampered["cells"].remove(_cell(tampered, "test_frame_signal"))
    # The rule's test follows a read-only text cell: nbgrader's own restoring fails on that (KeyError) and the
    # whole submission went ungraded; the kit's QuietOverwriteCells puts it back.
    tampered["cells"].remove(_cell(tampered, "test_numpy_only"))
    looping = copy.deepcopy(solved)
    # Sleeping loops in the first three answers (they cost wall time, not the CPU the other worker needs): 60 s of
    # per-cell timeouts, more than the 50 s budget, so the budget ends the notebook.
    for gid in ("frame_signal", "hann_window", "power_spectrogram"):
        _cell(looping, gid)["source"] = "import time\nwhile True:\n    time.sleep(0.2)"
    # Two graded kernels write the thread caps they were started with (--kernel-threads) and the command line of
    # the process that started them (the kernel fork server): the looping one, graded without Dask, and the
    # librosa user, graded on the local cluster.
    seen_threads = {sid: tmp_path / f"threads_{sid}.json" for sid in ("looping", "librosa")}
    capped = ("TF_NUM_INTRAOP_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")
    record_env = ("import json as _j, os as _o\nopen(%r, 'w').write(_j.dumps({'caps': {k: _o.environ.get(k) for k in "
                  + repr(capped) + "}, 'parent': open('/proc/%%d/cmdline' %% _o.getppid()).read()}))\n")
    _cell(looping, "frame_signal")["source"] = (record_env % str(seen_threads["looping"])
                                                + _cell(looping, "frame_signal")["source"])
    librosa_user = copy.deepcopy(solved)
    _cell(librosa_user, "mel_filters")["source"] = record_env % str(seen_threads["librosa"]) + _cell(
        solved, "mel_filters")["source"].replace(
        "def hz_to_mel(f):\n", "def hz_to_mel(f):\n    import librosa\n    return librosa.hz_to_mel(f, htk=True)\n", 1)
    colab = tmp_path / "from_colab"
    colab.mkdir()
    for sid, nb in {"solved": solved, "untouched": release, "tampered": tampered, "librosa": librosa_user}.items():
        (colab / f"{sid}.ipynb").write_text(json.dumps(nb))
    (colab / "garbage.ipynb").write_text("{ not json")
    loops = tmp_path / "late"
    loops.mkdir()
    (loops / "looping.ipynb").write_text(json.dumps(looping))

    args = [str(course), "--submissions", str(colab), "--lab", LAB, "--workers", "2", "--quiet", "--kernel-threads", "2"]
    status = main(["grade", *args])
    assert status == 1, "the unreadable notebook is a failed submission, reported, and the rest graded"
    # The looping one on its own: 20 s per cell, 50 s per notebook (the course config says 120 and 300).
    assert main(["grade", str(course), "--submissions", str(loops), "--lab", LAB, "--workers", "0", "--quiet",
                 "--cell-timeout", "20", "--budget", "50", "--kernel-threads", "3"]) == 0
    for sid, threads in (("librosa", "2"), ("looping", "3")):
        seen = json.loads(seen_threads[sid].read_text())
        assert seen["caps"] == dict.fromkeys(capped, threads)
        assert "tinymlkit.grading.forked_kernels\0serve" in seen["parent"], "forked from the worker's kernel server"
    with open(course / "reports" / "grading_summary.csv", newline="") as f:
        rows = {r["student"]: r for r in csv.DictReader(f)}
    assert set(rows) == {"looping"}, "the summary is the last run's"
    loop_row = rows["looping"]
    main(["grade", *args])  # nothing changed: the summary lists the class again, all unchanged (graded before)
    with open(course / "reports" / "grading_summary.csv", newline="") as f:
        rows = {r["student"]: r for r in csv.DictReader(f)}
    rows["looping"] = loop_row
    assert rows["solved"]["status"] == "unchanged"
    assert rows["garbage"]["status"] == "failed" and "not a readable notebook" in rows["garbage"]["error"]
    scores = {sid: float(r["score"]) for sid, r in rows.items() if r["score"]}
    assert scores["solved"] == 12 and scores["untouched"] == 0
    assert scores["librosa"] == 11, "numpy only: the rule's test costs its 1 point"
    # Edited test restored: the wrong window fails its own test (1) and the two that use it, power_spectrogram's (3)
    # and log_mel's hidden comparison with librosa (2); the deleted test is restored and passes.
    assert scores["tampered"] == 12 - 1 - 3 - 2
    assert "test_hann_window edited" in rows["tampered"]["tampered"] and "test_frame_signal deleted" in rows["tampered"]["tampered"]
    assert "test_numpy_only deleted" in rows["tampered"]["tampered"]
    assert not rows["solved"]["tampered"] and not rows["untouched"]["tampered"]
    # Looping: the first loop is stopped by the 20 s cell timeout, a later one by the 50 s budget; the rest not run.
    assert "frame_signal ran out of time" in rows["looping"]["out_of_time"], rows["looping"]
    assert "hann_window ran out of time" in rows["looping"]["out_of_time"], rows["looping"]
    assert "not run" in rows["looping"]["out_of_time"]
    assert scores["looping"] == 0
    state = json.loads((course / ".tinymlkit-grading.json").read_text())["submissions"]
    assert state[f"{LAB}/solved"]["checksum_warnings"] == 0 and state[f"{LAB}/untouched"]["checksum_warnings"] == 0
    assert state[f"{LAB}/tampered"]["checksum_warnings"] >= 1, "a real edit still warns"

    # The merged gradebook works with nbgrader's own commands.
    proc = run_nbgrader(course, ["export", "--to", "grades.csv"], env={**os.environ, "PATH": SYSTEM_PATH}, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with open(course / "grades.csv", newline="") as f:
        exported = {r["student_id"]: float(r["score"]) for r in csv.DictReader(f)}
    assert exported == {k: v for k, v in scores.items()}
    proc = run_nbgrader(course, ["generate_feedback", LAB], env={**os.environ, "PATH": SYSTEM_PATH}, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    secrets = _secret_lines(source, "\n".join(_text(c) for c in release["cells"]))
    assert secrets
    pages = sorted((course / "feedback").rglob("*.html"))
    assert len(pages) == len(scores)
    for page in pages:
        text = _plain_html(page)
        leaked = [s for s in secrets if s in text] + [m for m in ("HIDDEN TESTS", "default_rng(101)", "librosa.util.frame")
                                                      if m in text]
        assert not leaked, f"{page}: {leaked[:3]}"
    looping_page = _plain_html(course / "feedback" / "looping" / LAB / f"{LAB}.html")
    # The feedback page shows each error's traceback line: the cell that ran out of time, and the cells never run.
    assert "frame_signal ran out of time" in looping_page, looping_page[-2000:]
    assert "the notebook's 50 s were used up" in looping_page, looping_page[-2000:]

    # Idempotent: nothing changed, nothing graded again; one changed submission is the only one graded.
    (colab / "garbage.ipynb").unlink()
    _cell(solved, "log_mel")["source"] = "def log_mel_energies(*args):\n    raise ValueError('oops')"
    (colab / "solved.ipynb").write_text(json.dumps(solved))
    from tinymlkit.grading.parallel import grade_class

    again = grade_class(course, submissions=colab, lab=LAB, workers=0, progress=False)
    assert [r["student"] for r in again.graded] == ["solved"]
    assert sorted(r["student"] for r in again.skipped) == ["librosa", "tampered", "untouched"]
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        assert gb.find_submission(LAB, "solved").score == 12 - 2 - 1  # log_mel's test and the rule's test
        assert len(gb.find_assignment(LAB).submissions) == 5


def test_kernel_threads_share_out_the_cores_between_local_workers(monkeypatch):
    """Each graded kernel of a local cluster gets its workers' share of the cores; one worker or a remote cluster
    (whose machines this process cannot see) keeps the libraries' defaults (0)."""
    from tinymlkit.grading.autograde import KERNEL_THREAD_VARIABLES, kernel_thread_env
    from tinymlkit.grading.parallel import default_kernel_threads

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(16)))
    assert default_kernel_threads(2, None) == 8
    assert default_kernel_threads(6, None) == 2
    assert default_kernel_threads(32, None) == 1, "never 0 threads: at least one each"
    assert default_kernel_threads(1, None) == 0 and default_kernel_threads(0, None) == 0
    assert default_kernel_threads(4, "tcp://10.0.0.5:8786") == 0
    assert kernel_thread_env(0) == {}
    assert kernel_thread_env(3) == dict.fromkeys(KERNEL_THREAD_VARIABLES, "3")
    assert {"TF_NUM_INTRAOP_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"} <= set(KERNEL_THREAD_VARIABLES)


def test_only_labs_that_fill_a_cache_start_with_one_submission_alone():
    """Dask runs a lab's first submission alone only when the lab computes values once per run (else a worker idles)."""
    from tinymlkit.grading.parallel import uses_grading_cache

    labs = ("lab1_audio_features", "lab4_quantization", "lab6_vww_transfer", "lab7_pruning", "lab8_anomaly_detection")
    using = {lab for lab in labs if uses_grading_cache(LABS, lab)}
    # lab 6 pre-trains its base once per run (pretrained_base), lab 7 its keyword model (pretrained_kws), lab 8 its
    # autoencoder (anomaly_lab_set)
    assert using == {"lab6_vww_transfer", "lab7_pruning", "lab8_anomaly_detection"}
    assert not uses_grading_cache(LABS, "no_such_lab")


def _gradebook_contents(db: Path) -> dict[str, Any]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{db}") as gb:
        out: dict[str, Any] = {"students": sorted(s.id for s in gb.students)}
        for a in gb.assignments:
            for nb in a.notebooks:
                out[f"{a.name}/{nb.name}"] = {
                    "grade": sorted((c.name, c.max_score, c.cell_type) for c in nb.grade_cells),
                    "solution": sorted(c.name for c in nb.solution_cells),
                    "task": sorted((c.name, c.max_score) for c in nb.task_cells),
                    "source": sorted((c.name, c.cell_type, c.locked, c.checksum, c.source) for c in nb.source_cells)}
        return out


@pytest.mark.slow
def test_template_from_the_instructors_gradebook_is_what_nbgrader_would_make(tmp_path):
    """A released course grades against its own gradebook emptied of students: the same cells and checksums as a
    fresh generate_assignment, no student or submission of the class, and None when a lab is missing."""
    from tinymlkit.grading.env import run_nbgrader
    from tinymlkit.grading.nbgrader_main import prepare
    from tinymlkit.grading.parallel import _template_from_gradebook, _template_gradebook

    prepare()
    from nbgrader.api import Gradebook

    course = tmp_path / "course"
    course.mkdir()
    shutil.copy(LABS / "nbgrader_config.py", course)
    shutil.copytree(LABS / "source" / LAB, course / "source" / LAB)
    proc = run_nbgrader(course, ["generate_assignment", LAB, "--force"], env={**os.environ, "PATH": SYSTEM_PATH},
                        timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    db = course / "gradebook.db"
    with Gradebook(f"sqlite:///{db}") as gb:  # a class has been graded into it
        gb.add_student("ada")
        gb.add_submission(LAB, "ada")
    assert _gradebook_contents(db)["students"] == ["ada"]

    (tmp_path / "fresh").mkdir()
    fresh, _ = _template_gradebook(course, [LAB], tmp_path / "fresh")
    (tmp_path / "mine").mkdir()
    mine = _template_from_gradebook(db, [LAB], tmp_path / "mine")
    assert mine is not None
    (tmp_path / "fresh.db").write_bytes(fresh)
    (tmp_path / "mine.db").write_bytes(mine)
    want, got = _gradebook_contents(tmp_path / "fresh.db"), _gradebook_contents(tmp_path / "mine.db")
    assert got["students"] == [] and want["students"] == []
    assert got == want and want[f"{LAB}/{LAB}"]["grade"], "same assignment, cells and checksums"
    assert _gradebook_contents(db)["students"] == ["ada"], "the instructor's gradebook is left as it was"
    assert _template_from_gradebook(db, [LAB, "lab9_missing"], tmp_path / "mine") is None
    assert _template_from_gradebook(tmp_path / "no.db", [LAB], tmp_path / "mine") is None
