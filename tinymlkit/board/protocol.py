"""The kit's serial protocol: the one specification, frame encoding, and a resynchronising reader.

Every message between the computer and a board travels in a frame (all integers little-endian)::

    offset  size  field
    0       2     sync bytes 0xA5 0x5A
    2       1     frame type (FRAME_TYPES)
    3       1     sequence number (0..255, +1 per frame from each sender; gaps show lost frames)
    4       4     payload length n (bounded per type; a longer one is refused before it is waited for)
    8       n     payload (layout per type below)
    8+n     4     CRC-32 (IEEE 802.3, zlib's crc32) of bytes 0 .. 8+n-1

The specification is data (:data:`FRAME_TYPES`, :data:`COMMANDS` and the other tables), rendered to
the sketches' C header by :mod:`tinymlkit.board.c_header`, so no constant is typed twice.
``docs/serial_protocol.md`` explains the choices.
"""
from __future__ import annotations

import dataclasses
import struct
import zlib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Union

from ..errors import KitError

if TYPE_CHECKING:  # numpy only where samples become arrays; the protocol itself needs none
    import numpy as np

__all__ = [
    "PROTOCOL_VERSION",
    "SYNC",
    "HEADER_SIZE",
    "CRC_SIZE",
    "FRAME_OVERHEAD",
    "Field",
    "FrameType",
    "FRAME_TYPES",
    "TYPE_BY_CODE",
    "TYPE_BY_NAME",
    "COMMANDS",
    "CAPABILITIES",
    "PIXEL_FORMATS",
    "ERROR_CODES",
    "LOG_LEVELS",
    "STATUS_STATES",
    "TIMING_SOURCES",
    "TIMING_STEPS",
    "ProtocolError",
    "ProtocolVersionError",
    "Frame",
    "crc32",
    "encode_frame",
    "decode_frame",
    "ParserStats",
    "FrameParser",
    "CRC_WORK_PER_BYTE",
    "CRC_WORK_RESERVE",
    "Hello",
    "AudioClip",
    "ImageFrame",
    "InferenceResult",
    "LogLine",
    "Command",
    "BoardError",
    "Status",
    "Timing",
    "Message",
    "decode_message",
    "message_frame",
    "check_version",
    "pixel_format_name",
    "pixel_format_code",
    "frame_bytes_per_pixel",
]

PROTOCOL_VERSION = 1
"""Bumped whenever a frame layout changes; the first two bytes of a hello payload carry it in every version."""

SYNC = b"\xa5\x5a"
"""Start marker of every frame (10100101 01011010: alternating bits, rare in audio and text)."""

HEADER_SIZE = 8
"""Sync (2) + type (1) + sequence (1) + payload length (4)."""

CRC_SIZE = 4
"""CRC-32 after the payload."""

FRAME_OVERHEAD = HEADER_SIZE + CRC_SIZE
"""Bytes a frame adds to its payload."""

CRC32_POLY_REFLECTED = 0xEDB88320
"""CRC-32 (IEEE 802.3) polynomial 0x04C11DB7, bit-reversed; initial value and final XOR 0xFFFFFFFF."""


@dataclasses.dataclass(frozen=True)
class Field:
    """One fixed-size field at the start of a payload."""

    name: str
    """Field name (C constant suffix and Python attribute)."""
    fmt: str
    """struct code: B (u8), H (u16), I (u32), h (i16), i (i32); little-endian."""
    doc: str
    """What the field holds."""

    @property
    def size(self) -> int:
        """Bytes the field takes."""
        return struct.calcsize("<" + self.fmt)


@dataclasses.dataclass(frozen=True)
class FrameType:
    """One kind of frame: its code, who sends it, and its payload layout and limits."""

    name: str
    """Upper-case name (C enum KIT_FRAME_<NAME>)."""
    code: int
    """Value of the header's type byte."""
    sender: str
    """'board' or 'host'."""
    fields: tuple[Field, ...]
    """Fixed part of the payload, in order."""
    tail: str
    """What follows the fixed part ('' for nothing)."""
    max_tail: int
    """Largest tail in bytes: together with the fixed part it bounds the payload length."""
    doc: str
    """What the frame is for."""
    min_payload_override: int | None = None
    """Smallest accepted payload when it is not the fixed part (the hello: only its version is certain)."""
    max_payload_override: int | None = None
    """Largest accepted payload when it is not fixed part + tail (the hello: room for later versions)."""

    @property
    def fixed_size(self) -> int:
        """Bytes of the fixed part."""
        return sum(f.size for f in self.fields)

    @property
    def struct_format(self) -> str:
        """struct format of the fixed part."""
        return "<" + "".join(f.fmt for f in self.fields)

    @property
    def min_payload(self) -> int:
        """Smallest payload a reader accepts for this type."""
        return self.fixed_size if self.min_payload_override is None else self.min_payload_override

    @property
    def max_payload(self) -> int:
        """Largest payload a reader accepts for this type."""
        if self.max_payload_override is not None:
            return self.max_payload_override
        return self.fixed_size + self.max_tail

    def offsets(self) -> list[tuple[Field, int]]:
        """Each fixed field with its byte offset in the payload."""
        out, off = [], 0
        for f in self.fields:
            out.append((f, off))
            off += f.size
        return out


