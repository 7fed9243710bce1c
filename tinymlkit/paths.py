"""Where the kit keeps data it downloads or makes: never inside the git-tracked tree."""
from __future__ import annotations

import os
from pathlib import Path

__all__ = ["project_root", "data_home", "dataset_dir"]


def project_root() -> Path | None:
    """The checkout this package runs from (a folder with ``datasets/`` and ``pyproject.toml``), if any."""
    root = Path(__file__).resolve().parents[1]
    if (root / "pyproject.toml").is_file() and (root / "datasets").is_dir():
        return root
    return None


def data_home() -> Path:
    """Root for generated and downloaded data: $TINYMLKIT_DATA, else the checkout's datasets/, else ~/.cache/tinymlkit."""
    env = os.environ.get("TINYMLKIT_DATA")
    if env:
        return Path(env).expanduser()
    root = project_root()
    if root is not None:
        return root / "datasets"
    return Path.home() / ".cache" / "tinymlkit"


def dataset_dir(name: str) -> Path:
    """Folder for one dataset's files: DATA_HOME/NAME/data (git-ignored in a checkout)."""
    return data_home() / name / "data"
