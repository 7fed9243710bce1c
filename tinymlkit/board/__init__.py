"""The board side of the course: one serial protocol, port discovery, capture, monitor, virtual board.

For notebooks::

    from tinymlkit.board import VirtualBoard, capture, monitor, list_ports

    board = VirtualBoard()            # or a real board's port from list_ports()
    port = board.start()
    capture(port, "audio", "yes", 20, "my_dataset")
    board.stop()

Modules: ``protocol`` (the specification, frames, the resynchronising reader), ``c_header`` and
``spec_doc`` (its C header and document tables), ``link`` (a pyserial connection), ``ports``,
``capture``, ``monitor``, ``camera`` (pixel formats), ``virtual`` (the pseudo-terminal board).
"""
from typing import Any

from .capture import CaptureError, CaptureReport, capture, dataset_summary, format_summary
from .link import BoardLink, BoardTimeout, PortError, PortGone
from .monitor import MonitorReport, Result, monitor, plot_results
from .ports import PortInfo, format_ports, list_ports
from .protocol import PROTOCOL_VERSION, FrameParser, ProtocolError, ProtocolVersionError


def __getattr__(name: str) -> Any:
    # VirtualBoard loads on first use, so ``python -m tinymlkit.board.virtual`` does not import itself twice.
    if name == "VirtualBoard":
        from .virtual import VirtualBoard

        return VirtualBoard
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "PROTOCOL_VERSION",
    "BoardLink",
    "BoardTimeout",
    "CaptureError",
    "CaptureReport",
    "FrameParser",
    "MonitorReport",
    "PortError",
    "PortGone",
    "PortInfo",
    "ProtocolError",
    "ProtocolVersionError",
    "Result",
    "VirtualBoard",
    "capture",
    "dataset_summary",
    "format_ports",
    "format_summary",
    "list_ports",
    "monitor",
    "plot_results",
]
