"""Finding the submissions to grade, wherever they came from.

Three layouts, all giving the same :class:`Submission` list:

- nbgrader's course folder: ``submitted/<student_id>/<lab>/<lab>.ipynb`` (what ``nbgrader collect`` and
  ``zip_collect`` fill);
- nbgrader's exchange inbound folder: ``<student_id>+<lab>+<timestamp>[+<random>]/<lab>.ipynb`` (the
  latest timestamp of each student counts);
- a plain folder of ``<student_id>.ipynb`` files for one lab (students who worked on Colab and sent the
  downloaded notebook by mail or through an LMS).

A file that cannot be a submission (a bad student id, not a notebook) is reported, never fatal: the rest
of the class is still graded.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import KitError

__all__ = ["Submission", "Rejected", "find_submissions", "STUDENT_ID"]

STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
"""What a student id may look like (it becomes a folder name and a gradebook key)."""

MAX_NOTEBOOK_BYTES = 50 * 1024 * 1024
"""A submitted notebook larger than this is refused (outputs with images stay far below it)."""


@dataclass(frozen=True)
class Submission:
    """One student's notebook for one lab."""

    student: str
    """Student id (folder and gradebook key)."""
    lab: str
    """Lab (nbgrader assignment) id; the notebook is ``<lab>.ipynb``."""
    path: Path
    """The submitted notebook file."""
    timestamp: str | None = None
    """Submission time as nbgrader writes it (``timestamp.txt``), when known."""


@dataclass(frozen=True)
class Rejected:
    """A file that looked like a submission but cannot be graded, and why."""

    path: Path
    """The file or folder."""
    reason: str
    """What is wrong, in words."""


def _check_file(path: Path) -> str | None:
    try:
        size = path.stat().st_size
    except OSError as e:
        return f"cannot read it ({e.strerror})"
    if size > MAX_NOTEBOOK_BYTES:
        return f"{size:,} bytes: larger than the {MAX_NOTEBOOK_BYTES:,} a notebook may have"
    if size == 0:
        return "empty file"
    return None


def _timestamp(folder: Path) -> str | None:
    p = folder / "timestamp.txt"
    try:
        return p.read_text().strip() or None if p.is_file() else None
    except (OSError, UnicodeDecodeError):
        return None


def find_submissions(where: str | os.PathLike[str], labs: list[str], lab: str | None = None
                     ) -> tuple[list[Submission], list[Rejected]]:
    """The submissions under ``where`` for the given labs; ``lab`` names the lab of a plain folder of notebooks."""
    root = Path(where)
    if not root.is_dir():
        raise KitError(f"{root}: no such folder of submissions (give nbgrader's submitted/ folder, an exchange "
                       "inbound folder, or a folder of <student_id>.ipynb files with --lab)")
    subs: list[Submission] = []
    rejected: list[Rejected] = []
    flat = sorted(p for p in root.iterdir() if p.is_file() and p.suffix == ".ipynb")
    exchange = sorted(p for p in root.iterdir() if p.is_dir() and p.name.count("+") >= 2)
    nested = sorted(p for p in root.iterdir() if p.is_dir() and "+" not in p.name and not p.name.startswith("."))
    if flat:
        if lab is None:
            raise KitError(f"{root} holds notebooks named by student id: say which lab they are with --lab "
                           f"(one of {', '.join(labs)})")
        for p in flat:
            sid = p.stem
            problem = None if STUDENT_ID.match(sid) else (
                "the file name is not a student id (letters, digits, '.', '_', '-'; at most 64)")
            problem = problem or _check_file(p)
            if problem:
                rejected.append(Rejected(p, problem))
            else:
                subs.append(Submission(sid, lab, p))
    latest: dict[tuple[str, str], tuple[str, Path]] = {}
    for d in exchange:
        sid, alab, stamp = (d.name.split("+") + ["", ""])[:3]
        if alab not in labs or (lab is not None and alab != lab):
            continue
        nb = d / f"{alab}.ipynb"
        if not STUDENT_ID.match(sid) or not nb.is_file():
            rejected.append(Rejected(d, "not '<student>+<lab>+<timestamp>' with the lab's notebook inside"))
            continue
        if (sid, alab) not in latest or stamp > latest[(sid, alab)][0]:
            latest[(sid, alab)] = (stamp, d)
    for (sid, alab), (stamp, d) in sorted(latest.items()):
        nb = d / f"{alab}.ipynb"
        problem = _check_file(nb)
        if problem:
            rejected.append(Rejected(nb, problem))
        else:
            subs.append(Submission(sid, alab, nb, _timestamp(d) or stamp or None))
    for d in nested:
        for alab in labs:
            if lab is not None and alab != lab:
                continue
            nb = d / alab / f"{alab}.ipynb"
            if not nb.is_file():
                continue
            problem = None if STUDENT_ID.match(d.name) else "the folder name is not a student id"
            problem = problem or _check_file(nb)
            if problem:
                rejected.append(Rejected(nb, problem))
            else:
                subs.append(Submission(d.name, alab, nb, _timestamp(nb.parent)))
    seen: dict[tuple[str, str], Submission] = {}
    for s in subs:
        if (s.student, s.lab) in seen:
            rejected.append(Rejected(s.path, f"a second notebook for {s.student} in {s.lab} "
                                             f"(kept {seen[(s.student, s.lab)].path})"))
        else:
            seen[(s.student, s.lab)] = s
    return list(seen.values()), rejected
