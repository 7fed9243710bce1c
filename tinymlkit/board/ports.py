"""List serial ports and point out the ones that look like an Arduino Nano 33 BLE (by USB VID/PID)."""
from __future__ import annotations

import dataclasses
import os
import sys

__all__ = ["KNOWN_BOARDS", "PortInfo", "list_ports", "format_ports", "PORT_HINTS"]

ARDUINO_VID = 0x2341
"""USB vendor id of Arduino SA."""

KNOWN_BOARDS: dict[tuple[int, int], str] = {
    (ARDUINO_VID, 0x805A): "Arduino Nano 33 BLE / BLE Sense (sketch running)",
    (ARDUINO_VID, 0x005A): "Arduino Nano 33 BLE / BLE Sense (bootloader: press reset once to start the sketch)",
}
"""(VID, PID) -> description. 0x805A is the board running a sketch (mbed_nano core); 0x005A its
bootloader, entered by a double tap of the reset button."""

PORT_HINTS = (
    "No board? Use a data cable (charge-only cables carry no data) and press reset once.",
    "Linux 'permission denied': sudo usermod -aG dialout $USER, then log out and in.",
    "'port busy': close the Arduino IDE Serial Monitor/Plotter or any other program using the port.",
    "Bootloader (LED pulsing after a double tap of reset): the port name changes; press reset once.",
    "No board at all: 'tinymlkit virtual-board' makes a virtual one on a pseudo-terminal.",
)
"""Advice printed under the port list."""


@dataclasses.dataclass(frozen=True)
class PortInfo:
    """One serial port."""

    device: str
    """Path or name to open (/dev/ttyACM0, COM3, /dev/cu.usbmodem1101)."""
    description: str
    """What the operating system says it is."""
    vid: int | None
    """USB vendor id, if USB."""
    pid: int | None
    """USB product id, if USB."""
    serial_number: str | None
    """USB serial number, if any."""
    board: str | None
    """Known board name, if the VID/PID match one."""
    accessible: bool | None
    """Whether this user may open it (checked on POSIX; None where unknown)."""

    @property
    def is_nano33ble(self) -> bool:
        """True for a Nano 33 BLE (either mode)."""
        return self.board is not None

    @property
    def in_bootloader(self) -> bool:
        """True when the board is in its bootloader (no sketch answering)."""
        return (self.vid, self.pid) == (ARDUINO_VID, 0x005A)


def list_ports(include_all: bool = False) -> list[PortInfo]:
    """Serial ports, Nano 33 BLE boards first; legacy on-board serial ports (no USB) only with ``include_all``."""
    from serial.tools import list_ports as lp

    out = []
    for info in lp.comports():
        vid, pid = info.vid, info.pid
        board = KNOWN_BOARDS.get((vid, pid)) if vid is not None else None
        if vid is None and not include_all and info.description in ("n/a", ""):
            continue  # /dev/ttyS*: motherboard UARTs that exist on every Linux machine
        accessible = os.access(info.device, os.R_OK | os.W_OK) if os.name == "posix" else None
        out.append(PortInfo(info.device, info.description or "", vid, pid, info.serial_number, board, accessible))
    out.sort(key=lambda x: (not x.is_nano33ble, x.device))
    return out


def format_ports(ports: list[PortInfo]) -> str:
    """The port list as text, with hints."""
    lines = []
    if not ports:
        lines.append("no serial ports found")
    for pi in ports:
        usb = f"{pi.vid:04x}:{pi.pid:04x}" if pi.vid is not None and pi.pid is not None else "    -    "
        mark = "*" if pi.is_nano33ble else " "
        text = f"{mark} {pi.device:<22} {usb}  {pi.board or pi.description}"
        if pi.accessible is False:
            text += "  [no permission: " + ("sudo usermod -aG dialout $USER" if sys.platform.startswith("linux")
                                            else "check access rights") + "]"
        lines.append(text)
    if any(p.is_nano33ble for p in ports):
        lines.append("* = Arduino Nano 33 BLE (USB 2341:805a, or 2341:005a in its bootloader)")
    lines.append("")
    lines += [f"hint: {h}" for h in PORT_HINTS]
    return "\n".join(lines)
