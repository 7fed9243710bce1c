"""The graded labs, end to end with nbgrader's own commands, in a temporary copy of the course directory.

One round trip (module fixture): generate the student release, validate the source notebooks and the
release (the labs that train are left to autograde there), autograde four kinds of submission (made from the
solutions, the untouched release, a broken one with an exception, an endless loop, a deleted and an edited
test cell, and a noisy one whose graded cells write TensorFlow's log lines and other text to stderr),
generate feedback and export the grades to CSV. The tests then look at what each step produced.

Every nbgrader call runs with PATH reduced to the system's (/usr/bin:/bin), as on a fresh clone whose venv is
not activated: the kit's nbgrader_env() is what makes nbgrader find its `alembic`.
"""
from __future__ import annotations

import copy
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import nbformat
import pytest

from tinymlkit.grading.env import nbgrader_command, nbgrader_env
from tinymlkit.grading.labs import CACHE_ENV

ROOT = Path(__file__).resolve().parents[1]
LABS = ROOT / "labs"
LAB_IDS = sorted(p.name for p in (LABS / "source").iterdir() if (p / f"{p.name}.ipynb").is_file())
LIGHT_LAB = "lab1_audio_features"  # no TensorFlow: the broken submissions are made on it
NOISY_LAB = "lab4_quantization"  # the lightest lab with TensorFlow: the stderr submissions are made on it
# `nbgrader validate` (source) and `validate --invert` (release) run on these labs only; see the fixture.
VALIDATED_LABS = (LIGHT_LAB,)
LOOP_TIMEOUT = 30  # seconds per cell for the broken submission (the course config says 120)
GRADING_CACHE = "grading-cache"  # in the course copy: TINYMLKIT_GRADING_CACHE of the fixture's nbgrader calls

# The module fixture autogrades every lab's submissions once (about 10-15 minutes on 2 busy cores): the
# first test that uses it carries that time, so the per-test limit of pyproject.toml (900 s) is too short.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(2700)]