MAX_CLIP_SAMPLES = 32000
"""Largest audio clip in one frame: 2 s at 16 kHz (the board's RAM holds a few such clips)."""
MAX_IMAGE_BYTES = 320 * 240 * 2
"""Largest image frame: QVGA RGB565, the OV7675's largest mode."""
MAX_TEXT = 255
"""Longest log or error text in bytes (UTF-8)."""
MAX_NAME = 64
"""Longest board/firmware name in the hello."""
MAX_LABELS = 64
"""Most scores in one inference result."""
MAX_LABEL_TEXT = 32
"""Longest label name in an inference result."""
MAX_HELLO = 512
"""Largest hello payload in any protocol version, so that a newer board's hello still parses far
enough to report its version."""

FRAME_TYPES: tuple[FrameType, ...] = (
    FrameType(
        "HELLO", 0x01, "board",
        (
            Field("version", "H", "protocol version (PROTOCOL_VERSION); always the first two bytes"),
            Field("capabilities", "H", "bit set of CAPABILITIES"),
            Field("board_id", "I", "32-bit board id (low word of the nRF52840 FICR DEVICEID); 8 hex digits name the speaker"),
            Field("sample_rate", "I", "microphone sample rate in Hz (0: no microphone)"),
            Field("clip_samples", "I", "samples in one audio clip the board records"),
            Field("image_width", "H", "camera frame width in pixels (0: no camera)"),
            Field("image_height", "H", "camera frame height in pixels"),
            Field("pixel_format", "B", "PIXEL_FORMATS code of camera frames"),
            Field("name_len", "B", "bytes of the name that follows"),
        ),
        "name: UTF-8 board/firmware name", MAX_NAME,
        "board info: answer to the HELLO command",
        min_payload_override=2, max_payload_override=MAX_HELLO,
    ),
    FrameType(
        "AUDIO", 0x02, "board",
        (Field("sample_rate", "I", "sample rate of the clip in Hz"),),
        "samples: int16 little-endian", 2 * MAX_CLIP_SAMPLES,
        "one recorded audio clip",
    ),
    FrameType(
        "IMAGE", 0x03, "board",
        (
            Field("width", "H", "frame width in pixels"),
            Field("height", "H", "frame height in pixels"),
            Field("pixel_format", "B", "PIXEL_FORMATS code"),
            Field("reserved0", "B", "0"),
            Field("reserved1", "H", "0"),
        ),
        "pixels: rows top to bottom, width*height*bytes-per-pixel bytes (JPEG: the JPEG file)", MAX_IMAGE_BYTES,
        "one camera frame",
    ),
    FrameType(
        "RESULT", 0x04, "board",
        (
            Field("timestamp_ms", "I", "board time of the inference (millis())"),
            Field("latency_us", "I", "time the model took (micros())"),
            Field("top_index", "B", "index of the best label"),
            Field("top_score", "B", "its score, 0..255"),
            Field("n_scores", "B", "number of scores that follow"),
            Field("label_len", "B", "bytes of the label name after the scores"),
        ),
        "scores: n_scores bytes 0..255, then label: UTF-8 name of the best label", MAX_LABELS + MAX_LABEL_TEXT,
        "one inference result",
    ),
    FrameType(
        "LOG", 0x05, "board",
        (Field("level", "B", "LOG_LEVELS code"),),
        "text: UTF-8", MAX_TEXT,
        "a log line",
    ),
    FrameType(
        "COMMAND", 0x06, "host",
        (
            Field("op", "B", "COMMANDS code"),
            Field("reserved0", "B", "0"),
            Field("reserved1", "H", "0"),
            Field("arg", "I", "argument: number of clips/frames/results (0: until STOP)"),
        ),
        "", 0,
        "a request from the computer",
    ),
    FrameType(
        "ERROR", 0x07, "board",
        (Field("code", "B", "ERROR_CODES code"),),
        "text: UTF-8 explanation", MAX_TEXT,
        "the board could not do what was asked",
    ),
    FrameType(
        "STATUS", 0x08, "board",
        (
            Field("op", "B", "the COMMANDS code this answers"),
            Field("state", "B", "STATUS_STATES code"),
            Field("reserved", "H", "0"),
            Field("count", "I", "frames sent for this command so far"),
        ),
        "", 0,
        "a command started, finished or stopped (so the host knows a batch ended without waiting)",
    ),
    FrameType(
        "TIMING", 0x09, "board",
        (
            Field("source", "B", "TIMING_SOURCES code: MEASURED on the board (micros()) or an ESTIMATE"),
            Field("step", "B", "TIMING_STEPS code: what was timed"),
            Field("reserved", "H", "0"),
            Field("runs", "I", "times the step was timed (0 for an estimate)"),
            Field("min_us", "I", "fastest run in microseconds (an estimate: low end of its range)"),
            Field("median_us", "I", "median run (lower median of the runs held; an estimate: its central value)"),
            Field("max_us", "I", "slowest run (an estimate: high end of its range)"),
            Field("mean_us", "I", "mean of all runs (an estimate: its central value)"),
            Field("clock_hz", "I", "CPU clock the figures were taken at"),
        ),
        "note: UTF-8, what was timed or how the estimate was made", MAX_TEXT,
        "how long a step takes on the board: answer to the BENCH command",
    ),
)
"""Every frame type of protocol version 1 (TIMING and the BENCH command were added compatibly: a board or
host that does not know them skips the frame or answers UNKNOWN_COMMAND)."""

