"""The board side of the course: one serial protocol, port discovery, capture, monitor, virtual board.

For notebooks::

    from tinymlkit.board import capture, monitor, list_ports
    from tinymlkit.board.virtual import VirtualBoard

    board = VirtualBoard()            # or a real board's port from list_ports()
    # with a model: VirtualBoard(model=board_input(RUN / "config.json", RUN / "model_int8.tflite"))
    port = board.start()
    capture(port, "audio", "yes", 20, "my_dataset")
    board.stop()

Modules: ``protocol`` (the specification, frames, the resynchronising reader), ``c_header`` and
``spec_doc`` (its C header and document tables), ``link`` (a pyserial connection), ``ports``,
``capture``, ``monitor``, ``camera`` (pixel formats), ``virtual`` (the pseudo-terminal board).

May import: errors, files, config, targets and the other layer-1 modules (audio, vision). ``virtual``
runs a model only through the board input it is given (``tinymlkit.board_input``, built by its caller:
the CLI's ``virtual-board``, a notebook, a test), so the whole package stays in layer 1; it is imported
as ``tinymlkit.board.virtual``, not from here.
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
