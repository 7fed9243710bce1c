"""nbgrader preprocessors for grading a class: a time budget, quiet test restoring, feedback without secrets.

Loaded by ``labs/nbgrader_config.py`` through :func:`configure`, so nbgrader's own commands (``autograde``,
``generate_feedback``, formgrader) use them; nothing here runs a notebook by itself.

- :class:`BudgetedExecute`: nbgrader's ``Execute`` with a per-notebook budget on top of the per-cell
  timeout. A looping submission costs at most the budget; the cell that ran out of time says so, and the
  cells after it are marked as not run (a graded one scores 0).
- :class:`QuietOverwriteCells`: nbgrader's ``OverwriteCells``, which restores every locked cell from the
  gradebook. The gradebook's checksum of a test cell includes its hidden tests, which the release lacks,
  so nbgrader warned ``Attribute 'checksum' ... has changed!`` for every untouched submission. A cell equal
  to its release version is restored before the comparison; only a real edit still warns. A deleted test
  cell is put back after the nearest earlier cell still there (nbgrader's own code fails on a text cell).
- :class:`HideHiddenTests`: for ``generate_feedback``: removes hidden-test regions from the source
  (nbgrader's ``ClearHiddenTests``) and scrubs the outputs of the same cells, so neither the hidden code,
  its seeds nor a traceback through it reaches a student.
"""
from __future__ import annotations

import copy
import re
import time
from typing import Any

from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbformat.notebooknode import NotebookNode
from nbgrader.api import MissingEntry
from nbgrader.preprocessors import ClearHiddenTests, Execute, GetGrades, OverwriteCells
from traitlets import Float

__all__ = ["BudgetedExecute", "QuietOverwriteCells", "HideHiddenTests", "configure", "TIMEOUT_ERROR",
           "BUDGET_ERROR", "hidden_line_numbers"]

TIMEOUT_ERROR = "CellTimeoutError"
"""ename of a cell stopped by the per-cell timeout or the notebook budget (nbgrader's own name)."""
BUDGET_ERROR = "NotebookTimeBudgetError"
"""ename written into cells that were not run because the notebook's budget was used up."""

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_CELL_FRAME = re.compile(r"Cell In\s*\[\d*\],\s*line (\d+)")


class BudgetedExecute(Execute):
    """nbgrader's Execute with a time budget for the whole notebook on top of the per-cell timeout."""

    notebook_budget = Float(
        0.0, help="Seconds the whole notebook may run (0: no budget, only the per-cell timeout)."
    ).tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: Any = None, km: Any = None) -> Any:
        """Run the notebook with the budget's clock starting at its first cell."""
        self._budget_start: float | None = None
        self._budget_spent_by: str | None = None
        return super().preprocess(nb, resources, km)

    def _remaining(self) -> float | None:
        if not self.notebook_budget or self.notebook_budget <= 0:
            return None
        if getattr(self, "_budget_start", None) is None:
            return float(self.notebook_budget)
        return self.notebook_budget - (time.monotonic() - self._budget_start)

    def _get_timeout(self, cell: NotebookNode | None) -> int | None:
        per_cell = super()._get_timeout(cell)
        remaining = self._remaining()
        name = _cell_name(cell)
        if remaining is not None and (per_cell is None or remaining < per_cell):
            self.error_on_timeout = {
                "ename": TIMEOUT_ERROR,
                "evalue": (f"cell {name} ran out of time: the notebook's budget of {self.notebook_budget:.0f} s "
                           "was used up while it ran"),
                "traceback": [f"{TIMEOUT_ERROR}: cell {name} ran out of time (notebook budget "
                              f"{self.notebook_budget:.0f} s used up)"]}
            self._budget_spent_by = name
            return max(1, int(remaining + 0.999))
        self.error_on_timeout = {
            "ename": TIMEOUT_ERROR,
            "evalue": f"cell {name} ran out of time: it ran longer than the {per_cell} s allowed per cell",
            "traceback": [f"{TIMEOUT_ERROR}: cell {name} ran out of time ({per_cell} s per cell)"]}
        return per_cell

    def preprocess_cell(self, cell: NotebookNode, resources: Any, index: int) -> Any:
        """Run one cell, or mark it as not run when the budget is already used up."""
        if getattr(self, "_budget_start", None) is None:
            self._budget_start = time.monotonic()
        remaining = self._remaining()
        if cell.cell_type == "code" and remaining is not None and remaining <= 0 and cell.source.strip():
            by = getattr(self, "_budget_spent_by", None)
            cell.outputs = [NotebookNode(
                output_type="error", ename=BUDGET_ERROR,
                evalue=(f"not run: the notebook's time budget of {self.notebook_budget:.0f} s was used up"
                        + (f" (cell {by} ran out of time)" if by else "")),
                traceback=[f"{BUDGET_ERROR}: not run, the notebook's {self.notebook_budget:.0f} s were used up"])]
            cell.execution_count = None
            return cell, resources
        return super().preprocess_cell(cell, resources, index)


