"""The course notebooks: stored clean, Colab cell right, only public tinymlkit names, and they run in fast mode."""
from __future__ import annotations

import ast
import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from notebook_checks import AFTER_RUN

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("TINYMLKIT_SHARED_DATA", ROOT.parent / "shared" / "data"))
REAL_CLIPS = SHARED_DATA / "speech_commands_v0.02_test_dev"
"""Real speakers for the notebooks that score on them (03's side by side), where ../shared is present."""
NOTEBOOKS = sorted((ROOT / "course").glob("*.ipynb"))


def _cells(path: Path, kind: str = "code") -> list[dict]:
    nb = json.loads(path.read_text())
    return [c for c in nb["cells"] if c["cell_type"] == kind]


def _src(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def test_there_is_a_sequence():
    names = [p.name for p in NOTEBOOKS]
    assert names[0].startswith("00_") and len(names) >= 5
    assert names == sorted(names)
    index = (ROOT / "course" / "README.md").read_text()
    for p in NOTEBOOKS:
        assert p.name in index, f"{p.name} is missing from course/README.md"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_stored_clean_with_python3_kernel(path):
    nb = json.loads(path.read_text())
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    for c in _cells(path):
        assert not c.get("outputs") and c.get("execution_count") is None, "store notebooks without outputs"
    tags = [t for c in _cells(path) for t in c.get("metadata", {}).get("tags", [])]
    assert "parameters" in tags and "colab-install" in tags
    assert "/work/" not in path.read_text() and "/home/" not in path.read_text(), "no absolute paths"


def test_badges_and_install_cells_are_up_to_date():
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "colab_badges.py"), "--check"], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_first_cell_installs_the_kit_only_on_colab(monkeypatch):
    """Run the real first cell with the Colab marker faked; record what it would run."""
    from tinymlkit.course import colab_install_commands

    src = _src(next(c for c in _cells(NOTEBOOKS[0]) if "colab-install" in c["metadata"].get("tags", [])))
    ran: list[list[str]] = []
    monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: ran.append(list(cmd)))
    monkeypatch.setattr(sys, "path", list(sys.path))
    exec(compile(src, "first-cell", "exec"), {})
    assert ran == []  # not on Colab: nothing
    monkeypatch.setitem(sys.modules, "google.colab", type(sys)("google.colab"))
    exec(compile(src, "first-cell", "exec"), {})
    assert ran == colab_install_commands()
    assert ran[0][:2] == ["git", "clone"] and ran[0][-2].startswith("https://")
    pip = ran[1]
    assert pip[1:4] == ["-m", "pip", "install"] and pip[-1].endswith("[course]")
    assert not any(a.startswith(("tensorflow", "keras")) for a in pip), "Colab's TensorFlow must not be reinstalled"


def _public(module: str, name: str) -> bool:
    mod = importlib.import_module(module)
    return not name.startswith("_") and (name in getattr(mod, "__all__", ()) or
                                         importlib.util.find_spec(f"{module}.{name}") is not None)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_only_public_names_and_short_functions(path):
    for c in _cells(path):
        src = "\n".join(ln for ln in _src(c).splitlines() if not ln.lstrip().startswith(("%", "!")))
        tree = ast.parse(src)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("tinymlkit"):
                for alias in node.names:
                    assert _public(node.module, alias.name), f"{path.name}: {node.module}.{alias.name} is not public"
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                assert node.end_lineno - node.lineno <= 5, f"{path.name}: function {node.name} belongs in tinymlkit"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_runs_top_to_bottom_in_fast_mode(path, tmp_path):
    """Executed by a real Jupyter kernel from another folder, with a per-cell timeout."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    env_backup = dict(os.environ)
    os.environ.update(TINYMLKIT_FAST="1", MPLBACKEND="Agg", TF_CPP_MIN_LOG_LEVEL="3")
    os.environ.pop("TINYMLKIT_REAL_CLIPS", None)
    if REAL_CLIPS.is_dir():  # a user's clone has none: the notebooks then skip what needs them, and say so
        os.environ["TINYMLKIT_REAL_CLIPS"] = str(REAL_CLIPS)
    try:
        NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    finally:
        os.environ.clear()
        os.environ.update(env_backup)
    # execute() raises on a failing cell; what it does not check: every cell ran, once, in order, and the
    # notebook's own switch saw TINYMLKIT_FAST (a notebook that ignored it would run its full mode here).
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert [c.get("execution_count") for c in code] == list(range(1, len(code) + 1))
    printed = "".join(o.get("text", "") for c in code for o in c.get("outputs", []) if o.output_type == "stream")
    assert "fast mode: True" in printed, printed[:500]
    if path.name == "03_training.ipynb":  # the side by side on real speakers ran where they exist, else said why not
        if REAL_CLIPS.is_dir():
            assert "held-out real speakers:" in printed and "skipped: no real clips" not in printed, printed[-2000:]
            lines = [ln for ln in printed.splitlines() if ln.startswith(("synthetic-trained", "real-trained"))]
            assert len(lines) == 2 and all("balanced" in ln for ln in lines), lines
        else:
            assert "skipped: no real clips" in printed
    if path.name in AFTER_RUN:  # the notebook's run is also a library end-to-end test: check what it wrote
        from tinymlkit.course import run_dir

        folder, check = AFTER_RUN[path.name]
        check(run_dir(folder))
