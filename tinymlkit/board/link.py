"""A serial connection to a board that speaks the kit's protocol (pyserial underneath).

Opens the port with messages that name it and say how to fix the usual problems, sends commands,
and delivers decoded frames, giving up a cut frame after a quiet spell. The board (or the virtual
board) disappearing mid-transfer becomes a :class:`PortGone` error instead of a hang.
"""
from __future__ import annotations

import dataclasses
import errno
import math
import sys
import time
from collections import deque
from collections.abc import Iterator

from ..errors import KitError, printable
from . import protocol as p

__all__ = ["PortError", "PortGone", "BoardTimeout", "BoardLink", "open_hint", "clean_message", "board_text",
           "check_seconds", "check_count", "MAX_COUNT", "MAX_WAIT_S"]

MAX_COUNT = 100_000
"""Most clips, frames or results one command asks for (the protocol's counts are 32-bit; 0 means 'until STOP')."""
MAX_WAIT_S = 24 * 3600.0
"""Longest wait or duration accepted (seconds)."""

DEFAULT_BAUD = 115200
"""Ignored by USB CDC (and by a pseudo-terminal); set for boards behind a USB-UART bridge. Never 1200:
opening the Nano 33 BLE's port at 1200 baud is the signal that resets it into its bootloader."""


class PortError(KitError, OSError):
    """A serial port that cannot be opened or used; the message names it and suggests a fix."""


class PortGone(PortError):
    """The port vanished while in use (board unplugged or reset, virtual board stopped)."""


class BoardTimeout(KitError, TimeoutError):
    """The board did not answer in time."""


def open_hint(port: str, err_no: int | None) -> str:
    """What to try when a port cannot be opened, by error number."""
    if err_no in (errno.EACCES, errno.EPERM):
        if sys.platform.startswith("linux"):
            return ("permission denied: add yourself to the port's group and log in again "
                    "(sudo usermod -aG dialout $USER; on Arch/Fedora the group may be 'uucp')")
        return "permission denied: check that no policy blocks access to serial ports"
    if err_no == errno.EBUSY:
        return ("the port is held by another program: close the Arduino IDE's Serial Monitor/Plotter, "
                "'arduino-cli monitor', screen or another notebook, then try again")
    if err_no in (errno.ENOENT, errno.ENODEV, errno.ENXIO):
        return ("no such port: run 'tinymlkit ports' to list them; after a double tap of the reset button "
                "the board runs its bootloader under another port name, press reset once to start the sketch")
    return "check the cable (a charge-only cable carries no data) and run 'tinymlkit ports'"


