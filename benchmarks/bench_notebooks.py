"""Wall time of course notebooks run top to bottom by a real Jupyter kernel, in fast or full mode.

    python benchmarks/bench_notebooks.py NOTEBOOK [NOTEBOOK ...] [--mode fast|full] [--set NAME=VALUE ...]
        [--cell-timeout SECONDS] [--name RESULTS_NAME]

NOTEBOOK is a path or a stem under course/ (``11_pruning``). Each notebook runs as the tests run it (nbclient,
``python3`` kernel, a fresh working folder, ``MPLBACKEND=Agg``), with ``TINYMLKIT_FAST`` set for the mode, so the
figure is what a learner waits for. ``--set DATA="'/path/to/clips'"`` assigns a Python expression to a name in a
cell injected right after the notebook's ``parameters`` cell (what papermill does), e.g. to give the full mode real
clips. The figures quoted at the top of each notebook come from this script: per notebook the wall time, the load
average before and after (the machine must be idle for a figure worth quoting), the CPU seconds of the kernel, and
the five slowest cells. A notebook that fails is reported with its error line, and the others still run.
Results: ``results/notebooks_<mode>.json`` (or ``--name``).
"""
from __future__ import annotations

import argparse
import copy
import datetime as dt
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, NoReturn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write  # noqa: E402

COURSE = Path(__file__).resolve().parents[1] / "course"


def fail(message: str) -> NoReturn:
    """One error line and exit status 2, as the kit's commands do."""
    print(f"tinymlkit: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def notebook_path(name: str) -> Path:
    """A notebook given as a path, a file name or a stem under course/."""
    p = Path(name)
    if p.is_file():
        return p
    for candidate in (COURSE / name, COURSE / f"{name}.ipynb"):
        if candidate.is_file():
            return candidate
    fail(f"notebook {name}: no such file here or under {COURSE}; give a path or a stem such as 11_pruning")


def with_parameters(nb: Any, assignments: dict[str, str], fast: bool) -> Any:
    """A copy of ``nb`` with a cell after its ``parameters`` cell that sets FAST and each NAME = VALUE."""
    import nbformat

    nb = copy.deepcopy(nb)
    index = next((i for i, c in enumerate(nb.cells) if "parameters" in c.get("metadata", {}).get("tags", [])), None)
    if index is None:
        raise ValueError("it has no cell tagged 'parameters'")
    lines = ["# injected by benchmarks/bench_notebooks.py", f"FAST = {fast!r}"]
    lines += [f"{k} = {v}" for k, v in assignments.items()]
    nb.cells.insert(index + 1, nbformat.v4.new_code_cell("\n".join(lines), metadata={"tags": ["injected-parameters"]}))
    return nb


def cell_seconds(cell: Any) -> float | None:
    """Wall seconds of one executed cell, from the timing nbclient records in its metadata."""
    t = cell.get("metadata", {}).get("execution", {})
    start, end = t.get("iopub.execute_input"), t.get("shell.execute_reply")
    if not (start and end):
        return None
    parse = lambda s: dt.datetime.fromisoformat(s.replace("Z", "+00:00"))  # noqa: E731
    return (parse(end) - parse(start)).total_seconds()


def run_one(path: Path, fast: bool, assignments: dict[str, str], cell_timeout: int | None) -> dict[str, Any]:
    """Execute one notebook; its wall time, load and slowest cells, or the error that stopped it."""
    import nbformat
    from nbclient import NotebookClient

    nb = with_parameters(nbformat.read(path, as_version=4), assignments, fast)
    before_cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    load_before = os.getloadavg()
    env_backup = dict(os.environ)
    os.environ.update(TINYMLKIT_FAST="1" if fast else "0", MPLBACKEND="Agg", TF_CPP_MIN_LOG_LEVEL="3")
    error = None
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-nb-") as work:
        try:
            NotebookClient(nb, timeout=cell_timeout, kernel_name="python3",
                           resources={"metadata": {"path": work}}).execute()
        except Exception as e:  # noqa: BLE001 - one failing notebook is reported, the batch goes on
            error = f"{type(e).__name__}: {str(e).strip().splitlines()[-1] if str(e).strip() else ''}"
        finally:
            os.environ.clear()
            os.environ.update(env_backup)
    wall = time.perf_counter() - t0
    after_cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    cells = [(i, cell_seconds(c), c.source.splitlines()[0][:70] if c.source else "")
             for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    slowest = sorted((c for c in cells if c[1] is not None), key=lambda c: -c[1])[:5]
    return {"notebook": path.name, "mode": "fast" if fast else "full", "set": assignments,
            "wall_seconds": round(wall, 1), "kernel_cpu_seconds": round(
                (after_cpu.ru_utime - before_cpu.ru_utime) + (after_cpu.ru_stime - before_cpu.ru_stime), 1),
            "load_before": [round(x, 2) for x in load_before], "load_after": [round(x, 2) for x in os.getloadavg()],
            "slowest_cells": [{"cell": i, "seconds": round(s, 1), "first_line": line} for i, s, line in slowest],
            "error": error}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("notebooks", nargs="+", help="paths, or stems under course/ (11_pruning)")
    ap.add_argument("--mode", choices=("fast", "full"), default="fast")
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                    help="assign a Python expression after the parameters cell (repeatable)")
    ap.add_argument("--cell-timeout", type=int, default=None, help="seconds per cell (default: none)")
    ap.add_argument("--name", help="results file name (default notebooks_<mode>)")
    args = ap.parse_args()
    assignments = {}
    for item in args.set:
        name, sep, value = item.partition("=")
        if not sep or not name.strip().isidentifier():
            fail(f"--set {item}: give NAME=VALUE, e.g. --set DATA=\"'/path/to/clips'\"")
        assignments[name.strip()] = value
    paths = [notebook_path(n) for n in args.notebooks]
    rows = []
    for path in paths:
        print(f"{path.name} ({args.mode} mode) ...", flush=True)
        try:
            row = run_one(path, args.mode == "fast", assignments, args.cell_timeout)
        except ValueError as e:
            row = {"notebook": path.name, "mode": args.mode, "error": str(e)}
        rows.append(row)
        if row.get("error"):
            print(f"  FAILED: {row['error']}", flush=True)
        if "wall_seconds" in row:
            print(f"  {row['wall_seconds']:.0f} s wall, kernel CPU {row['kernel_cpu_seconds']:.0f} s, load "
                  f"{row['load_before'][0]:.1f} -> {row['load_after'][0]:.1f}; slowest cells: "
                  + ", ".join(f"#{c['cell']} {c['seconds']:.0f} s" for c in row["slowest_cells"][:3]), flush=True)
    write(args.name or f"notebooks_{args.mode}", {"mode": args.mode, "rows": rows})


if __name__ == "__main__":
    main()
