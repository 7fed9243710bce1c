"""Execute the course notebooks and render them as a small HTML site (one page each, plus an index).

    python scripts/build_course_site.py                  # fast mode, into build/course/
    python scripts/build_course_site.py --full           # full mode (minutes per notebook)
    python scripts/build_course_site.py --only 02 03     # some notebooks

Prints each notebook's run time and writes them to build/course/times.json; the figures at the top of
each notebook come from a --full run of this script.
"""
from __future__ import annotations

import argparse
import html
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--full", action="store_true", help="full mode instead of fast mode")
    ap.add_argument("--out", type=Path, default=ROOT / "build" / "course")
    ap.add_argument("--only", nargs="*", help="notebook name prefixes to run")
    ap.add_argument("--timeout", type=int, default=3600, help="per-cell timeout in seconds")
    args = ap.parse_args()

    import nbformat
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter

    os.environ["TINYMLKIT_FAST"] = "0" if args.full else "1"
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    args.out.mkdir(parents=True, exist_ok=True)
    notebooks = sorted((ROOT / "course").glob("*.ipynb"))
    if args.only:
        notebooks = [p for p in notebooks if any(p.name.startswith(o) for o in args.only)]
    times: dict[str, float] = {}
    exporter = HTMLExporter(template_name="lab")
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        t0 = time.perf_counter()
        NotebookClient(nb, timeout=args.timeout, kernel_name="python3",
                       resources={"metadata": {"path": str(ROOT / "course")}}).execute()
        times[path.stem] = round(time.perf_counter() - t0, 1)
        body, _ = exporter.from_notebook_node(nb)
        (args.out / f"{path.stem}.html").write_text(body)
        print(f"{path.name}: {times[path.stem]} s ({'full' if args.full else 'fast'} mode)", flush=True)
    links = "\n".join(f'<li><a href="{html.escape(k)}.html">{html.escape(k)}</a> ({v} s)</li>' for k, v in times.items())
    (args.out / "index.html").write_text(f"<!doctype html><meta charset='utf-8'><title>TinyML Course Kit</title>"
                                         f"<h1>TinyML Course Kit: the course</h1><ol>{links}</ol>")
    (args.out / "times.json").write_text(json.dumps({"mode": "full" if args.full else "fast", "seconds": times}, indent=2))
    print(f"site: {args.out / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