TYPE_BY_CODE = {t.code: t for t in FRAME_TYPES}
"""Frame types by header code."""
TYPE_BY_NAME = {t.name: t for t in FRAME_TYPES}
"""Frame types by name."""
_PAYLOAD_LIMITS = {t.code: (t.min_payload, t.max_payload) for t in FRAME_TYPES}

COMMANDS = {"HELLO": 1, "CAPTURE_AUDIO": 2, "CAPTURE_IMAGE": 3, "START_INFERENCE": 4, "STOP": 5, "BENCH": 6}
"""COMMAND op codes. BENCH: time the next ``arg`` inferences (0: the board's default) and answer with
TIMING frames, then STATUS DONE."""
CAPABILITIES = {"AUDIO": 1, "IMAGE": 2, "INFERENCE": 4, "BENCH": 8}
"""HELLO capability bits."""
TIMING_SOURCES = {"MEASURED": 1, "ESTIMATE": 2}
"""TIMING sources: measured on the board's microsecond timer, or the kit's estimate (virtual board)."""
TIMING_STEPS = {"INFERENCE": 1, "FEATURES": 2, "PIXELS": 3}
"""TIMING steps: the model's Invoke(); one audio frame through the micro frontend to int8; one camera
frame through crop, resize and the int8 table."""
PIXEL_FORMATS = {"NONE": 0, "GRAY8": 1, "RGB565_BE": 2, "RGB565_LE": 3, "JPEG": 4}
"""Pixel format codes: 8-bit gray; RGB565 high byte first (OV767x order) or low byte first; JPEG."""
ERROR_CODES = {"BAD_FRAME": 1, "UNKNOWN_COMMAND": 2, "UNSUPPORTED": 3, "BUSY": 4, "SENSOR": 5, "NO_MODEL": 6}
"""ERROR codes."""
LOG_LEVELS = {"DEBUG": 0, "INFO": 1, "WARNING": 2, "ERROR": 3}
"""LOG levels."""
STATUS_STATES = {"STARTED": 1, "DONE": 2, "STOPPED": 3}
"""STATUS states."""

_BYTES_PER_PIXEL = {"GRAY8": 1, "RGB565_BE": 2, "RGB565_LE": 2}


class ProtocolError(KitError, ValueError):
    """A frame or payload that breaks the protocol; the message says what is wrong."""


class ProtocolVersionError(ProtocolError):
    """The board speaks another protocol version than this tinymlkit."""


def pixel_format_name(code: int) -> str:
    """Name of a pixel format code; ProtocolError if unknown."""
    for k, v in PIXEL_FORMATS.items():
        if v == code:
            return k
    raise ProtocolError(f"unknown pixel format code {code}; known: {PIXEL_FORMATS}")


def pixel_format_code(name: str) -> int:
    """Code of a pixel format name (case-insensitive, e.g. 'rgb565_be')."""
    try:
        return PIXEL_FORMATS[name.upper()]
    except KeyError:
        raise ProtocolError(f"unknown pixel format {name!r}; known: {[k.lower() for k in PIXEL_FORMATS if k != 'NONE']}") from None


