"""One graded submission written into the instructor's gradebook and course folder.

The coordinator is the only writer of the instructor's SQLite gradebook, one result at a time. A result
replaces the student's earlier submission of that lab (autograde does the same), so merging it twice
leaves one submission with the same scores. Afterwards nbgrader's own ``generate_feedback``, ``export`` and
formgrader read the gradebook and ``autograded/`` as if ``nbgrader autograde`` had run here.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from ..files import atomic_write_bytes

__all__ = ["merge_result", "has_submission"]


def has_submission(db_url: str, lab: str, student: str) -> bool:
    """Whether the gradebook holds a submission of ``lab`` by ``student``."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(db_url) as gb:
        try:
            gb.find_submission(lab, student)
        except MissingEntry:
            return False
        return True


def merge_result(course: Path, db_url: str, result: dict[str, Any], submission_path: Path | None = None) -> None:
    """Write one successful worker result into the gradebook and ``autograded/<student>/<lab>/``."""
    from nbgrader.api import Gradebook, MissingEntry

    lab, student = result["lab"], result["student"]
    graded = course / "autograded" / student / lab
    for rel, data in result["files"].items():
        dest = (graded / rel).resolve()
        if graded.resolve() in dest.parents:
            atomic_write_bytes(dest, data)
    if submission_path is not None:
        # nbgrader's folders expect the submission under submitted/ too (formgrader links to it).
        dest = course / "submitted" / student / lab / f"{lab}.ipynb"
        if submission_path.resolve() != dest.resolve():
            atomic_write_bytes(dest, submission_path.read_bytes())
    with Gradebook(db_url) as gb:
        gb.update_or_create_student(student)
        try:
            gb.remove_submission(lab, student)
        except MissingEntry:
            pass
        stamp = dt.datetime.fromisoformat(result["timestamp"]) if result.get("timestamp") else None
        gb.add_submission(lab, student, **({"timestamp": stamp} if stamp else {}))
        for nb in result["notebooks"]:
            for name, g in nb["grades"].items():
                grade = gb.find_grade(name, nb["name"], lab, student)
                grade.auto_score = g["auto_score"]
                grade.needs_manual_grade = g["needs_manual_grade"]
            for name, text in nb["comments"].items():
                comment = gb.find_comment(name, nb["name"], lab, student)
                comment.auto_comment = text
            sub_nb = gb.find_submission_notebook(nb["name"], lab, student)
            sub_nb.late_submission_penalty = nb["late_submission_penalty"]
        gb.db.commit()