def _cell_name(cell: NotebookNode | None) -> str:
    if cell is None:
        return "?"
    gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
    return str(gid) if gid else f"(id {cell.get('id', '?')})"


class QuietOverwriteCells(OverwriteCells):
    """nbgrader's OverwriteCells without the false checksum warning for test cells left as released."""

    def preprocess_cell(self, cell: NotebookNode, resources: Any, cell_index: int) -> Any:
        """Restore an untouched locked cell's hidden tests first, then let nbgrader check and restore."""
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id is not None:
            try:
                source_cell = self.gradebook.find_source_cell(grade_id, self.notebook_id, self.assignment_id)
            except MissingEntry:
                source_cell = None
            if source_cell is not None and source_cell.locked and cell.source == released_source(
                    source_cell.source, source_cell.cell_type, grade_id):
                cell.source = source_cell.source
        return super().preprocess_cell(cell, resources, cell_index)

    def add_missing_grade_cells(self, nb: NotebookNode, resources: Any) -> tuple[NotebookNode, Any]:
        """Put each deleted grade cell back after the nearest earlier cell the submission still has.

        nbgrader's own version looks only at the source cell just before the deleted one and expects it to be
        an answer or a test: when it is a read-only text cell (lab 1's rules paragraph before its rule test),
        it fails with a KeyError and the whole submission goes ungraded.
        """
        source_nb = self.gradebook.find_notebook(self.notebook_id, self.assignment_id)
        source_cells = source_nb.source_cells
        order = [c.name for c in source_cells]
        grade_cells = {c.name: c for c in source_nb.grade_cells}
        solution_ids = {c.name for c in source_nb.solution_cells}
        for k, name in enumerate(order):
            if name not in grade_cells:
                continue
            present = {c.metadata["nbgrader"]["grade_id"]: i for i, c in enumerate(nb.cells)
                       if c.metadata.get("nbgrader", {}).get("grade_id")}
            if name in present:
                continue
            self.log.warning(f"Missing grade cell {name} encountered, adding to notebook")
            at = next((present[prev] + 1 for prev in reversed(order[:k]) if prev in present), 0)
            nb.cells.insert(at, self.missing_cell_transform(source_cells[k], grade_cells[name].max_score,
                                                            is_solution=name in solution_ids))
        return nb, resources


def released_source(source: str, cell_type: str, grade_id: str) -> str:
    """A cell's source as generate_assignment releases it: hidden-test regions removed."""
    cell = NotebookNode(cell_type=cell_type, source=source, metadata=NotebookNode(
        nbgrader=NotebookNode(grade=True, grade_id=grade_id, locked=True, solution=False, points=0)))
    if cell_type == "code":
        cell.outputs, cell.execution_count = [], None
    out, _ = ClearHiddenTests().preprocess_cell(cell, {}, 0)
    return out.source


def hidden_line_numbers(source: str, begin: str = "BEGIN HIDDEN TESTS", end: str = "END HIDDEN TESTS") -> set[int]:
    """1-based numbers of the lines inside hidden-test regions, delimiters included."""
    hidden: set[int] = set()
    inside = False
    for n, line in enumerate(source.splitlines(), start=1):
        if begin in line:
            inside = True
        if inside:
            hidden.add(n)
        if end in line:
            inside = False
    return hidden