def frame_bytes_per_pixel(code: int) -> int | None:
    """Bytes per pixel of a raw format; None for JPEG (variable)."""
    return _BYTES_PER_PIXEL.get(pixel_format_name(code))


def crc32(data: bytes | bytearray | memoryview, crc: int = 0) -> int:
    """CRC-32 (IEEE 802.3), as zlib computes it; ``crc`` continues a previous value."""
    return zlib.crc32(data, crc) & 0xFFFFFFFF


@dataclasses.dataclass(frozen=True)
class Frame:
    """A frame as it travels: type code, sequence number and payload bytes."""

    type: int
    """Frame type code."""
    seq: int
    """Sender's sequence number 0..255."""
    payload: bytes
    """Payload bytes."""

    @property
    def name(self) -> str:
        """Type name, or 'UNKNOWN(0x..)'."""
        t = TYPE_BY_CODE.get(self.type)
        return t.name if t else f"UNKNOWN(0x{self.type:02x})"


def encode_frame(ftype: int | str, payload: bytes, seq: int = 0) -> bytes:
    """A complete frame's bytes; refuses payloads outside the type's limits."""
    spec = TYPE_BY_NAME[ftype] if isinstance(ftype, str) else TYPE_BY_CODE.get(ftype)
    if spec is None:
        raise ProtocolError(f"unknown frame type {ftype!r}")
    n = len(payload)
    if not spec.min_payload <= n <= spec.max_payload:
        raise ProtocolError(f"{spec.name} payload of {n} bytes is outside {spec.min_payload}..{spec.max_payload}")
    head = SYNC + struct.pack("<BBI", spec.code, seq & 0xFF, n)
    body = head + bytes(payload)
    return body + struct.pack("<I", crc32(body))


def decode_frame(data: bytes) -> Frame:
    """Exactly one frame from ``data``, strictly (no garbage allowed); ProtocolError if not."""
    if len(data) < FRAME_OVERHEAD or data[:2] != SYNC:
        raise ProtocolError("not a frame: too short or no sync bytes at the start")
    ftype, seq, n = struct.unpack_from("<BBI", data, 2)
    spec = TYPE_BY_CODE.get(ftype)
    if spec is None:
        raise ProtocolError(f"unknown frame type 0x{ftype:02x}")
    if not spec.min_payload <= n <= spec.max_payload:
        raise ProtocolError(f"{spec.name} frame claims {n} payload bytes, outside {spec.min_payload}..{spec.max_payload}")
    if len(data) != FRAME_OVERHEAD + n:
        raise ProtocolError(f"{spec.name} frame: {len(data)} bytes, expected {FRAME_OVERHEAD + n}")
    (crc,) = struct.unpack_from("<I", data, HEADER_SIZE + n)
    if crc != crc32(data[:HEADER_SIZE + n]):
        raise ProtocolError(f"{spec.name} frame: CRC mismatch")
    return Frame(ftype, seq, bytes(data[HEADER_SIZE:HEADER_SIZE + n]))


@dataclasses.dataclass
class ParserStats:
    """What a reader received and what it had to throw away."""

    frames: int = 0
    """Valid frames delivered."""
    bytes_in: int = 0
    """Bytes fed in."""
    dropped_bytes: int = 0
    """Bytes thrown away while looking for the next valid frame."""
    resyncs: int = 0
    """Runs of dropped bytes (each one a loss of synchronisation)."""
    crc_errors: int = 0
    """Frames whose CRC did not match (damaged or not a frame)."""
    bad_lengths: int = 0
    """Headers whose length was outside the type's limits."""
    unknown_types: int = 0
    """Headers with a type code this version does not know."""
    cut_frames: int = 0
    """Frames that stopped arriving before their end."""
    seq_gaps: int = 0
    """Frames missing according to the sequence numbers."""
    crc_bytes: int = 0
    """Bytes run through the CRC while checking candidate frames (bounded: see :data:`CRC_WORK_PER_BYTE`)."""
    unchecked_headers: int = 0
    """Candidate headers given up without a CRC check because the stream had used up its CRC budget."""

    @property
    def clean(self) -> bool:
        """True if nothing was dropped or missed."""
        return self.dropped_bytes == 0 and self.seq_gaps == 0

    def describe(self) -> str:
        """One line for the user."""
        if self.clean:
            return f"{self.frames} frames, {self.bytes_in} bytes, no errors"
        parts = [f"{self.frames} frames", f"dropped {self.dropped_bytes} bytes in {self.resyncs} resync(s)"]
        for name in ("crc_errors", "bad_lengths", "unknown_types", "cut_frames", "seq_gaps", "unchecked_headers"):
            v = getattr(self, name)
            if v:
                parts.append(f"{name.replace('_', ' ')} {v}")
        return ", ".join(parts)


