"""The ``tinymlkit`` command: one sub-command module per area, each with a ``register`` function.

May import anything in the kit: it is the top layer (4), and nothing imports it. Command modules import
the heavy parts inside their handlers, so ``tinymlkit --help`` stays fast.
"""
from __future__ import annotations

import argparse
import errno
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from ..errors import KitError, one_line

# Each module defines register(subparsers) and sets a ``func`` default on its parsers.
COMMAND_MODULES = (
    "tinymlkit.cli.kws_cmd",
    "tinymlkit.cli.export_cmd",
    "tinymlkit.cli.data_cmd",
    "tinymlkit.cli.vww_cmd",
    "tinymlkit.cli.board_cmd",
    "tinymlkit.cli.inspect_cmd",
    "tinymlkit.cli.bench_cmd",
    "tinymlkit.cli.record_cmd",
    "tinymlkit.cli.anomaly_cmd",
    "tinymlkit.cli.grade_cmd",
)

DEBUG_ENV = "TINYMLKIT_DEBUG"
"""Set to 1 to see the Python traceback of an unexpected error (for bug reports)."""

EXIT_BAD_INPUT = 2
"""Exit status for anything the user can fix (a file, a port, an option, the disk)."""
EXIT_INTERNAL = 70
"""Exit status for a bug in the kit (EX_SOFTWARE of sysexits.h), so it is never mistaken for bad input."""

__all__ = ["main", "build_parser", "KitArgumentParser", "DEBUG_ENV", "EXIT_BAD_INPUT", "EXIT_INTERNAL"]

# What to do about an operating-system error, by errno; the message already names the file.
_OS_HINTS = {
    errno.ENOSPC: "the disk is full: free some space and run the same command again",
    errno.EDQUOT: "the disk quota is used up: free some space and run the same command again",
    errno.EROFS: "choose a folder on a disk you can write to",
    errno.EACCES: "choose a folder you can write to, or fix its permissions",
    errno.EPERM: "choose a folder you can write to, or fix its permissions",
    errno.ENOENT: "check the path",
    errno.ENOTDIR: "a part of the path is a file, not a folder: check the path",
    errno.EISDIR: "a file was expected here: check the path",
    errno.EEXIST: "the kit never overwrites it: choose another name",
    errno.ELOOP: "a symbolic link points back at itself: check the path",
    errno.ENAMETOOLONG: "choose a shorter name",
    errno.EIO: "the disk or device may be failing or was removed",
    errno.EMFILE: "close other programs and run the command again",
}


class KitArgumentParser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one ``tinymlkit: error:`` line naming the option."""

    def error(self, message: str) -> NoReturn:
        """Print one line naming the option and how to get help; exit with status 2."""
        print(f"tinymlkit: error: {one_line(message)} (see '{self.prog} --help')", file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every sub-command registered."""
    import importlib

    from .. import __version__

    parser = KitArgumentParser(
        prog="tinymlkit",
        description="TinyML Course Kit: from sensor data to an int8 model on the Arduino Nano 33 BLE Sense.",
        epilog=f"Bad input ends with one line 'tinymlkit: error: ...' and exit status {EXIT_BAD_INPUT}; "
               f"an unexpected error (a bug) with exit status {EXIT_INTERNAL}: set {DEBUG_ENV}=1 to see "
               "its traceback when reporting it.",
    )
    parser.add_argument("--version", action="version", version=f"tinymlkit {__version__}")
    # Sub-parsers are made with type(parser), so every command inherits the one-line errors.
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def os_error_message(e: OSError) -> str:
    """One line for an operating-system error: the file(s) involved, what happened, what to do."""
    names = [str(n) for n in (e.filename, e.filename2) if n is not None]
    what = e.strerror or str(e) or type(e).__name__
    hint = _OS_HINTS.get(e.errno) if e.errno is not None else None
    head = " -> ".join(names)
    text = f"{head}: {what}" if head else what
    if hint:
        text += f"; {hint}"
    return text


def _debug() -> bool:
    return os.environ.get(DEBUG_ENV, "").strip() not in ("", "0", "false", "no")


def _progress_off_in_logs() -> bool:
    # A progress bar redrawn with carriage returns is noise in a log file and glues itself onto the
    # next line printed; where stderr is not a terminal, tqdm's own switch turns the bars off.
    try:
        tty = sys.stderr.isatty()
    except (AttributeError, ValueError):
        tty = False
    if tty or "TQDM_DISABLE" in os.environ:
        return False
    os.environ["TQDM_DISABLE"] = "1"
    return True


def _error(message: str) -> None:
    print(f"tinymlkit: error: {one_line(message)}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 check failed, 2 bad input, 70 a bug)."""
    set_here = _progress_off_in_logs()
    try:
        return _main(argv)
    finally:
        if set_here:
            os.environ.pop("TQDM_DISABLE", None)


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_BAD_INPUT
    try:
        return int(args.func(args) or 0)
    except KitError as e:
        _error(str(e))
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("tinymlkit: stopped by the user", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader of our output went away (``| head``): nothing more to say, and nowhere to say it.
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - keeps Python from complaining at exit
        except OSError:
            pass
        return 141
    except OSError as e:
        # Read-only or full disks, permissions, paths: the user's to fix, not a bug.
        if _debug():
            raise
        _error(os_error_message(e))
        return EXIT_BAD_INPUT
    except MemoryError:
        if _debug():
            raise
        _error("out of memory: the input is larger than this computer can hold; use a smaller file or "
               "close other programs")
        return EXIT_BAD_INPUT
    except Exception as e:  # a bug: say so on one line, keep the traceback for whoever reports it
        if _debug():
            raise
        _error(f"internal error ({type(e).__name__}: {e}). This is a bug in tinymlkit, not your input; "
               f"run again with {DEBUG_ENV}=1 to see the traceback and report it")
        return EXIT_INTERNAL
