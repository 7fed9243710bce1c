"""Board command line: port listing, the protocol header generator."""
from __future__ import annotations

from tinymlkit.board.c_header import render_c_header
from tinymlkit.board.ports import PortInfo, format_ports, list_ports
from tinymlkit.cli import main


def test_ports_lists_what_pyserial_finds_with_hints(capsys):
    ports = list_ports(include_all=True)
    assert all(isinstance(pi, PortInfo) for pi in ports)
    assert main(["ports"]) == 0
    out = capsys.readouterr().out
    assert "dialout" in out and "double tap" in out and "virtual-board" in out


def test_nano_33_ble_is_marked_and_problems_explained():
    ports = [
        PortInfo("/dev/ttyUSB0", "CP2102 USB to UART", 0x10C4, 0xEA60, "0001", None, True),
        PortInfo("/dev/ttyACM0", "Nano 33 BLE", 0x2341, 0x805A, "ABC", "Arduino Nano 33 BLE / BLE Sense (sketch running)", False),
        PortInfo("/dev/ttyACM1", "Nano 33 BLE", 0x2341, 0x005A, None, "Arduino Nano 33 BLE / BLE Sense (bootloader: press reset once to start the sketch)", True),
    ]
    text = format_ports(ports)
    lines = text.splitlines()
    acm0 = next(ln for ln in lines if "/dev/ttyACM0" in ln)
    acm1 = next(ln for ln in lines if "/dev/ttyACM1" in ln)
    usb0 = next(ln for ln in lines if "/dev/ttyUSB0" in ln)
    assert acm0.startswith("*") and "2341:805a" in acm0 and "no permission" in acm0
    assert acm1.startswith("*") and "bootloader" in acm1 and "press reset once" in acm1
    assert not usb0.startswith("*") and "CP2102" in usb0
    assert ports[2].in_bootloader and not ports[1].in_bootloader and ports[1].is_nano33ble
    assert "no serial ports found" in format_ports([])


def test_generate_protocol_header_writes_and_checks(tmp_path, capsys):
    out = tmp_path / "kit_protocol.h"
    assert main(["generate-protocol-header", "--out", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == render_c_header()
    assert main(["generate-protocol-header", "--out", str(out), "--check"]) == 0
    out.write_text(render_c_header().replace("KIT_CMD_STOP 5u", "KIT_CMD_STOP 9u"), encoding="utf-8")
    assert main(["generate-protocol-header", "--out", str(out), "--check"]) == 1
    assert "out of date" in capsys.readouterr().out
    assert main(["generate-protocol-header", "--check"]) == 0  # the committed library header