CRC_WORK_PER_BYTE = 4
"""CRC bytes the reader may spend per byte received. A valid stream needs 1 (each frame is checked
once); a false header claiming a 150 KB image costs 150 KB of CRC, so a stream made of such headers
would cost the host seconds per few hundred KB without a bound."""

CRC_WORK_RESERVE = 2 * (FRAME_OVERHEAD + MAX_IMAGE_BYTES + 8)
"""Most unspent CRC budget the reader keeps: two of the largest frames, enough for a damaged frame
and the good one after it, while a long clean stream cannot bank credit for a later flood."""


class FrameParser:
    """Incremental frame reader that resynchronises after garbage, damage or a cut frame.

    Feed it bytes as they arrive; it returns the valid frames and counts what it dropped. After a
    bad CRC or length it drops a single byte and looks for the next sync marker, so a good frame
    that followed a damaged one inside the buffered bytes is still found. A frame that stops
    arriving is given up by :meth:`flush_stalled`, which the serial reader calls after a quiet spell.

    CRC work is bounded: each byte fed earns :data:`CRC_WORK_PER_BYTE` bytes of checking (kept up to
    :data:`CRC_WORK_RESERVE`). A candidate frame the budget cannot pay for is given up unchecked
    (``stats.unchecked_headers``), which only happens in a flood of false headers.
    """

    def __init__(self, accept: Iterable[int] | None = None) -> None:
        self._buf = bytearray()
        self._dropping = False
        self._last_seq: int | None = None
        self._crc_budget = CRC_WORK_RESERVE
        self.accept = set(accept) if accept is not None else set(TYPE_BY_CODE)
        self.stats = ParserStats()

    @property
    def pending(self) -> int:
        """Bytes held waiting for the rest of a frame."""
        return len(self._buf)

    def reset_sequence(self) -> None:
        """Forget the last sequence number (the sender restarted)."""
        self._last_seq = None

    def _drop(self, n: int) -> None:
        if n <= 0:
            return
        del self._buf[:n]
        self.stats.dropped_bytes += n
        if not self._dropping:
            self.stats.resyncs += 1
            self._dropping = True

    def feed(self, data: bytes | bytearray | memoryview) -> list[Frame]:
        """Add received bytes; returns every frame they completed."""
        self.stats.bytes_in += len(data)
        self._crc_budget = min(CRC_WORK_RESERVE, self._crc_budget + CRC_WORK_PER_BYTE * len(data))
        self._buf += data
        return self._parse()

    def _parse(self, stalled: bool = False) -> list[Frame]:
        out: list[Frame] = []
        buf = self._buf
        while buf:
            i = buf.find(SYNC)
            if i < 0:
                # Keep a trailing first sync byte: its partner may be in the next read.
                self._drop(len(buf) - (1 if buf[-1] == SYNC[0] else 0))
                break
            self._drop(i)
            if len(buf) < HEADER_SIZE:
                break
            ftype, seq, n = struct.unpack_from("<BBI", buf, 2)
            limits = _PAYLOAD_LIMITS.get(ftype)
            if limits is None or ftype not in self.accept:
                self.stats.unknown_types += 1
                self._drop(1)
                continue
            if not limits[0] <= n <= limits[1]:
                self.stats.bad_lengths += 1
                self._drop(1)
                continue
            total = FRAME_OVERHEAD + n
            if len(buf) < total:
                if stalled:  # nothing more is coming: this candidate can never complete
                    self.stats.cut_frames += 1
                    self._drop(1)
                    continue
                break
            if HEADER_SIZE + n > self._crc_budget:
                self.stats.unchecked_headers += 1
                self._drop(1)
                continue
            self._crc_budget -= HEADER_SIZE + n
            self.stats.crc_bytes += HEADER_SIZE + n
            (crc,) = struct.unpack_from("<I", buf, HEADER_SIZE + n)
            with memoryview(buf) as view:  # no copy of up to 150 KB per candidate
                actual = crc32(view[:HEADER_SIZE + n])
            if crc != actual:
                self.stats.crc_errors += 1
                self._drop(1)
                continue
            out.append(Frame(ftype, seq, bytes(buf[HEADER_SIZE:HEADER_SIZE + n])))
            del buf[:total]
            self._dropping = False
            self.stats.frames += 1
            if self._last_seq is not None:
                self.stats.seq_gaps += (seq - self._last_seq - 1) & 0xFF
            self._last_seq = seq
        return out

    def flush_stalled(self) -> list[Frame]:
        """Give up frames that stopped arriving and deliver every complete frame among the held bytes.

        Every candidate whose declared length runs past the held bytes is given up in this one call
        (not one per quiet spell), so a run of false headers cannot hold good frames back for long.
        """
        if not self._buf:
            return []
        if len(self._buf) >= HEADER_SIZE and self._buf[:2] == SYNC:
            self.stats.cut_frames += 1
        self._drop(1)
        out = self._parse(stalled=True)
        # A lone first sync byte at the end may still be completed by the next read: keep it.
        return out


