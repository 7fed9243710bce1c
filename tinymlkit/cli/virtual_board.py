"""The virtual board's command line: ``tinymlkit virtual-board`` and ``python -m tinymlkit.cli.virtual_board``.

It turns --model and --config into the model's board input (:mod:`tinymlkit.board_input`) and hands it
to :class:`tinymlkit.board.virtual.VirtualBoard`, which only serves the protocol.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ..board import protocol as p
from ..board.virtual import CAMERA_SIZE, FAULT_KINDS, VirtualBoard
from ..errors import KitError

__all__ = ["add_arguments", "board_from_args", "main", "run"]


def _parse_fault(text: str) -> tuple[int, str]:
    try:
        index, kind = text.split(":", 1)
        return int(index), kind
    except ValueError:
        raise argparse.ArgumentTypeError(f"--fault expects INDEX:KIND such as 3:bad_crc, got {text!r}") from None


def add_arguments(ap: argparse.ArgumentParser) -> None:
    """The virtual board's command-line options (shared by ``tinymlkit virtual-board``)."""
    ap.add_argument("--audio", metavar="DIR", help="folder of .wav clips to 'record' (default: generated clips)")
    ap.add_argument("--images", metavar="DIR", help="folder of images to 'see' (default: generated frames)")
    ap.add_argument("--model", metavar="M.tflite", help="model to run for inference results")
    ap.add_argument("--config", metavar="C.json", help="the model's run config (config.json)")
    ap.add_argument("--board-id", metavar="HEX", type=_board_id, default=None,
                    help="8-hex-digit board id (default: from this computer's name)")
    ap.add_argument("--camera", metavar="WxH", default=f"{CAMERA_SIZE[0]}x{CAMERA_SIZE[1]}",
                    help="camera frame size (default 160x120)")
    ap.add_argument("--pixel-format", default="rgb565_be", choices=["gray8", "rgb565_be", "rgb565_le", "jpeg"],
                    help="camera pixel format (default rgb565_be, the OV7675's byte order)")
    ap.add_argument("--interval", type=_interval, default=0.0, metavar="S",
                    help="seconds between clips/frames/results (default 0: as fast as the port takes them)")
    ap.add_argument("--fault", action="append", type=_parse_fault, default=[], metavar="INDEX:KIND",
                    help=f"damage data frame INDEX on purpose (testing); KIND in {', '.join(FAULT_KINDS)}")
    ap.add_argument("--seed", type=int, default=0, help="seed of generated clips/frames and of faults")
    ap.add_argument("--protocol-version", type=int, default=p.PROTOCOL_VERSION, help=argparse.SUPPRESS)


def _board_id(text: str) -> int:
    """An argparse type: a board id of 1 to 8 hexadecimal digits (the protocol carries 32 bits)."""
    t = text.strip().lower().removeprefix("0x")
    if not 1 <= len(t) <= 8 or any(c not in "0123456789abcdef" for c in t):
        raise argparse.ArgumentTypeError(f"{text!r}: give 1 to 8 hexadecimal digits, e.g. 0c0ffee0")
    return int(t, 16)


def _interval(text: str) -> float:
    """An argparse type: seconds between results, finite, from 0 to 60."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not (0.0 <= v <= 60.0):  # also refuses NaN
        raise argparse.ArgumentTypeError(f"{text}: give 0 to 60 seconds")
    return v


def _camera(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise KitError(f"--camera expects WIDTHxHEIGHT such as 160x120, got {text!r}") from None
    if not (8 <= w <= 320 and 8 <= h <= 240):
        raise KitError(f"--camera {text}: width 8..320 and height 8..240 (the protocol's QVGA limit)")
    return w, h


def board_from_args(args: argparse.Namespace) -> VirtualBoard:
    """A VirtualBoard configured from parsed command-line options (--model and --config go together)."""
    model = None
    if (args.model is None) != (args.config is None):
        raise KitError("the virtual board needs both --model and --config to run inference")
    if args.model is not None:
        from ..board_input import BoardInput
        from ..runtime import ModelRunner

        # The model first: a damaged one is named before anything is said about its config.
        runner = ModelRunner(args.model)
        model = BoardInput(args.config, runner)
    return VirtualBoard(args.audio, args.images, model=model, board_id=args.board_id,
                        camera_size=_camera(args.camera), pixel_format=args.pixel_format, interval=args.interval,
                        faults=dict(args.fault), seed=args.seed, protocol_version=args.protocol_version)


def run(args: argparse.Namespace) -> int:
    """Open the board, print its path on stdout (first line), serve until interrupted."""
    board = board_from_args(args)
    port = board.open()
    print(port, flush=True)
    print(f"tinymlkit: virtual board {board.board_id:08x} on {port} (Ctrl-C to stop). Try:\n"
          f"  tinymlkit capture audio --port {port} --label yes --count 5 --out my_dataset",
          file=sys.stderr, flush=True)
    try:
        board.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        board.stop()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m tinymlkit.cli.virtual_board``: the virtual board without loading the whole CLI."""
    ap = argparse.ArgumentParser(prog="python -m tinymlkit.cli.virtual_board", description=__doc__.split("\n")[0])
    add_arguments(ap)
    args = ap.parse_args(argv)
    try:
        return run(args)
    except KitError as e:
        print(f"tinymlkit: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
