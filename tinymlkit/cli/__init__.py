"""The ``tinymlkit`` command: one sub-command module per area, each with a ``register`` function."""
from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from ..errors import KitError

# Each module defines register(subparsers) and sets a ``func`` default on its parsers.
COMMAND_MODULES = (
    "tinymlkit.cli.kws_cmd",
    "tinymlkit.cli.export_cmd",
    "tinymlkit.cli.data_cmd",
    "tinymlkit.cli.vww_cmd",
    "tinymlkit.cli.board_cmd",
    "tinymlkit.cli.inspect_cmd",
)

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every sub-command registered."""
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="tinymlkit",
        description="TinyML Course Kit: from sensor data to an int8 model on the Arduino Nano 33 BLE Sense.",
    )
    parser.add_argument("--version", action="version", version=f"tinymlkit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 check failed, 2 bad input)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KitError as e:
        print(f"tinymlkit: error: {e}", file=sys.stderr)
        return 2
    except (FileNotFoundError, FileExistsError, PermissionError, IsADirectoryError) as e:
        print(f"tinymlkit: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("tinymlkit: stopped by the user", file=sys.stderr)
        return 130
