"""Fill every notebook's Colab badge and first (install) cell from the repository URL in pyproject.toml.

    python scripts/colab_badges.py          # rewrite course/ and labs/release/ notebooks in place
    python scripts/colab_badges.py --check  # exit 1 if any notebook is out of date

The URL is written once, in pyproject.toml ([project.urls] Repository); nothing else types it.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BADGE = re.compile(r"(<!-- colab-badge -->|\[!\[Open In Colab\]\([^)]*\)\]\([^)]*\))")


def repository() -> str:
    """[project.urls] Repository from pyproject.toml."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]["Repository"]


def install_cell(url: str) -> str:
    """Source of the first code cell: on Colab, clone and install the kit once; elsewhere nothing."""
    sys.path.insert(0, str(ROOT))
    from tinymlkit.course import COLAB_CHECKOUT, colab_install_commands

    def call(c: list[str]) -> str:
        if c[0] == sys.executable:
            return f"subprocess.run([sys.executable, {', '.join(json.dumps(a) for a in c[1:])}], check=True)"
        return f"subprocess.run([{', '.join(json.dumps(a) for a in c)}], check=True)"

    lines = ["# On Colab: clone and install the kit once (Colab's own TensorFlow is kept). Elsewhere: nothing.",
             "import os, subprocess, sys", "", 'if "google.colab" in sys.modules:',
             f"    if not os.path.isdir({json.dumps(COLAB_CHECKOUT)}):"]
    lines += [f"        {call(c)}" for c in colab_install_commands(url)]
    # The checkout first on the path: the library, its sketches and data cards from one place.
    lines.append(f"    sys.path.insert(0, {json.dumps(COLAB_CHECKOUT)})")
    return "\n".join(lines)


def badge(url: str, path: Path) -> str:
    """Markdown of the Open-in-Colab badge for one notebook."""
    gh = url.removeprefix("https://github.com/")
    rel = path.relative_to(ROOT).as_posix()
    if rel.startswith("labs/source/"):  # students open the committed release, which nbgrader makes from the source
        rel = "labs/release/" + rel.removeprefix("labs/source/")
    return (f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
            f"(https://colab.research.google.com/github/{gh}/blob/main/{rel})")


def update(path: Path, url: str) -> bool:
    """Rewrite one notebook's badge and install cell; True if it changed."""
    text = path.read_text()
    nb = json.loads(text)
    for cell in nb["cells"]:
        src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        tags = cell.get("metadata", {}).get("tags", [])
        if cell["cell_type"] == "markdown" and BADGE.search(src):
            src = BADGE.sub(lambda _: badge(url, path), src, count=1)
        if cell["cell_type"] == "code" and "colab-install" in tags:
            src = install_cell(url)
        cell["source"] = src
    new = json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
    if new != text:
        path.write_text(new)
        return True
    return False


def notebooks() -> list[Path]:
    """Every notebook a learner opens: the course, and the labs' sources (nbgrader makes the release from them)."""
    return sorted((ROOT / "course").glob("*.ipynb")) + sorted((ROOT / "labs" / "source").glob("*/*.ipynb"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="only report notebooks that are out of date")
    args = ap.parse_args()
    url = repository()
    stale = []
    for p in notebooks():
        if args.check:
            before = p.read_text()
            changed = update(p, url)
            if changed:
                p.write_text(before)
                stale.append(p)
        elif update(p, url):
            print(f"updated {p.relative_to(ROOT)}")
    if stale:
        print("out of date (run python scripts/colab_badges.py):", *[str(p.relative_to(ROOT)) for p in stale])
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
