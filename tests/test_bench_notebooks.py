"""benchmarks/bench_notebooks.py: the script that times the course notebooks (the figures at their tops)."""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks" / "bench_notebooks.py"


def _bench():
    spec = importlib.util.spec_from_file_location("bench_notebooks", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(BENCH.parent))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(BENCH.parent))
    return module


def _notebook(path: Path, body: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell("# a lesson"),
                nbformat.v4.new_code_cell("FAST = None\nDATA = None", metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell(body)]
    nbformat.write(nb, path)
    return path


def test_parameters_are_injected_after_the_parameters_cell_and_reach_the_kernel(tmp_path):
    bench = _bench()
    nb = nbformat.read(_notebook(tmp_path / "a.ipynb", "open(OUT, 'w').write(repr((FAST, DATA)))"), as_version=4)
    injected = bench.with_parameters(nb, {"DATA": "'clips'"}, fast=False)
    assert [c.source.splitlines()[0] for c in injected.cells[1:3]] == [
        "FAST = None", "# injected by benchmarks/bench_notebooks.py"]
    assert len(nb.cells) == 3, "the notebook read from disk is not changed"

    out = tmp_path / "seen.txt"
    path = _notebook(tmp_path / "b.ipynb", f"open({str(out)!r}, 'w').write(repr((FAST, DATA)))")
    row = bench.run_one(path, fast=False, assignments={"DATA": "'clips'"}, cell_timeout=120)
    assert row["error"] is None, row
    assert out.read_text() == "(False, 'clips')"
    assert row["wall_seconds"] > 0 and row["mode"] == "full"
    assert row["slowest_cells"] and all(c["seconds"] >= 0 for c in row["slowest_cells"])


def test_a_failing_notebook_is_reported_and_the_batch_goes_on(tmp_path, monkeypatch, capsys):
    bench = _bench()
    bad = _notebook(tmp_path / "bad.ipynb", "raise RuntimeError('the lesson broke here')")
    no_params = tmp_path / "plain.ipynb"
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 1")]
    nbformat.write(nb, no_params)
    good = _notebook(tmp_path / "good.ipynb", "x = 1")
    written = {}
    monkeypatch.setattr(bench, "write", lambda name, data: written.update({name: data}))
    monkeypatch.setattr(sys, "argv", ["bench_notebooks.py", str(bad), str(no_params), str(good), "--cell-timeout", "120"])
    bench.main()
    rows = written["notebooks_fast"]["rows"]
    assert [r["notebook"] for r in rows] == ["bad.ipynb", "plain.ipynb", "good.ipynb"]
    assert "the lesson broke here" in rows[0]["error"]
    assert "parameters" in rows[1]["error"]
    assert rows[2]["error"] is None and rows[2]["mode"] == "fast"
    assert capsys.readouterr().out.count("FAILED") == 2


@pytest.mark.parametrize("args, says", [(["no_such_notebook"], "no_such_notebook: no such file"),
                                        (["00_start_here", "--set", "not a name=1"], "give NAME=VALUE")])
def test_bad_arguments_get_one_error_line(args, says):
    run = subprocess.run([sys.executable, str(BENCH), *args], capture_output=True, text=True, timeout=120)
    assert run.returncode == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tinymlkit: error:") and says in lines[0], run.stderr