def _nbgrader(course: Path, *args: str, check: bool = True, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run(nbgrader_command(*args), cwd=course, capture_output=True, text=True,
                          env=env or _env(course), timeout=2400)
    if check and proc.returncode != 0:
        raise AssertionError(f"nbgrader {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")
    return proc


SYSTEM_PATH = "/usr/bin:/bin"


def _env(course: Path | None = None) -> dict[str, str]:
    # The system's PATH only (no venv bin on it): nbgrader_env must be what lets nbgrader find `alembic`.
    env = nbgrader_env({**os.environ, "PATH": SYSTEM_PATH})
    env.pop(CACHE_ENV, None)
    if course is not None:  # one grading cache per course copy, as `tinymlkit grade` has one per run
        env[CACHE_ENV] = str(course / GRADING_CACHE)
    return env


def _nb(path: Path) -> Any:
    return nbformat.read(path, as_version=4)


def _meta(cell: Any) -> dict[str, Any]:
    return cell.metadata.get("nbgrader", {})


def _solved_from(release: Any, source: Any) -> Any:
    """A submission: the release with every answer cell filled in from the instructor's solution."""
    nb = copy.deepcopy(release)
    answers = {_meta(c)["grade_id"]: c.source for c in source.cells if _meta(c).get("solution")}
    for c in nb.cells:
        if _meta(c).get("solution"):
            c.source = "\n".join(line for line in answers[_meta(c)["grade_id"]].splitlines()
                                 if "### BEGIN SOLUTION" not in line and "### END SOLUTION" not in line)
    return nb


def _cell(nb: Any, grade_id: str) -> Any:
    return next(c for c in nb.cells if _meta(c).get("grade_id") == grade_id)


def _broken_from(solved: Any) -> Any:
    """Lab 1 submission that does everything a grader must survive."""
    nb = copy.deepcopy(solved)
    # 1. An exception: power_spectrogram raises.
    _cell(nb, "power_spectrogram").source = (
        "def power_spectrogram(x, n_fft, hop_length):\n    raise RuntimeError('student bug')")
    # 2. An endless loop in the last answer cell: the timeout must stop it; its test scores 0. It sleeps (as in
    # tests/test_grading.py): the timeout interrupts it the same way, and its 30 s cost wall time, not the CPU the
    # other test worker needs.
    _cell(nb, "log_mel").source = "import time\nwhile True:\n    time.sleep(0.2)"
    # 3. A deleted test cell (the answer above it is right): autograde must put it back and give the points.
    nb.cells = [c for c in nb.cells if _meta(c).get("grade_id") != "test_frame_signal"]
    # 4. A wrong answer whose test cell was edited to pass: the original test must be restored (0 points).
    _cell(nb, "hann_window").source = "def hann_window(n):\n    return np.hanning(n)"
    _cell(nb, "test_hann_window").source = "print('all tests passed')"
    return nb


def _noisy_from(solved: Any) -> Any:
    """Lab 4 submission with right answers whose graded cells write to stderr.

    test_choose_quant_params: the answer turns TensorFlow's logging back on and makes TensorFlow itself log
    ("INFO:tensorflow:Assets written to ...") when the test calls it; IgnorePattern must keep the 3 points.
    test_quantize: dequantize writes its own debug line to stderr; nbgrader scores that cell 0 (4 points).
    """
    nb = copy.deepcopy(solved)
    c = _cell(nb, "choose_quant_params")
    c.source += (
        "\n\n_choose_quant_params = choose_quant_params\n\n"
        "def choose_quant_params(rmin, rmax):\n"
        "    import tempfile\n"
        "    import tensorflow as tf\n"
        "    tf.get_logger().setLevel('INFO')  # logging back on, then something TensorFlow logs about\n"
        "    module = tf.Module()\n"
        "    module.v = tf.Variable(1.0)\n"
        "    tf.saved_model.save(module, tempfile.mkdtemp())\n"
        "    return _choose_quant_params(rmin, rmax)\n")
    c = _cell(nb, "quantize")  # dequantize: only test_quantize calls it (model_input reuses quantize)
    c.source += (
        "\n\n_dequantize = dequantize\n\n"
        "def dequantize(q, scale, zero_point):\n"
        "    import sys\n"
        "    print(f'debug: dequantizing {np.size(q)} values', file=sys.stderr)\n"
        "    return _dequantize(q, scale, zero_point)\n")
    return nb


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Run the whole instructor workflow once in a temporary course directory; return what it made.

    The autograde calls share one grading cache (TINYMLKIT_GRADING_CACHE, a folder in the course copy), as
    `tinymlkit grade` gives every notebook of a run one: what every submission of a lab needs and no answer
    changes (lab 6's pre-trained base, lab 3's converted MobileNet, lab 7's trained keyword model) is computed by the first notebook that
    needs it and loaded by the others. The validations run without it, as a student's own `nbgrader validate`.
    """
    course = tmp_path_factory.mktemp("course")
    shutil.copy(LABS / "nbgrader_config.py", course)
    shutil.copytree(LABS / "source", course / "source")
    times: dict[str, float] = {}
    t0 = time.perf_counter()
    _nbgrader(course, "generate_assignment", "*", "--create", "--force")
    times["generate_assignment"] = time.perf_counter() - t0

    for lab in LAB_IDS:
        release = _nb(course / "release" / lab / f"{lab}.ipynb")
        source = _nb(course / "source" / lab / f"{lab}.ipynb")
        solved = _solved_from(release, source)
        subs = {"solved": solved, "untouched": release}
        if lab == LIGHT_LAB:
            subs["broken"] = _broken_from(solved)
        if lab == NOISY_LAB:
            subs["noisy"] = _noisy_from(solved)
            # The same notebook graded without IgnorePattern: shows the TensorFlow lines really reached stderr.
            subs["noisy_raw"] = subs["noisy"]
        for student, nb in subs.items():
            d = course / "submitted" / student / lab
            d.mkdir(parents=True)
            nbformat.write(nb, d / f"{lab}.ipynb")

    # The two validations touch no gradebook: run them beside the main autograde (2 cores). Only the light lab is
    # validated (the command and the course config work for students): for every lab, autograde of the solved
    # submission runs the same notebook with the same tests (hidden ones restored) and must give full marks, and
    # the untouched release must score 0 in every graded cell, which is what the two validations would prove again.
    t0 = time.perf_counter()
    src = [str(course / "source" / lab / f"{lab}.ipynb") for lab in VALIDATED_LABS]
    rel = [str(course / "release" / lab / f"{lab}.ipynb") for lab in VALIDATED_LABS]
    validations = {
        "source": subprocess.Popen(nbgrader_command("validate", *src), cwd=course,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=_env()),
        "release": subprocess.Popen(nbgrader_command("validate", "--invert", *rel), cwd=course,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=_env()),
    }
    t1 = time.perf_counter()
    main = _nbgrader(course, "autograde", "*", "--create", "--CourseDirectory.student_id_exclude=broken,noisy_raw")
    times["autograde solved + untouched (all labs) + noisy lab 4"] = time.perf_counter() - t1
    t1 = time.perf_counter()
    _nbgrader(course, "autograde", NOISY_LAB, "--student=noisy_raw", "--create", "--IgnorePattern.enabled=False")
    times["autograde noisy lab 4 without IgnorePattern"] = time.perf_counter() - t1
    t1 = time.perf_counter()
    broken = _nbgrader(course, "autograde", LIGHT_LAB, "--student=broken", "--create",
                       f"--Execute.timeout={LOOP_TIMEOUT}")
    times["autograde broken lab 1"] = time.perf_counter() - t1
    outputs = {k: p.communicate(timeout=2400)[0] for k, p in validations.items()}
    times["validate + autograde (parallel)"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    _nbgrader(course, "generate_feedback", "*")
    _nbgrader(course, "export", "--to", "grades.csv")
    times["feedback + export"] = time.perf_counter() - t0
    print("\nlabs round trip (s):", json.dumps({k: round(v, 1) for k, v in times.items()}))
    return {"dir": course, "validate": outputs, "broken_log": broken.stdout + broken.stderr, "times": times,
            "main_log": main.stdout + main.stderr,
            "cache": sorted(p.name for p in (course / GRADING_CACHE).glob("*.npz"))}


def _scores(course: Path, lab: str, student: str) -> tuple[dict[str, float], float, float]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        sub = gb.find_submission_notebook(lab, lab, student)
        cells = {g.name: g.score for g in sub.grades}
        return cells, sub.score, sub.max_score


def test_release_equals_committed_release(course: dict[str, Any]) -> None:
    """labs/release/ (what the Colab badges open) is exactly what generate_assignment makes from the source."""
    for lab in LAB_IDS:
        fresh = _nb(course["dir"] / "release" / lab / f"{lab}.ipynb")
        committed_path = LABS / "release" / lab / f"{lab}.ipynb"
        assert committed_path.is_file(), f"{committed_path} is missing: run `make release` in labs/"
        # Compared as notebooks: a tool that rewrites multi-line sources as one string changes nothing.
        assert _nb(committed_path) == fresh, (
            f"{committed_path} differs from a fresh `nbgrader generate_assignment {lab}`: run `make release` in labs/")
    committed = sorted(p.name for p in (LABS / "release").iterdir() if p.is_dir())
    assert committed == LAB_IDS


def test_release_has_no_solution_and_no_hidden_test(course: dict[str, Any]) -> None:
    """Nothing of a solution region or a hidden test survives in any cell or in the metadata."""
    assert len(LAB_IDS) >= 6
    for lab in LAB_IDS:
        source = _nb(course["dir"] / "source" / lab / f"{lab}.ipynb")
        text = (course["dir"] / "release" / lab / f"{lab}.ipynb").read_text()
        release = _nb(course["dir"] / "release" / lab / f"{lab}.ipynb")
        for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
            assert marker not in text, f"{lab}: release contains {marker!r}"
        secret_lines = set()
        for c in source.cells:
            inside = False
            for line in c.source.splitlines():
                if re.search(r"### (BEGIN|END) (SOLUTION|HIDDEN TESTS)", line):
                    inside = "BEGIN" in line
                    continue
                if inside and len(line.strip()) > 25:  # long enough to be specific to the secret part
                    secret_lines.add(line.strip())
        assert secret_lines, f"{lab}: no solution or hidden-test lines found in the source"
        for c in release.cells:
            blob = c.source + json.dumps(c.metadata) + json.dumps(c.get("outputs", []))
            leaked = [s for s in secret_lines if s in blob]
            assert not leaked, f"{lab}: release cell {_meta(c).get('grade_id')} leaks {leaked[:3]}"
            assert not c.get("outputs"), f"{lab}: release cell {_meta(c).get('grade_id')} has outputs"
        graded = [c for c in release.cells if _meta(c).get("grade")]
        answers = [c for c in release.cells if _meta(c).get("solution")]
        assert graded and answers, f"{lab}: no graded or answer cells in the release"
        assert all("raise NotImplementedError()" in c.source for c in answers)


def test_source_notebooks_pass_validate(course: dict[str, Any]) -> None:
    """`nbgrader validate` passes the light lab's source notebook (the others: test_solutions_get_full_marks)."""
    out = course["validate"]["source"]
    # One segment per notebook, each starting at its "Validating '...'" line: name the ones that failed.
    parts = re.split(r"(?=\[ValidateApp \| INFO\] Validating ')", out)
    failed = [p[:2000] + "\n...\n" + p[-3000:] for p in parts
              if "Validating '" in p and "Success! Your notebook passes all the tests." not in p]
    assert not failed and out.count("Success! Your notebook passes all the tests.") == len(VALIDATED_LABS), (
        "\n\n".join(failed) or out[-4000:])


def test_release_fails_validate_in_every_graded_cell(course: dict[str, Any]) -> None:
    """`nbgrader validate --invert` on the light lab's release: every graded cell fails until the student answers.

    Every lab's release is checked the same way by test_untouched_release_gets_zero (autograde scores 0 in each cell).
    """
    out = course["validate"]["release"]
    assert out.count("Success! The notebook does not pass any tests.") == len(VALIDATED_LABS), out[-4000:]


def test_solutions_get_full_marks(course: dict[str, Any]) -> None:
    """A submission made from the solutions scores every point of every lab."""
    for lab in LAB_IDS:
        cells, score, max_score = _scores(course["dir"], lab, "solved")
        assert max_score >= 10
        assert score == max_score, f"{lab}: solutions scored {score}/{max_score}: {cells}"


def test_values_every_submission_needs_are_computed_once(course: dict[str, Any]) -> None:
    """The fixture's autograde shares a grading cache: one stored lab 6 base and one lab 7 keyword model for all
    their submissions (and no more); lab 8 stores its set and model once and its held-out clips once."""
    cached = course["cache"]
    assert len([n for n in cached if n.startswith("pretrained_base")]) == 1, cached
    assert len([n for n in cached if n.startswith("lab3")]) == 1, cached
    assert len([n for n in cached if n.startswith("pretrained_kws")]) == 1, cached
    assert len([n for n in cached if n.startswith("anomaly_lab_set")]) == 1, cached
    assert len([n for n in cached if n.startswith("machine_clip_frames")]) == 1, cached
    assert len(cached) == 5, cached


def test_untouched_release_gets_zero(course: dict[str, Any]) -> None:
    """The release as handed out scores 0, and autograde finished it (every graded cell has a score)."""
    for lab in LAB_IDS:
        cells, score, max_score = _scores(course["dir"], lab, "untouched")
        assert score == 0 and max_score > 0, f"{lab}: untouched release scored {score}: {cells}"
        assert all(v == 0 for v in cells.values()) and cells


def test_broken_submission_is_graded(course: dict[str, Any]) -> None:
    """Exception, endless loop, deleted and edited test cells: graded, not crashed, tests restored."""
    cells, score, _ = _scores(course["dir"], LIGHT_LAB, "broken")
    assert cells["test_frame_signal"] == 2, "the deleted test cell should be restored and pass (right answer)"
    assert cells["test_hann_window"] == 0, "the edited test cell should be restored and fail (wrong answer)"
    assert cells["test_power_spectrogram"] == 0, "an answer that raises scores 0"
    assert cells["test_log_mel"] == 0, "the endless loop is stopped and its test scores 0"
    assert cells["test_mel_scale"] == 1 and cells["test_mel_filterbank"] == 2
    assert score == 5
    graded = _nb(course["dir"] / "autograded" / "broken" / LIGHT_LAB / f"{LIGHT_LAB}.ipynb")
    assert "CellTimeoutError" in json.dumps([c.get("outputs", []) for c in graded.cells]), "no timeout recorded"
    restored = _cell(graded, "test_hann_window").source
    assert "hann_window(4)" in restored and "scipy.signal" in restored, "the edited test (hidden part included) was not restored"
    assert "was missing from the submission" in _cell(graded, "test_frame_signal").source
    feedback = course["dir"] / "feedback" / "broken" / LIGHT_LAB / f"{LIGHT_LAB}.html"
    assert feedback.is_file() and "student bug" in feedback.read_text()


def test_tensorflow_log_lines_do_not_cost_points(course: dict[str, Any]) -> None:
    """TensorFlow's own log lines on stderr in a graded cell: full marks (IgnorePattern); other stderr: 0."""
    cells, score, max_score = _scores(course["dir"], NOISY_LAB, "noisy")
    assert cells["test_choose_quant_params"] == 3, f"TensorFlow's log lines cost the right answer its points: {cells}"
    assert cells["test_model_input"] == 3, cells
    assert cells["test_quantize"] == 0, f"a cell writing the student's own text to stderr should score 0: {cells}"
    assert score == max_score - 4
    # The control: without IgnorePattern the same submission loses the TensorFlow cell too, so the log lines
    # really were on stderr (and the test above can fail).
    raw, _, _ = _scores(course["dir"], NOISY_LAB, "noisy_raw")
    assert raw["test_choose_quant_params"] == 0 and raw["test_quantize"] == 0, raw
    graded = _nb(course["dir"] / "autograded" / "noisy_raw" / NOISY_LAB / f"{NOISY_LAB}.ipynb")
    err = "".join(o.get("text", "") for o in _cell(graded, "test_choose_quant_params").outputs
                  if o.get("name") == "stderr")
    assert "INFO:tensorflow:Assets written to" in err, err[-2000:]


def test_export_csv(course: dict[str, Any]) -> None:
    """`nbgrader export` writes one row per student and lab with the scores the gradebook holds."""
    with open(course["dir"] / "grades.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    got = {(r["assignment"], r["student_id"]): (float(r["score"]), float(r["max_score"])) for r in rows}
    for lab in LAB_IDS:
        _, score, max_score = _scores(course["dir"], lab, "solved")
        assert got[(lab, "solved")] == (score, max_score)
        assert got[(lab, "untouched")] == (0.0, max_score)
    assert got[(LIGHT_LAB, "broken")][0] == 5.0
    assert {"lab2_train_kws", "lab6_vww_transfer"} <= {a for a, _ in got}


def _hidden_lines(source: Any, release_text: str) -> set[str]:
    """Lines of the hidden-test regions specific enough to identify them (not also in the release)."""
    out, visible = set(), []
    for c in source.cells:
        inside = False
        for line in c.source.splitlines():
            if "BEGIN HIDDEN TESTS" in line:
                inside = True
            elif "END HIDDEN TESTS" in line:
                inside = False
            elif inside and len(line.strip()) > 20 and line.strip() not in release_text:
                out.add(line.strip())
            elif not inside:
                visible.append(line.strip())
    # A line that the solution itself also holds shows up in a correct student's own answer: not a leak.
    return out - set(visible)


def _plain_html(path: Path) -> str:
    import html

    return html.unescape(re.sub(r"<[^>]+>", "", path.read_text()))


def test_feedback_has_no_hidden_tests(course: dict[str, Any]) -> None:
    """No feedback file of any lab holds a hidden test's source, seed or delimiter (searched as rendered text)."""
    checked = 0
    for lab in LAB_IDS:
        source = _nb(course["dir"] / "source" / lab / f"{lab}.ipynb")
        release = _nb(course["dir"] / "release" / lab / f"{lab}.ipynb")
        secrets = _hidden_lines(source, "\n".join(c.source for c in release.cells))
        seeds = set(re.findall(r"default_rng\(\d+\)", "\n".join(secrets)))
        assert secrets, f"{lab}: no hidden-test lines found in the source"
        pages = sorted((course["dir"] / "feedback").glob(f"*/{lab}/*.html"))
        assert len(pages) >= 2, f"{lab}: feedback missing: {pages}"
        for page in pages:
            text = _plain_html(page)
            leaked = [s for s in secrets | seeds if s in text] + [m for m in ("BEGIN HIDDEN", "END HIDDEN") if m in text]
            assert not leaked, f"{page.relative_to(course['dir'])} shows hidden tests: {leaked[:3]}"
            checked += 1
    assert checked >= 2 * len(LAB_IDS)


def test_no_checksum_warning_without_a_real_edit(course: dict[str, Any]) -> None:
    """Untouched and solved submissions restore without nbgrader's checksum warning; a real edit still warns."""
    assert "Attribute 'checksum'" not in course["main_log"], re.findall(r".*Attribute 'checksum'.*", course["main_log"])[:3]
    assert "Attribute 'checksum' for cell test_hann_window has changed" in course["broken_log"]


def test_tamper_report_of_the_broken_submission(course: dict[str, Any]) -> None:
    """The edited and the deleted test cell of the broken submission are both reported, nothing else."""
    from tinymlkit.grading.tamper import tamper_report

    release = json.loads((course["dir"] / "release" / LIGHT_LAB / f"{LIGHT_LAB}.ipynb").read_text())
    submitted = json.loads((course["dir"] / "submitted" / "broken" / LIGHT_LAB / f"{LIGHT_LAB}.ipynb").read_text())
    found = {(f.grade_id, f.change) for f in tamper_report(release, submitted)}
    assert found == {("test_hann_window", "edited"), ("test_frame_signal", "deleted")}, found


def test_feedback_names_the_cell_that_ran_out_of_time(course: dict[str, Any]) -> None:
    text = _plain_html(course["dir"] / "feedback" / "broken" / LIGHT_LAB / f"{LIGHT_LAB}.html")
    assert "cell log_mel ran out of time" in text, text[-3000:]


def _lab_sources() -> list[Path]:
    return [LABS / "source" / lab / f"{lab}.ipynb" for lab in LAB_IDS]


@pytest.mark.parametrize("path", _lab_sources(), ids=lambda p: p.parent.name)
def test_lab_setup_and_test_cells_only_call_the_library(path: Path) -> None:
    """The notebook-logic guard of tests/test_course.py, on every cell that is not an answer: public tinymlkit
    names only, no function longer than 5 lines, and the one fast-mode switch."""
    import ast
    import importlib

    def public(module: str, name: str) -> bool:
        mod = importlib.import_module(module)
        return not name.startswith("_") and (name in getattr(mod, "__all__", ()) or
                                             importlib.util.find_spec(f"{module}.{name}") is not None)

    nb = _nb(path)
    for c in nb.cells:
        if c.cell_type != "code" or _meta(c).get("solution"):
            continue
        src = "\n".join(ln for ln in c.source.splitlines() if not ln.lstrip().startswith(("%", "!")))
        for node in ast.walk(ast.parse(src)):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("tinymlkit"):
                for alias in node.names:
                    assert public(node.module, alias.name), f"{path.name}: {node.module}.{alias.name} is not public"
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                assert node.end_lineno - node.lineno <= 5, f"{path.name}: function {node.name} belongs in tinymlkit"
    setup = _cell(nb, "setup-02").source
    assert "fast_mode()" in setup and "TINYMLKIT_FAST" not in re.sub(r"#.*", "", setup), (
        f"{path.name}: use tinymlkit.course.fast_mode(), the one rule for TINYMLKIT_FAST")
    assert "os.environ.get(\"TINYMLKIT_FAST\")" not in path.read_text()


def test_mobilenet_base_cut_after_n_blocks() -> None:
    """mobilenet_v1_base(blocks=N) keeps the first N separable blocks under their usual names (lab 6's base)."""
    from tinymlkit.models.mobilenet import MOBILENET_V1_BLOCKS, mobilenet_v1_base

    cut = mobilenet_v1_base((32, 32, 1), 0.25, blocks=5)
    assert cut.layers[-1].name == "conv_pw_5_relu" and not any(l.name == "conv_dw_6" for l in cut.layers)
    assert cut.output_shape[1:] == (4, 4, 64)  # 32 -> 16 (conv1) -> 8 (block 2) -> 4 (block 4); 256 * 0.25 filters
    full = mobilenet_v1_base((32, 32, 1), 0.25)
    assert full.layers[-1].name == f"conv_pw_{len(MOBILENET_V1_BLOCKS)}_relu"
    assert [w.shape for w in cut.get_weights()] == [w.shape for w in full.get_weights()][:len(cut.get_weights())]
    for bad in (0, 14, 2.5, True):
        with pytest.raises(ValueError):
            mobilenet_v1_base((32, 32, 1), 0.25, blocks=bad)