# --- Typed payloads -------------------------------------------------------------------------

def _unpack(spec: FrameType, payload: bytes) -> tuple[tuple[int, ...], bytes]:
    if not spec.min_payload <= len(payload) <= spec.max_payload or len(payload) < spec.fixed_size:
        raise ProtocolError(f"{spec.name} payload of {len(payload)} bytes; expected "
                            f"{spec.fixed_size}..{spec.max_payload}")
    return struct.unpack_from(spec.struct_format, payload, 0), payload[spec.fixed_size:]


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


def check_version(payload: bytes, port: str = "the board") -> int:
    """The version of a hello payload; ProtocolVersionError with what to do when it is not ours."""
    if len(payload) < 2:
        raise ProtocolError(f"{port}: hello frame too short to hold a protocol version")
    (version,) = struct.unpack_from("<H", payload, 0)
    if version != PROTOCOL_VERSION:
        if version > PROTOCOL_VERSION:
            fix = "update tinymlkit (pip install -U tinymlkit) to the version that came with the sketch"
        else:
            fix = "flash the sketch from this kit's arduino_sketches/ folder (it was built for an older kit)"
        raise ProtocolVersionError(
            f"{port}: the board speaks serial protocol version {version}, this tinymlkit speaks version "
            f"{PROTOCOL_VERSION}; {fix}")
    return version


@dataclasses.dataclass(frozen=True)
class Hello:
    """Board info, sent in answer to the HELLO command."""

    board_id: int
    """32-bit board id."""
    name: str = ""
    """Board/firmware name."""
    capabilities: int = 0
    """Bit set of CAPABILITIES."""
    sample_rate: int = 0
    """Microphone rate (0: none)."""
    clip_samples: int = 0
    """Samples per recorded clip."""
    image_width: int = 0
    """Camera frame width (0: no camera)."""
    image_height: int = 0
    """Camera frame height."""
    pixel_format: int = 0
    """PIXEL_FORMATS code of camera frames."""
    version: int = PROTOCOL_VERSION
    """Protocol version the board speaks."""

    SPEC = TYPE_BY_NAME["HELLO"]

    @property
    def board_hex(self) -> str:
        """The board id as 8 lower-case hex digits (the speaker id of its recordings)."""
        return f"{self.board_id & 0xFFFFFFFF:08x}"

    def can(self, capability: str) -> bool:
        """True if the board has a capability ('AUDIO', 'IMAGE', 'INFERENCE')."""
        return bool(self.capabilities & CAPABILITIES[capability])

    def payload(self) -> bytes:
        """Payload bytes."""
        name = self.name.encode("utf-8")[:MAX_NAME]
        return struct.pack(self.SPEC.struct_format, self.version, self.capabilities, self.board_id & 0xFFFFFFFF,
                           self.sample_rate, self.clip_samples, self.image_width, self.image_height,
                           self.pixel_format, len(name)) + name

    @classmethod
    def parse(cls, payload: bytes, port: str = "the board") -> "Hello":
        """Decode; checks the version first so a newer board gets a clear message."""
        check_version(payload, port)
        (ver, caps, bid, rate, samples, w, h, fmt, name_len), tail = _unpack(cls.SPEC, payload)
        if name_len > len(tail):
            raise ProtocolError(f"{port}: hello name length {name_len} exceeds the {len(tail)} bytes sent")
        return cls(bid, _text(tail[:name_len]), caps, rate, samples, w, h, fmt, ver)


