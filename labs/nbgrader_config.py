"""nbgrader settings for the TinyML Course Kit labs (this folder is the course directory)."""
c = get_config()  # noqa: F821 - provided by nbgrader when it loads this file

c.CourseDirectory.course_id = "tinyml-course-kit"
# The gradebook lives in this folder (git-ignored); `make db` registers the students.
c.CourseDirectory.db_url = "sqlite:///gradebook.db"

# Every cell gets at most this long when nbgrader runs a notebook (validate and autograde): an endless
# loop in a submission is interrupted, scored 0 and the rest of the notebook still runs. The training
# cells run in fast mode under nbgrader (NBGRADER_EXECUTION is set), well inside this limit.
c.Execute.timeout = 120
c.Execute.interrupt_on_timeout = True
# After a cell's code finishes, nbclient waits this long for its last output message. Its 4-s default made
# `nbgrader validate` fail a setup cell with "Timeout waiting for IOPub output" on a busy 2-core machine.
c.Execute.iopub_timeout = 30

# The kit's preprocessors (tinymlkit.grading.nbgrader_plugins), used by nbgrader's own commands:
# - a budget for the whole notebook on top of the per-cell timeout: a submission that loops in every graded
#   cell costs at most this long; the cell that ran out of time says so, and cells after it are not run;
# - test cells restored without the false "Attribute 'checksum' ... has changed!" for untouched submissions
#   (only a real edit still warns; `tinymlkit grade` lists every edit in reports/tamper_report.json);
# - feedback without hidden tests: their source, seeds and any traceback through them are removed.
# The graded (fast) run of the slowest lab (6) takes about a minute; the budget leaves room for a loaded machine.
try:
    from tinymlkit.grading.nbgrader_plugins import configure
except ImportError:  # nbgrader run from an environment without the kit: plain nbgrader behaviour
    pass
else:
    configure(c, notebook_budget=300)

# A grade cell that writes anything to stderr is scored 0 by nbgrader. TensorFlow, Keras and absl log
# to stderr (C++ INFO/WARNING lines, deprecation notes), which must not cost a correct answer points:
# autograde drops stderr output that looks like theirs. (Error tracebacks are not stream output and
# still count.) nbgrader removes a whole stderr output when the pattern matches anywhere in it (re.search):
# a student's own stderr text scores 0 unless it arrives in the same output as a log line or contains one of
# the words below. tests/test_labs.py checks both sides.
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = (
    r"(?m)(^[IWEF]\d{4} \d\d:\d\d:\d\d"              # absl C++ log prefix: W0000 00:00:...
    r"|^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IWEF] "  # TensorFlow C++ log prefix
    r"|WARNING: All log messages before absl"
    r"|tensorflow|keras|tflite|litert|oneDNN|cuda|absl)"
)

# A student who deletes a test cell does not escape it: autograde puts it back from the source.
c.OverwriteCells.add_missing_cells = True

# Keep long outputs (training logs) from bloating graded notebooks and feedback.
c.LimitOutput.max_lines = 200

# Make the student version: solutions and hidden tests removed, outputs cleared.
c.ClearSolutions.code_stub = {"python": "raise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# LMS downloads (`nbgrader zip_collect`): Canvas-style file names
# "<login>_<user id>_<submission id>_<notebook>.ipynb" (an optional "LATE_" after the login).
c.ZipCollectApp.collector_plugin = "nbgrader.plugins.zipcollect.FileNameCollectorPlugin"
c.FileNameCollectorPlugin.named_regexp = (
    r"^(?P<student_id>[A-Za-z0-9.-]+)_(?:LATE_)?\d+_\d+_(?P<file_id>.+)$"
)
