"""A virtual board: the capture and inference sketches' side of the protocol, on a pseudo-terminal.

It opens a pty, and anything that takes a serial port (``tinymlkit capture``, ``monitor``, pyserial)
can open its path like a board's. It answers HELLO, records clips and frames from folders (or makes
them up), and, given a model's board input (``tinymlkit.board_input.board_input(config, model)``),
streams inference results computed on it (the TFLM interpreter) exactly as the sketch feeds the
model. Tests, Colab and a class waiting for kits use it to go through the same steps. Asked to BENCH, it answers with the kit's latency estimate for the model, marked as an estimate (a virtual
board has no clock worth measuring).

For tests it can also misbehave on purpose (``faults``): garbage before a frame, a frame cut in
half, a bad CRC, or an impossible length.
"""
from __future__ import annotations

import dataclasses
import os
import random
import select
import socket
import threading
import time
from pathlib import Path
from typing import Protocol

import numpy as np

from ..errors import KitError
from . import protocol as p
from .camera import camera_view, encode_pixels

__all__ = [
    "CAMERA_SIZE",
    "FAULT_KINDS",
    "InputPath",
    "AudioSource",
    "ImageSource",
    "VirtualBoard",
    "default_board_id",
    "generated_clip",
    "generated_image",
]

FAULT_KINDS = ("garbage", "cut", "bad_crc", "too_long")
"""Ways the virtual board can damage a data frame on purpose (for tests)."""

CAMERA_SIZE = (160, 120)
"""Default camera frame (QQVGA), a mode of the OV7675 on the Tiny Machine Learning Kit."""


def default_board_id() -> int:
    """A stable id for this computer's virtual board: CRC-32 of the host name."""
    return p.crc32(socket.gethostname().encode("utf-8"))


def generated_clip(index: int, seed: int = 0, samples: int = 16000, rate: int = 16000) -> np.ndarray:
    """A made-up 1 s clip (int16): a tone burst at a pitch set by the index, in light noise."""
    rng = np.random.default_rng([seed, index])
    t = np.arange(samples) / rate
    freq = 200.0 + 40.0 * (index % 40)
    env = np.exp(-((t - 0.5) ** 2) / (2 * 0.12 ** 2))
    x = 0.4 * env * np.sin(2 * np.pi * freq * t) + 0.01 * rng.standard_normal(samples)
    return np.clip(np.round(x * 32767), -32768, 32767).astype(np.int16)