@dataclasses.dataclass(frozen=True)
class AudioClip:
    """One recorded clip: int16 samples."""

    sample_rate: int
    """Samples per second."""
    samples: bytes
    """int16 little-endian samples."""

    SPEC = TYPE_BY_NAME["AUDIO"]

    @property
    def num_samples(self) -> int:
        """Number of samples."""
        return len(self.samples) // 2

    def array(self) -> "np.ndarray":
        """Samples as an int16 numpy array."""
        import numpy as np

        return np.frombuffer(self.samples, dtype="<i2").astype(np.int16)

    def payload(self) -> bytes:
        """Payload bytes."""
        return struct.pack(self.SPEC.struct_format, self.sample_rate) + bytes(self.samples)

    @classmethod
    def parse(cls, payload: bytes) -> "AudioClip":
        """Decode."""
        (rate,), tail = _unpack(cls.SPEC, payload)
        if len(tail) % 2:
            raise ProtocolError(f"audio frame holds {len(tail)} sample bytes, not a whole number of int16 samples")
        return cls(rate, bytes(tail))


@dataclasses.dataclass(frozen=True)
class ImageFrame:
    """One camera frame in its raw pixel format."""

    width: int
    """Pixels per row."""
    height: int
    """Rows."""
    pixel_format: int
    """PIXEL_FORMATS code."""
    data: bytes
    """Pixel bytes (or the JPEG file)."""

    SPEC = TYPE_BY_NAME["IMAGE"]

    def payload(self) -> bytes:
        """Payload bytes."""
        return struct.pack(self.SPEC.struct_format, self.width, self.height, self.pixel_format, 0, 0) + bytes(self.data)

    @classmethod
    def parse(cls, payload: bytes) -> "ImageFrame":
        """Decode; checks that the pixel bytes match width x height x bytes per pixel."""
        (w, h, fmt, _r0, _r1), tail = _unpack(cls.SPEC, payload)
        bpp = frame_bytes_per_pixel(fmt)
        if fmt == PIXEL_FORMATS["NONE"]:
            raise ProtocolError("image frame with pixel format NONE")
        if bpp is not None and len(tail) != w * h * bpp:
            raise ProtocolError(f"image frame {w}x{h} {pixel_format_name(fmt)} should hold {w * h * bpp} bytes, "
                                f"it holds {len(tail)}")
        return cls(w, h, fmt, bytes(tail))


@dataclasses.dataclass(frozen=True)
class InferenceResult:
    """One inference on the board: best label, its score, all scores, and the time it took."""

    timestamp_ms: int
    """Board time (millis())."""
    latency_us: int
    """Model time on the board (micros())."""
    top_index: int
    """Index of the best label."""
    top_score: int
    """Its score 0..255."""
    scores: bytes
    """Every label's score 0..255."""
    label: str
    """Name of the best label."""

    SPEC = TYPE_BY_NAME["RESULT"]

    def payload(self) -> bytes:
        """Payload bytes."""
        label = self.label.encode("utf-8")[:MAX_LABEL_TEXT]
        return struct.pack(self.SPEC.struct_format, self.timestamp_ms & 0xFFFFFFFF, self.latency_us & 0xFFFFFFFF,
                           self.top_index, self.top_score, len(self.scores), len(label)) + bytes(self.scores) + label

    @classmethod
    def parse(cls, payload: bytes) -> "InferenceResult":
        """Decode."""
        (ts, lat, top, score, n, ln), tail = _unpack(cls.SPEC, payload)
        if n + ln != len(tail):
            raise ProtocolError(f"result frame announces {n} scores and a {ln}-byte label but carries {len(tail)} bytes")
        return cls(ts, lat, top, score, bytes(tail[:n]), _text(tail[n:]))


@dataclasses.dataclass(frozen=True)
class LogLine:
    """A log line from the board."""

    level: int
    """LOG_LEVELS code."""
    text: str
    """The message."""

    SPEC = TYPE_BY_NAME["LOG"]

    def payload(self) -> bytes:
        """Payload bytes."""
        return struct.pack(self.SPEC.struct_format, self.level) + self.text.encode("utf-8")[:MAX_TEXT]

    @classmethod
    def parse(cls, payload: bytes) -> "LogLine":
        """Decode."""
        (level,), tail = _unpack(cls.SPEC, payload)
        return cls(level, _text(tail))


@dataclasses.dataclass(frozen=True)
class Command:
    """A request from the computer."""

    op: int
    """COMMANDS code."""
    arg: int = 0
    """Count of clips/frames/results (0: until STOP)."""

    SPEC = TYPE_BY_NAME["COMMAND"]

    def payload(self) -> bytes:
        """Payload bytes."""
        return struct.pack(self.SPEC.struct_format, self.op, 0, 0, self.arg & 0xFFFFFFFF)

    @classmethod
    def parse(cls, payload: bytes) -> "Command":
        """Decode."""
        (op, _r0, _r1, arg), _ = _unpack(cls.SPEC, payload)
        return cls(op, arg)