class HideHiddenTests(ClearHiddenTests):
    """Feedback without secrets: hidden-test source removed, and no output that shows or runs through it."""

    def preprocess_cell(self, cell: NotebookNode, resources: Any, cell_index: int) -> Any:
        """Scrub the outputs of a cell with hidden tests, then drop the hidden regions from its source."""
        if cell.cell_type == "code" and self.begin_test_delimeter in cell.source:
            lines = cell.source.splitlines()
            hidden = hidden_line_numbers(cell.source, self.begin_test_delimeter, self.end_test_delimeter)
            secret = {ln.strip() for i, ln in enumerate(lines, start=1) if i in hidden and len(ln.strip()) >= 8}
            count = cell.get("execution_count")
            cell.outputs = [_scrub(o, hidden, secret, count) for o in cell.get("outputs", [])]
        return super().preprocess_cell(cell, resources, cell_index)


def _scrub(output: NotebookNode, hidden: set[int], secret: set[str], count: int | None) -> NotebookNode:
    out = copy.deepcopy(output)
    if out.get("output_type") == "error":
        plain = [_ANSI.sub("", t) for t in out.get("traceback", [])]
        # Frames of this cell only ("Cell In[<its execution count>], line N"): a student's function defined
        # in another cell has frames of its own, whose line numbers say nothing about this cell.
        frame = re.compile(rf"Cell In\s*\[{count}\],\s*line (\d+)") if count is not None else _CELL_FRAME
        last = [int(m) for t in plain for m in frame.findall(t)]
        if (last and last[-1] in hidden) or (not last and any(s in "\n".join(plain) for s in secret)):
            first = next((ln.strip() for ln in str(out.get("evalue", "")).splitlines() if ln.strip()), "")
            first = first[:200]
            out["evalue"] = first
            out["traceback"] = [f"{out.get('ename', 'Error')}: a hidden test failed (it checks the same thing on "
                                f"inputs you have not seen)" + (f": {first}" if first else "")]
        else:
            out["traceback"] = [_drop_secret_lines(t, secret) for t in out.get("traceback", [])]
    elif out.get("output_type") == "stream":
        out["text"] = _drop_secret_lines(str(out.get("text", "")), secret)
    return out


def _drop_secret_lines(text: str, secret: set[str]) -> str:
    kept = []
    for line in text.split("\n"):
        plain = _ANSI.sub("", line)
        code = re.sub(r"^\s*(-*>)?\s*\d+\s", "", plain).strip()
        if code and any(code == s or (len(code) >= 8 and code in s) for s in secret):
            continue
        kept.append(line)
    return "\n".join(kept)


def configure(c: Any, notebook_budget: float = 0.0) -> None:
    """Put the kit's preprocessors into an nbgrader config object ``c`` (from ``nbgrader_config.py``)."""
    from nbgrader.converters import Autograde

    def swap(items: list[Any], old: type, new: type) -> list[Any]:
        if old not in items:
            raise RuntimeError(f"nbgrader's default preprocessors no longer hold {old.__name__}: "
                               "tinymlkit.grading needs updating for this nbgrader version")
        return [new if p is old else p for p in items]

    c.Autograde.sanitize_preprocessors = swap(list(Autograde.class_traits()["sanitize_preprocessors"].default()),
                                              OverwriteCells, QuietOverwriteCells)
    c.Autograde.autograde_preprocessors = swap(list(Autograde.class_traits()["autograde_preprocessors"].default()),
                                               Execute, BudgetedExecute)
    if notebook_budget:
        c.BudgetedExecute.notebook_budget = float(notebook_budget)
    # After a timeout interrupts the kernel, nbclient waits this long for the cell's last output and, when it
    # does not come, nbgrader fails the whole notebook. Its 4 s default is too short on a busy machine.
    c.BudgetedExecute.iopub_timeout = 30
    c.GenerateFeedback.preprocessors = [GetGrades, CSSHTMLHeaderPreprocessor, HideHiddenTests]