def generated_image(index: int, seed: int = 0, size: tuple[int, int] = CAMERA_SIZE) -> np.ndarray:
    """A made-up RGB frame (uint8 H, W, 3): a colour gradient with a square whose place depends on the index."""
    w, h = size
    rng = np.random.default_rng([seed, index])
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([(xx * 255 // max(1, w - 1)), (yy * 255 // max(1, h - 1)),
                    np.full_like(xx, (index * 37) % 256)], axis=2).astype(np.uint8)
    s = max(4, min(w, h) // 4)
    x0, y0 = int(rng.integers(0, w - s)), int(rng.integers(0, h - s))
    img[y0:y0 + s, x0:x0 + s] = rng.integers(0, 256, size=3, dtype=np.uint8)
    return img


class AudioSource:
    """Clips the virtual microphone 'records': WAV files of a folder in turn, or generated ones."""

    def __init__(self, folder: str | os.PathLike[str] | None = None, seed: int = 0,
                 sample_rate: int = 16000, samples: int = 16000) -> None:
        self.sample_rate, self.samples, self.seed = sample_rate, samples, seed
        self.files: list[Path] = []
        if folder is not None:
            folder = Path(folder)
            if not folder.is_dir():
                raise KitError(f"{folder}: no such audio folder for the virtual board")
            self.files = sorted(f for f in folder.rglob("*.wav") if "_background_noise_" not in f.parts)
            if not self.files:
                raise KitError(f"{folder}: no .wav files in this folder (or its sub-folders)")

    def describe(self) -> str:
        """One line for the log."""
        return f"{len(self.files)} clips from a folder" if self.files else "generated clips"

    def clip(self, index: int) -> np.ndarray:
        """Clip number ``index`` as int16 samples (folders repeat when exhausted)."""
        if not self.files:
            return generated_clip(index, self.seed, self.samples, self.sample_rate)
        from ..audio.wav import load_clip

        x = load_clip(self.files[index % len(self.files)], self.sample_rate, self.samples, allow_resample=True)
        return np.clip(np.round(x * 32768.0), -32768, 32767).astype(np.int16)


class ImageSource:
    """Frames the virtual camera 'sees': images of a folder in turn, or generated ones."""

    def __init__(self, folder: str | os.PathLike[str] | None = None, seed: int = 0,
                 size: tuple[int, int] = CAMERA_SIZE) -> None:
        self.size, self.seed = size, seed
        self.files: list[Path] = []
        if folder is not None:
            from ..vision.image_io import IMAGE_SUFFIXES

            folder = Path(folder)
            if not folder.is_dir():
                raise KitError(f"{folder}: no such image folder for the virtual board")
            self.files = sorted(f for f in folder.rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES)
            if not self.files:
                raise KitError(f"{folder}: no images (.jpg, .png, .bmp) in this folder (or its sub-folders)")

    def describe(self) -> str:
        """One line for the log."""
        return f"{len(self.files)} images from a folder" if self.files else "generated images"

    def frame(self, index: int) -> np.ndarray:
        """Frame number ``index`` as uint8 RGB (H, W, 3) at the camera size."""
        if not self.files:
            return generated_image(index, self.seed, self.size)
        from ..vision.image_io import open_image
        from ..vision.preprocess import preprocess_image

        img = open_image(self.files[index % len(self.files)])
        return preprocess_image(img, self.size[0], self.size[1], 3)


class InputPath(Protocol):
    """What the virtual board needs of a model: :class:`tinymlkit.board_input.BoardInput` provides it."""

    kind: str
    labels: tuple[str, ...]
    macs: int

    def clip_to_input(self, clip: np.ndarray) -> np.ndarray: ...
    def frame_to_input(self, frame: np.ndarray) -> np.ndarray: ...
    def run(self, x: np.ndarray) -> np.ndarray: ...
    def probabilities(self, raw: np.ndarray) -> np.ndarray: ...


class _Engine:
    """A model's board input path; produces RESULT messages as the sketch would."""

    def __init__(self, model: InputPath, pixel_format: int = p.PIXEL_FORMATS["RGB565_BE"]) -> None:
        missing = [m for m in ("kind", "labels", "clip_to_input", "frame_to_input", "run", "probabilities")
                   if not hasattr(model, m)]
        if missing:
            raise KitError(f"the virtual board runs a model through its board input, not {type(model).__name__}: "
                           "VirtualBoard(model=board_input(RUN / 'config.json', RUN / 'model_int8.tflite')) "
                           "(from tinymlkit.board_input import board_input)")
        self.board_input = model
        self.labels = tuple(model.labels)
        self.kind = model.kind
        self.pixel_format = pixel_format
        self._estimate: p.Timing | None = None

    def estimate(self, target: str = "nano33ble") -> p.Timing:
        """The kit's latency estimate for this model on the target, as the TIMING answer to BENCH.

        A virtual board has no board clock to measure, so it answers with what ``tinymlkit inspect``
        estimates (MACs x cycles per MAC / clock, with the sources' range), marked as an estimate.
        """
        if self._estimate is None:
            from ..targets import get_target

            t = get_target(target)
            macs = int(self.board_input.macs)
            low, high = t.latency_range_ms(macs)
            central_us = round(t.latency_ms(macs) * 1000)
            note = (f"ESTIMATE, not measured: {macs:,} MACs x {t.cycles_per_mac:g} cycles/MAC "
                    f"(range {t.cycles_per_mac_low:g}-{t.cycles_per_mac_high:g}) at {t.clock_hz / 1e6:g} MHz "
                    f"({t.name}); see tinymlkit inspect")
            self._estimate = p.Timing(p.TIMING_SOURCES["ESTIMATE"], p.TIMING_STEPS["INFERENCE"], 0,
                                      round(low * 1000), central_us, round(high * 1000), central_us, t.clock_hz,
                                      note[: p.MAX_TEXT])
        return self._estimate

    def features(self, audio: AudioSource, images: ImageSource, index: int) -> np.ndarray:
        """The model's input for clip or frame ``index`` (int8 for an int8 model), as the sketch computes it."""
        if self.kind == "kws":
            return self.board_input.clip_to_input(audio.clip(index))
        return self.board_input.frame_to_input(camera_view(images.frame(index), self.pixel_format))

    def infer(self, audio: AudioSource, images: ImageSource, index: int, t0: float) -> p.InferenceResult:
        """One inference, as the RESULT message the sketch would send."""
        x = self.features(audio, images, index)
        start = time.perf_counter()
        probs = self.board_input.probabilities(self.board_input.run(x)).reshape(-1)
        latency_us = int((time.perf_counter() - start) * 1e6)
        scores = bytes(int(v) for v in np.clip(np.round(probs * 255.0), 0, 255))
        top = int(np.argmax(probs))
        return p.InferenceResult(int((time.monotonic() - t0) * 1000), latency_us, top, scores[top], scores,
                                 self.labels[top])


@dataclasses.dataclass
class _Job:
    op: int
    remaining: int | None  # None: until STOP
    sent: int = 0
    next_at: float = 0.0


class VirtualBoard:
    """A board that lives on a pseudo-terminal; :attr:`port` is the path to open."""

    def __init__(self, audio_dir: str | os.PathLike[str] | None = None,
                 images_dir: str | os.PathLike[str] | None = None, *,
                 model: InputPath | None = None,
                 board_id: int | None = None, name: str = "tinymlkit virtual board",
                 camera_size: tuple[int, int] = CAMERA_SIZE, pixel_format: str = "rgb565_be",
                 interval: float = 0.0, faults: dict[int, str] | None = None, seed: int = 0,
                 protocol_version: int = p.PROTOCOL_VERSION) -> None:
        self.audio = AudioSource(audio_dir, seed)
        self.images = ImageSource(images_dir, seed, camera_size)
        self.board_id = default_board_id() if board_id is None else board_id & 0xFFFFFFFF
        self.name = name
        self.pixel_format = p.pixel_format_code(pixel_format)
        self.interval = interval
        self.faults = dict(faults or {})
        bad = {k: v for k, v in self.faults.items() if v not in FAULT_KINDS}
        if bad:
            raise KitError(f"unknown fault kind(s) {bad}; known: {FAULT_KINDS}")
        self.protocol_version = protocol_version
        self._t0 = time.monotonic()
        self.engine: _Engine | None = None
        if model is not None:
            self.engine = _Engine(model, self.pixel_format)
            # Load TensorFlow's frontend and run the model once now, as a board is ready when it boots;
            # otherwise the first result would wait for imports (10-20 s) while the host times out.
            self.engine.infer(self.audio, self.images, 0, self._t0)
        self._rng = random.Random(seed)
        self._master = self._slave = -1
        self.port = ""
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._out = bytearray()
        self._seq = 0
        self._data_frames = 0
        self._audio_index = self._image_index = self._infer_index = 0
        self._job: _Job | None = None
        self.commands_seen: list[p.Command] = []

    # -- lifecycle ----------------------------------------------------------------------------
    def open(self) -> str:
        """Create the pseudo-terminal; returns the path a serial program opens."""
        if self.port:
            return self.port
        if not hasattr(os, "openpty"):
            raise KitError("the virtual board needs a pseudo-terminal (Linux, macOS, Colab); on Windows run it in WSL")
        import tty  # POSIX only

        self._master, self._slave = os.openpty()
        # Raw from the start: no echo, no CR/LF translation, no XON/XOFF on the board's bytes.
        tty.setraw(self._slave)
        os.set_blocking(self._master, False)
        self.port = os.ttyname(self._slave)
        return self.port

    def start(self) -> str:
        """Open the pty and serve it from a background thread; returns the port path."""
        self.open()
        self._stop.clear()
        self._thread = threading.Thread(target=self.serve_forever, name="virtual-board", daemon=True)
        self._thread.start()
        return self.port

    def stop(self) -> None:
        """Stop serving and close the pty (the port disappears)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        for fd in (self._master, self._slave):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._master = self._slave = -1

    def __enter__(self) -> "VirtualBoard":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the loop -----------------------------------------------------------------------------
    def serve_forever(self) -> None:
        """Answer commands until :meth:`stop` (or the process ends)."""
        self.open()
        parser = p.FrameParser(accept=[p.TYPE_BY_NAME["COMMAND"].code])
        while not self._stop.is_set():
            want_write = bool(self._out)
            timeout = 0.05
            if not want_write and self._job is not None:
                timeout = max(0.0, min(timeout, self._job.next_at - time.monotonic()))
            try:
                r, w, _ = select.select([self._master], [self._master] if want_write else [], [], timeout)
            except (OSError, ValueError):
                return
            if r:
                try:
                    data = os.read(self._master, 4096)
                except BlockingIOError:
                    data = b""
                except OSError:
                    return
                for frame in parser.feed(data):
                    self._handle(p.Command.parse(frame.payload))
            if w and self._out:
                try:
                    n = os.write(self._master, self._out[:65536])
                except BlockingIOError:
                    n = 0
                except OSError:
                    return
                del self._out[:n]
            if not self._out and self._job is not None and time.monotonic() >= self._job.next_at:
                self._produce()

    def _send(self, msg: p.Message, data_frame: bool = False) -> None:
        if isinstance(msg, p.Hello) and self.protocol_version != p.PROTOCOL_VERSION:
            payload = bytearray(msg.payload())
            payload[0:2] = self.protocol_version.to_bytes(2, "little")
            frame = p.encode_frame("HELLO", bytes(payload), self._seq)
        else:
            frame = p.message_frame(msg, self._seq)
        self._seq = (self._seq + 1) & 0xFF
        if data_frame:
            fault = self.faults.get(self._data_frames)
            self._data_frames += 1
            frame = self._damage(frame, fault) if fault else frame
        self._out += frame

    def _damage(self, frame: bytes, fault: str) -> bytes:
        if fault == "garbage":
            junk = bytearray(self._rng.randbytes(self._rng.randint(50, 300)))
            # Include false starts: sync bytes followed by nonsense headers.
            for _ in range(3):
                i = self._rng.randrange(0, len(junk) - 2)
                junk[i:i + 2] = p.SYNC
            return bytes(junk) + frame
        if fault == "cut":
            return frame[: len(frame) // 2]
        if fault == "bad_crc":
            b = bytearray(frame)
            b[p.HEADER_SIZE + (len(b) - p.FRAME_OVERHEAD) // 2] ^= 0x40
            return bytes(b)
        if fault == "too_long":
            b = bytearray(frame)
            b[4:8] = (p.TYPE_BY_CODE[b[2]].max_payload + 1).to_bytes(4, "little")
            return bytes(b)
        raise AssertionError(fault)

    def _hello(self) -> p.Hello:
        caps = p.CAPABILITIES["AUDIO"] | p.CAPABILITIES["IMAGE"]
        if self.engine is not None:
            caps |= p.CAPABILITIES["INFERENCE"] | p.CAPABILITIES["BENCH"]
        w, h = self.images.size
        return p.Hello(self.board_id, self.name, caps, self.audio.sample_rate, self.audio.samples, w, h,
                       self.pixel_format)

    def _handle(self, cmd: p.Command) -> None:
        self.commands_seen.append(cmd)
        ops = p.COMMANDS
        if cmd.op == ops["HELLO"]:
            self._send(self._hello())
            info = f"{self.audio.describe()}, {self.images.describe()}"
            if self.engine is not None:
                info += f", {self.engine.kind} model with labels {list(self.engine.labels)}"
            self._send(p.LogLine(p.LOG_LEVELS["INFO"], f"virtual board ready: {info}"))
        elif cmd.op == ops["BENCH"]:
            if self.engine is None:
                self._send(p.BoardError(p.ERROR_CODES["NO_MODEL"], "no model loaded to time: start the virtual "
                                        "board with --model M.tflite --config C.json"))
                return
            if self._job is not None:
                self._send(p.Status(self._job.op, p.STATUS_STATES["STOPPED"], self._job.sent))
                self._job = None
            self._send(p.Status(cmd.op, p.STATUS_STATES["STARTED"], 0))
            try:
                timing = self.engine.estimate()
            except KitError as e:
                self._send(p.BoardError(p.ERROR_CODES["UNSUPPORTED"], str(e)[: p.MAX_TEXT]))
                return
            self._send(timing)
            self._send(p.Status(cmd.op, p.STATUS_STATES["DONE"], 1))
        elif cmd.op == ops["STOP"]:
            if self._job is not None:
                self._send(p.Status(self._job.op, p.STATUS_STATES["STOPPED"], self._job.sent))
            self._job = None
        elif cmd.op in (ops["CAPTURE_AUDIO"], ops["CAPTURE_IMAGE"], ops["START_INFERENCE"]):
            if cmd.op == ops["START_INFERENCE"] and self.engine is None:
                self._send(p.BoardError(p.ERROR_CODES["NO_MODEL"],
                                        "no model loaded: start the virtual board with --model M.tflite --config C.json"))
                return
            if self._job is not None:
                self._send(p.Status(self._job.op, p.STATUS_STATES["STOPPED"], self._job.sent))
            count = None if (cmd.arg == 0 and cmd.op == ops["START_INFERENCE"]) else cmd.arg
            self._job = _Job(cmd.op, count, 0, time.monotonic() + self.interval)
            self._send(p.Status(cmd.op, p.STATUS_STATES["STARTED"], 0))
            if count == 0:
                self._finish()
        else:
            self._send(p.BoardError(p.ERROR_CODES["UNKNOWN_COMMAND"], f"unknown command op {cmd.op}"))

    def _finish(self) -> None:
        assert self._job is not None
        self._send(p.Status(self._job.op, p.STATUS_STATES["DONE"], self._job.sent))
        self._job = None

    def _produce(self) -> None:
        job = self._job
        assert job is not None
        ops = p.COMMANDS
        try:
            if job.op == ops["CAPTURE_AUDIO"]:
                clip = self.audio.clip(self._audio_index)
                self._audio_index += 1
                self._send(p.AudioClip(self.audio.sample_rate, clip.astype("<i2").tobytes()), data_frame=True)
            elif job.op == ops["CAPTURE_IMAGE"]:
                rgb = self.images.frame(self._image_index)
                self._image_index += 1
                w, h = self.images.size
                self._send(p.ImageFrame(w, h, self.pixel_format, encode_pixels(rgb, self.pixel_format)),
                           data_frame=True)
            else:
                assert self.engine is not None
                result = self.engine.infer(self.audio, self.images, self._infer_index, self._t0)
                self._infer_index += 1
                self._send(result, data_frame=True)
        except KitError as e:
            self._send(p.BoardError(p.ERROR_CODES["SENSOR"], str(e)[: p.MAX_TEXT]))
            self._job = None
            return
        job.sent += 1
        job.next_at = time.monotonic() + self.interval
        if job.remaining is not None and job.sent >= job.remaining:
            self._finish()