@dataclasses.dataclass(frozen=True)
class BoardError:
    """The board could not do what was asked."""

    code: int
    """ERROR_CODES code."""
    text: str
    """The board's explanation."""

    SPEC = TYPE_BY_NAME["ERROR"]

    def payload(self) -> bytes:
        """Payload bytes."""
        return struct.pack(self.SPEC.struct_format, self.code) + self.text.encode("utf-8")[:MAX_TEXT]

    @classmethod
    def parse(cls, payload: bytes) -> "BoardError":
        """Decode."""
        (code,), tail = _unpack(cls.SPEC, payload)
        return cls(code, _text(tail))

    @property
    def code_name(self) -> str:
        """Name of the error code."""
        return next((k for k, v in ERROR_CODES.items() if v == self.code), f"code {self.code}")


@dataclasses.dataclass(frozen=True)
class Status:
    """A command started, finished or was stopped."""

    op: int
    """The COMMANDS code it answers."""
    state: int
    """STATUS_STATES code."""
    count: int = 0
    """Frames sent for that command."""

    SPEC = TYPE_BY_NAME["STATUS"]

    def payload(self) -> bytes:
        """Payload bytes."""
        return struct.pack(self.SPEC.struct_format, self.op, self.state, 0, self.count & 0xFFFFFFFF)

    @classmethod
    def parse(cls, payload: bytes) -> "Status":
        """Decode."""
        (op, state, _r, count), _ = _unpack(cls.SPEC, payload)
        return cls(op, state, count)


@dataclasses.dataclass(frozen=True)
class Timing:
    """How long one step takes on the board (measured), or the kit's estimate of it."""

    source: int
    """TIMING_SOURCES code."""
    step: int
    """TIMING_STEPS code."""
    runs: int
    """Times the step was timed (0 for an estimate)."""
    min_us: int
    """Fastest run, microseconds (estimate: low end)."""
    median_us: int
    """Median run (estimate: central value)."""
    max_us: int
    """Slowest run (estimate: high end)."""
    mean_us: int
    """Mean run (estimate: central value)."""
    clock_hz: int
    """CPU clock."""
    note: str = ""
    """What was timed, or how the estimate was made."""

    SPEC = TYPE_BY_NAME["TIMING"]

    @property
    def is_estimate(self) -> bool:
        """True when the figures are the kit's estimate, not a measurement on a board."""
        return self.source == TIMING_SOURCES["ESTIMATE"]

    @property
    def step_name(self) -> str:
        """Name of the step ('INFERENCE', 'FEATURES', 'PIXELS'), or 'step N'."""
        return next((k for k, v in TIMING_STEPS.items() if v == self.step), f"step {self.step}")

    def payload(self) -> bytes:
        """Payload bytes."""
        return struct.pack(self.SPEC.struct_format, self.source, self.step, 0, self.runs & 0xFFFFFFFF,
                           self.min_us & 0xFFFFFFFF, self.median_us & 0xFFFFFFFF, self.max_us & 0xFFFFFFFF,
                           self.mean_us & 0xFFFFFFFF, self.clock_hz & 0xFFFFFFFF) + self.note.encode("utf-8")[:MAX_TEXT]

    @classmethod
    def parse(cls, payload: bytes) -> "Timing":
        """Decode; ProtocolError when the figures are not in order (min <= median <= max)."""
        (source, step, _r, runs, lo, med, hi, mean, clock), tail = _unpack(cls.SPEC, payload)
        if source not in TIMING_SOURCES.values():
            raise ProtocolError(f"timing frame with unknown source code {source}")
        if not lo <= med <= hi:
            raise ProtocolError(f"timing frame figures out of order: min {lo}, median {med}, max {hi} us")
        return cls(source, step, runs, lo, med, hi, mean, clock, _text(tail))


Message = Union[Hello, AudioClip, ImageFrame, InferenceResult, LogLine, Command, BoardError, Status, Timing]
_MESSAGE_CLASSES = {c.SPEC.code: c for c in (Hello, AudioClip, ImageFrame, InferenceResult, LogLine, Command,
                                             BoardError, Status, Timing)}


def decode_message(frame: Frame, port: str = "the board") -> Message:
    """The typed message a frame carries; ProtocolError if its payload is malformed."""
    cls = _MESSAGE_CLASSES.get(frame.type)
    if cls is None:
        raise ProtocolError(f"{port}: unknown frame type 0x{frame.type:02x}")
    if cls is Hello:
        return Hello.parse(frame.payload, port)
    return cls.parse(frame.payload)


def message_frame(msg: Message, seq: int = 0) -> bytes:
    """A typed message as a complete frame."""
    return encode_frame(msg.SPEC.code, msg.payload(), seq)