class BoardLink:
    """One open serial connection speaking the kit's frame protocol."""

    def __init__(self, port: str, *, baudrate: int = DEFAULT_BAUD, stall_timeout: float = 0.5,
                 read_chunk_timeout: float = 0.05) -> None:
        import serial

        self.port = port
        self.stall_timeout = stall_timeout
        self.parser = p.FrameParser()
        self._queue: deque[p.Frame] = deque()
        self._tx_seq = 0
        self._serial_exc = serial.SerialException
        self._write_timeout_exc = serial.SerialTimeoutException
        self.hello_info: p.Hello | None = None
        try:
            self.ser = serial.Serial(port, baudrate=baudrate, timeout=read_chunk_timeout, write_timeout=5.0)
        except serial.SerialException as e:
            err_no = getattr(e, "errno", None)
            raise PortError(f"{port}: cannot open the serial port ({_reason(e)}); {open_hint(port, err_no)}") from None
        except (OSError, ValueError) as e:
            raise PortError(f"{port}: cannot open the serial port ({e}); {open_hint(port, getattr(e, 'errno', None))}") from None

    # -- context manager ----------------------------------------------------------------------
    def __enter__(self) -> "BoardLink":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self, stop: bool = True) -> None:
        """Ask the board to stop streaming (best effort) and close the port."""
        if not getattr(self, "ser", None) or not self.ser.is_open:
            return
        if stop:
            try:
                self.send(p.Command(p.COMMANDS["STOP"]))
            except KitError:
                pass
        try:
            self.ser.close()
        except Exception:  # closing a vanished port may fail; nothing more to do
            pass

    # -- sending ------------------------------------------------------------------------------
    def send(self, msg: p.Message) -> None:
        """Send one message as a frame."""
        data = p.message_frame(msg, self._tx_seq)
        self._tx_seq = (self._tx_seq + 1) & 0xFF
        try:
            self.ser.write(data)
            self.ser.flush()
        except self._write_timeout_exc:
            raise BoardTimeout(f"{self.port}: the board takes no data (write timed out); is a kit sketch running? "
                               "Press reset once.") from None
        except (self._serial_exc, OSError) as e:
            raise PortGone(f"{self.port}: the port went away while sending ({_reason(e)}); "
                           "was the board unplugged or reset, or the virtual board stopped?") from None

    def command(self, op: str, arg: int = 0) -> None:
        """Send a COMMAND by name ('HELLO', 'CAPTURE_AUDIO', ...)."""
        self.send(p.Command(p.COMMANDS[op], arg))

    # -- receiving ----------------------------------------------------------------------------
    def _read_some(self) -> bytes:
        try:
            n = self.ser.in_waiting
            return self.ser.read(n if n > 0 else 1)
        except (self._serial_exc, OSError) as e:
            raise PortGone(f"{self.port}: the port disappeared ({_reason(e)}); was the board unplugged or "
                           "reset, or the virtual board stopped?") from None

    def frames(self, timeout: float | None) -> Iterator[p.Frame]:
        """Yield frames as they arrive; stops after ``timeout`` seconds without one (None: never).

        Frames decoded but not yet taken stay queued for the next call, so stopping early loses nothing.
        """
        last_frame = last_byte = time.monotonic()
        while True:
            while self._queue:
                yield self._queue.popleft()
                last_frame = time.monotonic()
            data = self._read_some()
            now = time.monotonic()
            if data:
                last_byte = now
                self._queue.extend(self.parser.feed(data))
            elif self.parser.pending and now - last_byte > self.stall_timeout:
                self._queue.extend(self.parser.flush_stalled())
                last_byte = now
            if timeout is not None and not self._queue and time.monotonic() - last_frame > timeout:
                return

    def read_frame(self, timeout: float) -> p.Frame | None:
        """The next frame, or None after ``timeout`` seconds without one."""
        for frame in self.frames(timeout):
            return frame
        return None

    def messages(self, timeout: float | None) -> Iterator[p.Message]:
        """Like :meth:`frames`, decoded into typed messages with safe text (malformed payloads raise ProtocolError)."""
        for frame in self.frames(timeout):
            yield clean_message(p.decode_message(frame, self.port))

    def hello(self, timeout: float = 5.0, retry_every: float = 1.0) -> p.Hello:
        """Stop whatever the board streams, ask who it is, and check its protocol version."""
        self.command("STOP")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.command("HELLO")
            for frame in self.frames(min(retry_every, max(0.05, deadline - time.monotonic()))):
                if frame.type == p.TYPE_BY_NAME["HELLO"].code:
                    self.hello_info = clean_message(p.Hello.parse(frame.payload, self.port))
                    self.parser.reset_sequence()
                    return self.hello_info
        raise BoardTimeout(
            f"{self.port}: no answer to HELLO in {timeout:g} s. Is a kit sketch running on the board "
            "(capture_audio, capture_image or an inference sketch)? Press reset once; a board in its "
            "bootloader (after a double tap, LED pulsing) does not answer, and another serial monitor "
            "may be reading the port. For the virtual board, check that 'tinymlkit virtual-board' still runs.")


def board_text(text: str) -> str:
    """Text a board sent, safe to print: control characters (ESC sequences, CR, bidi overrides) made visible."""
    return printable(text, limit=2 * p.MAX_TEXT)


def clean_message(msg: p.Message) -> p.Message:
    """The message with every text field a board controls made safe to show (see :func:`board_text`)."""
    if isinstance(msg, (p.LogLine, p.BoardError)):
        return dataclasses.replace(msg, text=board_text(msg.text))
    if isinstance(msg, p.InferenceResult):
        return dataclasses.replace(msg, label=board_text(msg.label))
    if isinstance(msg, p.Hello):
        return dataclasses.replace(msg, name=board_text(msg.name))
    return msg


def check_seconds(value: float | None, flag: str, allow_none: bool = True) -> float | None:
    """A duration or timeout: a finite number of seconds above 0 (KitError naming ``flag`` otherwise)."""
    if value is None and allow_none:
        return None
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise KitError(f"{flag} {value!r}: give a number of seconds") from None
    if not math.isfinite(v) or v <= 0 or v > MAX_WAIT_S:
        raise KitError(f"{flag} {value!r}: give a number of seconds above 0 and at most {MAX_WAIT_S:g}")
    return v


def check_count(value: int | None, flag: str, allow_none: bool = True) -> int | None:
    """A count of clips/frames/results: a whole number 1..MAX_COUNT (KitError naming ``flag`` otherwise)."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_COUNT:
        raise KitError(f"{flag} {value!r}: give a whole number from 1 to {MAX_COUNT}")
    return value


def _reason(e: BaseException) -> str:
    text = str(e).strip()
    return text or type(e).__name__
