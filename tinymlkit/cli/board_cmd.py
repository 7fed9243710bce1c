"""Board commands: ports, capture, monitor, virtual-board, generate-protocol-header."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import KitError
from .common import int_in, parse_labels, seconds

__all__ = ["register"]

_MAX_COUNT = 100_000  # tinymlkit.board.link.MAX_COUNT, without importing pyserial to build the parser


def _ports(args: argparse.Namespace) -> int:
    from ..board.ports import format_ports, list_ports

    print(format_ports(list_ports(include_all=args.all)))
    return 0


def _capture(args: argparse.Namespace) -> int:
    from ..board.capture import capture, format_summary

    report = capture(args.port, args.kind, args.label, args.count, args.out, timeout=args.timeout,
                     progress=not args.no_progress)
    took = f" in {report.seconds:.1f} s" if report.saved else ""
    print(f"saved {len(report.saved)} new {args.kind} file(s) to {Path(args.out) / args.label}{took}")
    print(format_summary(args.out))
    return 0


def _monitor(args: argparse.Namespace) -> int:
    from ..board.monitor import format_result, monitor, plot_results

    labels = None
    if args.labels:
        labels = parse_labels(args.labels)
    elif args.config is not None:
        from ..config import load_run_config

        labels = tuple(load_run_config(args.config).labels)
    if args.plot:
        _check_plot_path(Path(args.plot))
    report = monitor(args.port, seconds=args.seconds, count=args.count,
                     on_result=lambda r: print(format_result(r), flush=True),
                     on_log=lambda s: print(s, flush=True), start=not args.no_start, timeout=args.timeout)
    if args.plot:
        from ..plots import save_figure

        save_figure(plot_results(report.results, labels), args.plot, dpi=100)
        print(f"plot written to {args.plot}")
    print(f"{len(report.results)} result(s); link: {report.stats.describe()}", file=sys.stderr)
    return 0


def _check_plot_path(path: Path) -> None:
    # Checked before the session, so a long monitor run does not end in an unwritable file.
    if path.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise KitError(f"--plot {path}: use a file name ending in .png, .svg or .pdf")
    if path.is_dir():
        raise KitError(f"--plot {path}: is a folder; give a file name such as {path / 'scores.png'}")
    if path.parent.exists() and not path.parent.is_dir():
        raise KitError(f"--plot {path}: {path.parent} is a file, not a folder")


def _virtual_board(args: argparse.Namespace) -> int:
    from .virtual_board import run

    return run(args)


def _header(args: argparse.Namespace) -> int:
    from ..board.c_header import library_header_path, render_c_header, write_c_header
    from ..board.spec_doc import BEGIN, END, doc_path, render_markdown_tables, update_doc

    target = Path(args.out) if args.out else library_header_path()
    doc = None if args.out else doc_path()  # the document is refreshed with the checkout's own header
    if args.check:
        if target is None or not target.is_file():
            raise KitError(f"{target}: no header to check; write it with 'tinymlkit generate-protocol-header'")
        stale = []
        if target.read_text(encoding="utf-8") != render_c_header():
            stale.append(str(target))
        if doc is not None and f"{BEGIN}\n{render_markdown_tables()}{END}" not in doc.read_text(encoding="utf-8"):
            stale.append(str(doc))
        if stale:
            print(f"out of date with tinymlkit/board/protocol.py: {', '.join(stale)}; "
                  "run 'tinymlkit generate-protocol-header'")
            return 1
        print(f"{target}: up to date" + (f"; {doc}: up to date" if doc else ""))
        return 0
    if target is None:
        sys.stdout.write(render_c_header())
        return 0
    write_c_header(target)
    print(f"wrote {target}")
    if doc is not None and update_doc(doc):
        print(f"updated the tables in {doc}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add the board commands."""
    sp = sub.add_parser("ports", help="list serial ports; marks Arduino Nano 33 BLE boards")
    sp.add_argument("--all", action="store_true", help="also list on-board serial ports without USB")
    sp.set_defaults(func=_ports)

    sp = sub.add_parser("capture", help="record clips or camera frames from a board into a dataset folder")
    sp.add_argument("kind", choices=["audio", "image"])
    sp.add_argument("--port", required=True, help="serial port (see 'tinymlkit ports') or a virtual board's path")
    sp.add_argument("--label", required=True, help="label, i.e. the folder the files go to")
    sp.add_argument("--count", type=int_in(1, _MAX_COUNT), required=True,
                    help="files wanted for this label from this board in total (resumes where it stopped)")
    sp.add_argument("--out", required=True, metavar="DATASET", help="dataset folder")
    sp.add_argument("--timeout", type=seconds, default=15.0, help="seconds to wait for each clip/frame (default 15)")
    sp.add_argument("--no-progress", action="store_true", help="no progress bar")
    sp.set_defaults(func=_capture)

    sp = sub.add_parser("monitor", help="show a board's inference results and log lines live")
    sp.add_argument("--port", required=True)
    sp.add_argument("--seconds", type=seconds, default=None, help="stop after this long (default: Ctrl-C)")
    sp.add_argument("--count", type=int_in(1, _MAX_COUNT), default=None, help="stop after this many results")
    sp.add_argument("--plot", metavar="FILE.png", help="save a plot of scores and latency at the end "
                    "(in a notebook, tinymlkit.board.monitor.monitor(port, plot=True) draws it live)")
    g = sp.add_mutually_exclusive_group()
    g.add_argument("--labels", help="the model's labels in output order, for the plot's legend (e.g. silence,unknown,yes,no)")
    g.add_argument("--config", type=Path, help="the run's config.json (labels for the plot's legend)")
    sp.add_argument("--timeout", type=seconds, default=10.0, help="seconds to wait for each result (default 10)")
    sp.add_argument("--no-start", action="store_true", help="do not send START_INFERENCE (just listen)")
    sp.set_defaults(func=_monitor)

    from .virtual_board import add_arguments

    sp = sub.add_parser("virtual-board", help="a board on a pseudo-terminal: prints its path, then serves "
                        "capture and inference like the sketches")
    add_arguments(sp)
    sp.set_defaults(func=_virtual_board)

    sp = sub.add_parser("generate-protocol-header", help="write the sketches' kit_protocol.h from the protocol spec")
    sp.add_argument("--out", help="file to write (default: the TinyMLKit Arduino library in this checkout)")
    sp.add_argument("--check", action="store_true", help="only check that the file is up to date (exit 1 if not)")
    sp.set_defaults(func=_header)
