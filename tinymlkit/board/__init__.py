"""The board side of the course: one serial protocol, port discovery, capture, monitor, virtual board.

For notebooks::

    from tinymlkit.board import capture, monitor, list_ports
    from tinymlkit.board.virtual import VirtualBoard

    board = VirtualBoard()            # or a real board's port from list_ports()
    port = board.start()
    capture(port, "audio", "yes", 20, "my_dataset")
    board.stop()

Modules: ``protocol`` (the specification, frames, the resynchronising reader), ``c_header`` and
``spec_doc`` (its C header and document tables), ``link`` (a pyserial connection), ``ports``,
``capture``, ``monitor``, ``camera`` (pixel formats), ``virtual`` (the pseudo-terminal board).

May import: errors, files, config and the other bottom-layer modules (audio, vision). ``virtual`` runs a
model (runtime, inspect), so it sits one layer up and is imported as ``tinymlkit.board.virtual``, never from here.
"""
from .capture import CaptureError, CaptureReport, capture, dataset_summary, format_summary
from .link import BoardLink, BoardTimeout, PortError, PortGone
from .monitor import MonitorReport, Result, monitor, plot_results
from .ports import PortInfo, format_ports, list_ports
from .protocol import PROTOCOL_VERSION, FrameParser, ProtocolError, ProtocolVersionError


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
    "capture",
    "dataset_summary",
    "format_ports",
    "format_summary",
    "list_ports",
    "monitor",
    "plot_results",
]
