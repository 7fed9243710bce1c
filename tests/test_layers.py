"""The package's layers: every import points down (or sideways within a layer), never up.

The table below is the README's layer picture in code. A new module must be placed in it (the test
fails on a module it does not know), so the picture and the code cannot drift apart silently.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "tinymlkit"

# Layer of each module or package prefix (the longest matching prefix wins). Lower numbers are lower layers.
LAYERS: dict[str, int] = {
    # 0: foundations, no kit imports beyond each other
    "tinymlkit": 0,  # the package's __init__ (version only)
    "tinymlkit.errors": 0,
    "tinymlkit.files": 0,
    "tinymlkit.paths": 0,
    "tinymlkit.config": 0,
    "tinymlkit.targets": 0,
    "tinymlkit.plots": 0,
    "tinymlkit.tf_quiet": 0,
    "tinymlkit.energy": 0,
    "tinymlkit.slow_imports": 0,
    # 1: sensors, files and runtimes
    "tinymlkit.audio": 1,
    "tinymlkit.vision": 1,
    "tinymlkit.board": 1,
    "tinymlkit.runtime": 1,
    "tinymlkit.tflite_file": 1,
    "tinymlkit.recognizer": 1,
    # 2: what turns data into models and models into sketch files
    "tinymlkit.board_input": 2,
    "tinymlkit.data": 2,
    "tinymlkit.models": 2,
    "tinymlkit.train": 2,
    "tinymlkit.convert": 2,
    "tinymlkit.evaluate": 2,
    "tinymlkit.inspect": 2,
    "tinymlkit.export": 2,  # package: render, write, c_source, checks, sketches, ops
    "tinymlkit.streaming": 2,
    "tinymlkit.course": 2,
    # 3: whole jobs built from layer 2
    "tinymlkit.pipelines": 3,
    "tinymlkit.compress": 3,
    "tinymlkit.anomaly": 3,
    "tinymlkit.federated": 3,
    "tinymlkit.privacy": 3,
    "tinymlkit.grading": 3,
    "tinymlkit.recorder": 3,
    # 4: the command line on top
    "tinymlkit.cli": 4,
    "tinymlkit.__main__": 4,
}


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> int | None:
    """The layer of ``module`` by its longest prefix in LAYERS, or None when it is not placed."""
    best: tuple[int, int] | None = None
    for prefix, layer in LAYERS.items():
        if module == prefix or module.startswith(prefix + "."):
            if best is None or len(prefix) > best[0]:
                best = (len(prefix), layer)
    if best is None or (best[0] == len("tinymlkit") and module != "tinymlkit"):
        return None
    return best[1]


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> list[str]:
    if node.level == 0:
        base = node.module or ""
    else:
        parts = module.split(".")
        if not is_package:
            parts = parts[:-1]
        if node.level > 1:
            parts = parts[: len(parts) - (node.level - 1)]
        base = ".".join(parts + ([node.module] if node.module else []))
    if not base.startswith("tinymlkit"):
        return []
    # `from . import x` names submodules: judge each name as a module where it is one
    names = []
    for alias in node.names:
        candidate = f"{base}.{alias.name}"
        mod_path = ROOT.parent / Path(*candidate.split("."))
        names.append(candidate if (mod_path.with_suffix(".py").exists() or mod_path.is_dir()) else base)
    return names


def kit_imports(path: Path) -> list[tuple[int, str]]:
    """(line, imported kit module) for every import of a kit module in ``path``, lazy ones included."""
    module = _module_name(path)
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("tinymlkit")]
        elif isinstance(node, ast.ImportFrom):
            found += [(node.lineno, m) for m in _resolve(module, path.name == "__init__.py", node)]
    return found


MODULES = sorted(p for p in ROOT.rglob("*.py") if "__pycache__" not in p.parts)


def test_the_table_places_every_module():
    unplaced = [_module_name(p) for p in MODULES if layer_of(_module_name(p)) is None]
    assert not unplaced, f"place these modules in a layer (tests/test_layers.py and the README picture): {unplaced}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT.parent)))
def test_no_upward_import(path: Path):
    module = _module_name(path)
    own = layer_of(module)
    if own is None:
        pytest.skip("not placed (see test_the_table_places_every_module)")
    upward = []
    for line, target in kit_imports(path):
        target_layer = layer_of(target)
        if target_layer is not None and target_layer > own:
            upward.append(f"line {line}: {target} (layer {target_layer}) from layer {own}")
    assert not upward, f"{module} imports upward:\n" + "\n".join(upward)


def test_the_checker_sees_an_upward_import(tmp_path: Path):
    # The rule must be able to fail: a layer-1 module importing a pipeline is caught.
    fake = ROOT / "audio" / "features.py"
    tree_text = "from ..pipelines import kws\n"
    probe = tmp_path / "probe.py"
    probe.write_text(tree_text)
    node = ast.parse(tree_text).body[0]
    assert isinstance(node, ast.ImportFrom)
    targets = _resolve(_module_name(fake), False, node)
    assert targets and layer_of(targets[0]) == 3 > layer_of(_module_name(fake))
