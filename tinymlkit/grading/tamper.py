"""What a submission changed in the cells a student may not change, compared with the release.

nbgrader restores locked cells silently when it grades; the instructor never learns who edited a test.
This module compares a submitted notebook with the release the student was given and lists, per cell,
what happened: a test or read-only cell edited, deleted, moved, turned into another cell type, or
stripped of its nbgrader metadata (a copy of its text without the marks that make it a test).
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

__all__ = ["TamperFinding", "tamper_report", "read_notebook_json"]


@dataclass(frozen=True)
class TamperFinding:
    """One locked cell that differs from the release."""

    grade_id: str
    """The cell's nbgrader id in the release."""
    kind: str
    """'test' (a graded test cell) or 'read-only' (a locked text or setup cell)."""
    change: str
    """'edited', 'deleted', 'moved', 'stripped' (metadata removed), 'cell type' or 'metadata' (points, locks)."""
    detail: str
    """What differs, in words."""

    def to_json(self) -> dict[str, str]:
        """A plain dict for JSON reports."""
        return asdict(self)


def read_notebook_json(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A notebook file as plain JSON (any nbformat 4 minor); raises ValueError when it is not one."""
    try:
        nb = json.loads(Path(path).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: not a notebook (not JSON: {e})") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list) or nb.get("nbformat") != 4:
        raise ValueError(f"{path}: not a version-4 Jupyter notebook")
    return nb


def _meta(cell: dict[str, Any]) -> dict[str, Any]:
    md = cell.get("metadata") if isinstance(cell, dict) else None
    nbg = md.get("nbgrader") if isinstance(md, dict) else None
    return nbg if isinstance(nbg, dict) else {}


def _source(cell: dict[str, Any]) -> str:
    src = cell.get("source", "") if isinstance(cell, dict) else ""
    return "".join(src) if isinstance(src, list) else str(src)


def _norm(text: str) -> str:
    # Trailing spaces and a final newline come and go with editors; they change nothing a test does.
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


def _locked(cell: dict[str, Any]) -> bool:
    m = _meta(cell)
    return bool(m.get("locked")) or bool(m.get("grade")) and not m.get("solution")


def tamper_report(release: dict[str, Any], submitted: dict[str, Any]) -> list[TamperFinding]:
    """Every locked cell of the release that the submission edited, deleted, moved or stripped."""
    rel_locked = [(i, c) for i, c in enumerate(release.get("cells", [])) if _locked(c) and _meta(c).get("grade_id")]
    sub_cells = [c for c in submitted.get("cells", []) if isinstance(c, dict)]
    by_id: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for i, c in enumerate(sub_cells):
        gid = _meta(c).get("grade_id")
        if isinstance(gid, str):
            by_id.setdefault(gid, []).append((i, c))
    unmarked = {_norm(_source(c)): i for i, c in enumerate(sub_cells) if not _meta(c).get("grade_id")}
    findings: list[TamperFinding] = []
    present: list[tuple[int, str]] = []
    for _, rc in rel_locked:
        gid = _meta(rc)["grade_id"]
        kind = "test" if _meta(rc).get("grade") else "read-only"
        hits = by_id.get(gid, [])
        if not hits:
            if _norm(_source(rc)) in unmarked:
                findings.append(TamperFinding(gid, kind, "stripped",
                                              "the cell is there but its nbgrader metadata was removed"))
            else:
                findings.append(TamperFinding(gid, kind, "deleted", "the cell is missing from the submission"))
            continue
        if len(hits) > 1:
            findings.append(TamperFinding(gid, kind, "edited", f"{len(hits)} cells carry this id (copied cell)"))
        i, sc = hits[0]
        present.append((i, gid))
        if sc.get("cell_type") != rc.get("cell_type"):
            findings.append(TamperFinding(gid, kind, "cell type", f"{rc.get('cell_type')} became {sc.get('cell_type')}"))
        if _norm(_source(sc)) != _norm(_source(rc)):
            findings.append(TamperFinding(gid, kind, "edited", _diff_summary(_source(rc), _source(sc))))
        changed = [k for k in ("grade", "locked", "points", "solution")
                   if _meta(sc).get(k) != _meta(rc).get(k)]
        if changed:
            findings.append(TamperFinding(gid, kind, "metadata", "changed: " + ", ".join(
                f"{k} {_meta(rc).get(k)!r} -> {_meta(sc).get(k)!r}" for k in changed)))
    order = [gid for _, gid in sorted(present)]
    expected = [gid for gid in (_meta(rc)["grade_id"] for _, rc in rel_locked) if gid in set(order)]
    if order != expected:
        moved = _moved(expected, order)
        for gid in moved:
            kind = "test" if any(_meta(rc).get("grade") for _, rc in rel_locked if _meta(rc)["grade_id"] == gid) else "read-only"
            findings.append(TamperFinding(gid, kind, "moved", "the cell is in another place than in the release"))
    return findings


def _moved(expected: list[str], order: list[str]) -> list[str]:
    """The fewest cells that, put back, restore the release's order (the rest form its longest common run)."""
    pos = {g: i for i, g in enumerate(expected)}
    seq = [pos[g] for g in order]
    # Longest increasing subsequence: the cells that stayed in order.
    n = len(seq)
    best = [1] * n
    prev = [-1] * n
    for i in range(n):
        for j in range(i):
            if seq[j] < seq[i] and best[j] + 1 > best[i]:
                best[i], prev[i] = best[j] + 1, j
    keep: set[int] = set()
    if n:
        k = max(range(n), key=lambda i: best[i])
        while k != -1:
            keep.add(k)
            k = prev[k]
    return [order[i] for i in range(n) if i not in keep]


def _diff_summary(old: str, new: str) -> str:
    a, b = old.strip().splitlines(), new.strip().splitlines()
    removed = sum(1 for line in a if line not in b)
    added = sum(1 for line in b if line not in a)
    first = next((line.strip() for line in b if line not in a), "")
    text = f"{removed} line(s) removed, {added} added"
    return text + (f"; first new line: {first[:80]!r}" if first else "")
