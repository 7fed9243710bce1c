"""Capture clips and camera frames from a board into a dataset folder, safely and resumably.

Layout, the one the loaders read::

    DATASET/<label>/<board>_nohash_<n>.wav   16 kHz mono 16-bit, 1 s (Speech Commands naming: the
                                             board id is the speaker, so the official hash split
                                             keeps one learner's clips in one split)
    DATASET/<label>/<board>_nohash_<n>.png   camera frames, no metadata

Every file is written atomically and create-only (``tinymlkit.files.save_new_file``): a stopped,
crashed or unplugged capture leaves only whole files, never overwrites one, and the same command run
again counts what is there and continues the numbering (``--count`` is the total wanted per label
and board). Frames lost on the wire are asked for again.
"""
from __future__ import annotations

import dataclasses
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..errors import KitError
from . import protocol as p
from .link import BoardLink, BoardTimeout, PortGone, check_count, check_seconds, clean_message

__all__ = [
    "KINDS",
    "CaptureError",
    "CaptureReport",
    "capture",
    "existing_numbers",
    "dataset_summary",
    "format_summary",
    "check_label",
]

KINDS = {"audio": ("CAPTURE_AUDIO", "AUDIO", ".wav"), "image": ("CAPTURE_IMAGE", "IMAGE", ".png")}
"""kind -> (command, frame type, file suffix)."""

AUDIO_RATE = 16000
"""Sample rate the keyword datasets use."""
AUDIO_SAMPLES = 16000
"""Samples in one keyword clip (1 s)."""

_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_SUFFIXES = (".wav", ".png", ".jpg", ".jpeg", ".bmp")
MAX_REQUESTS = 20
"""Re-requests of lost frames before a capture gives up on a bad link."""


class CaptureError(KitError):
    """A capture that had to stop; the message says how many files were saved and how to continue."""


@dataclasses.dataclass
class CaptureReport:
    """What a capture did."""

    kind: str
    """'audio' or 'image'."""
    label: str
    """Label folder written to."""
    port: str
    """Serial port used."""
    board: str
    """Board id (8 hex digits), the file-name prefix."""
    target: int
    """Files wanted for this label and board."""
    already: int
    """Files that were there before."""
    saved: list[Path]
    """Files written now, in order."""
    seconds: float
    """Wall time of the transfer."""
    stats: p.ParserStats
    """What the reader received and dropped."""
    requests: int
    """Capture commands sent (more than one when lost frames were asked for again)."""
    bytes_received: int
    """Payload bytes of the saved clips/frames."""

    @property
    def complete(self) -> bool:
        """True if the label now has the target count from this board."""
        return self.already + len(self.saved) >= self.target


def check_label(label: str) -> str:
    """A label usable as a folder name; KitError otherwise."""
    if not _LABEL.match(label):
        raise KitError(f"label {label!r}: use letters, digits, '_' or '-' (not starting with '_' or '-', "
                       "at most 64 characters); it becomes a folder name")
    return label


def existing_numbers(folder: Path, board: str, suffix: str) -> list[int]:
    """Clip numbers already saved in ``folder`` for this board (``<board>_nohash_<n><suffix>``)."""
    pat = re.compile(rf"^{re.escape(board)}_nohash_(\d+){re.escape(suffix)}$")
    if not folder.is_dir():
        return []
    return sorted(int(m.group(1)) for f in folder.iterdir() if (m := pat.match(f.name)))


def dataset_summary(root: str | Path) -> dict[str, int]:
    """Files per label folder of a dataset (hidden and temporary files not counted)."""
    root = Path(root)
    out: dict[str, int] = {}
    if not root.is_dir():
        return out
    for d in sorted(x for x in root.iterdir() if x.is_dir() and not x.name.startswith(".")):
        n = sum(1 for f in d.iterdir() if f.is_file() and f.suffix.lower() in _SUFFIXES and not f.name.startswith("."))
        out[d.name] = n
    return out


def format_summary(root: str | Path) -> str:
    """The dataset summary as a small table."""
    counts = dataset_summary(root)
    if not counts:
        return f"{root}: empty"
    width = max(5, *(len(k) for k in counts))
    lines = [f"dataset {root}:"] + [f"  {k:<{width}}  {v:5d}" for k, v in counts.items()]
    lines.append(f"  {'total':<{width}}  {sum(counts.values()):5d}")
    return "\n".join(lines)


def _encode_audio(clip: p.AudioClip, port: str) -> bytes:
    from ..audio.wav import wav_bytes

    if clip.sample_rate != AUDIO_RATE or clip.num_samples != AUDIO_SAMPLES:
        raise CaptureError(f"{port}: the board sent a clip of {clip.num_samples} samples at {clip.sample_rate} Hz; "
                           f"the keyword datasets need {AUDIO_SAMPLES} samples at {AUDIO_RATE} Hz (1 s). "
                           "Set the capture sketch's clip length and rate to those values.")
    return wav_bytes(clip.array(), AUDIO_RATE)


def _encode_image(frame: p.ImageFrame, port: str) -> bytes:
    from ..vision.image_io import encode_image
    from .camera import decode_image

    pixels = decode_image(frame.width, frame.height, frame.pixel_format, frame.data, name=f"{port} image frame")
    return encode_image(np.ascontiguousarray(pixels), "PNG")


def capture(port: str, kind: str, label: str, count: int, out: str | Path, *,
            timeout: float = 15.0, progress: bool = True, on_saved: Callable[[Path], None] | None = None,
            log: Callable[[str], None] | None = None, hello_timeout: float = 5.0) -> CaptureReport:
    """Ask the board on ``port`` for clips or frames until ``out/label`` holds ``count`` from it.

    ``timeout`` is the longest wait for the next clip/frame. Raises :class:`CaptureError` (saying
    what was saved) if the port disappears, the folder cannot be written, or the board stops answering.
    """
    if kind not in KINDS:
        raise KitError(f"capture kind {kind!r}: choose 'audio' or 'image'")
    check_label(label)
    check_count(count, "--count", allow_none=False)
    timeout = check_seconds(timeout, "--timeout", allow_none=False)  # type: ignore[assignment]
    op_name, frame_name, suffix = KINDS[kind]
    frame_code = p.TYPE_BY_NAME[frame_name].code
    out = Path(out)
    folder = out / label
    _check_folders(out, folder)
    say = log or (lambda s: print(s, file=sys.stderr))
    malformed = 0

    with BoardLink(port) as link:
        hello = link.hello(timeout=hello_timeout)
        need = "AUDIO" if kind == "audio" else "IMAGE"
        if not hello.can(need):
            raise CaptureError(f"{port}: the board ({hello.name or 'unnamed'}) has no {'microphone' if kind == 'audio' else 'camera'} "
                               f"in its sketch; flash the capture_{kind} sketch")
        board = hello.board_hex
        numbers = existing_numbers(folder, board, suffix)
        already = len(numbers)
        next_n = (max(numbers) + 1) if numbers else 0
        report = CaptureReport(kind, label, port, board, count, already, [], 0.0, link.parser.stats, 0, 0)
        if already >= count:
            say(f"{folder}: already holds {already} {kind} file(s) from board {board}; nothing to capture "
                f"(raise --count to capture more)")
            return report
        if already:
            say(f"{folder}: {already} file(s) from board {board} already there; capturing {count - already} more")
        bar = _progress(progress, count, already, f"{label} ({kind})")
        t0 = time.monotonic()

        def stop_message(reason: str) -> str:
            have = already + len(report.saved)
            return (f"{reason}. Saved {len(report.saved)} new file(s); {folder} holds {have} of {count} from board "
                    f"{board}. Run the same command again to continue where it stopped.")

        try:
            while already + len(report.saved) < count:
                if report.requests >= MAX_REQUESTS:
                    raise CaptureError(stop_message(f"{port}: gave up after {report.requests} requests: the link keeps "
                                                    f"losing frames ({link.parser.stats.describe()})"))
                wanted = count - already - len(report.saved)
                link.command(op_name, wanted)
                report.requests += 1
                done = False
                while not done and already + len(report.saved) < count:
                    frame = link.read_frame(timeout)
                    if frame is None:
                        raise BoardTimeout(stop_message(f"{port}: no {kind} from the board in {timeout:g} s"))
                    try:
                        msg = clean_message(p.decode_message(frame, port))
                        data = b""
                        if frame.type == frame_code:
                            data = _encode_audio(msg, port) if kind == "audio" else _encode_image(msg, port)
                    except CaptureError:
                        raise
                    except KitError as e:
                        # A frame that passed its CRC but holds nonsense: drop it; the missing file is asked for again.
                        malformed += 1
                        if malformed == 1:
                            _write(bar, f"{port}: ignored a malformed frame ({e}); it will be asked for again", say)
                        continue
                    if frame.type == frame_code:
                        path, next_n = _save(folder, board, next_n, suffix, data, stop_message)
                        report.saved.append(path)
                        report.bytes_received += len(frame.payload)
                        if bar is not None:
                            bar.update(1)
                        if on_saved is not None:
                            on_saved(path)
                    elif isinstance(msg, p.Status) and msg.op == p.COMMANDS[op_name] and msg.state != p.STATUS_STATES["STARTED"]:
                        done = True  # batch over; anything lost on the way is asked for again
                    elif isinstance(msg, p.LogLine):
                        _write(bar, f"board: {msg.text}", say)
                    elif isinstance(msg, p.BoardError):
                        raise CaptureError(stop_message(f"{port}: the board reported {msg.code_name}: {msg.text}"))
        except PortGone as e:
            raise CaptureError(stop_message(str(e))) from None
        except BoardTimeout as e:
            raise CaptureError(str(e)) from None
        finally:
            report.seconds = time.monotonic() - t0
            if bar is not None:
                bar.close()
        if not link.parser.stats.clean or malformed:
            extra = f", malformed frames {malformed}" if malformed else ""
            say(f"{port}: link problems recovered from: {link.parser.stats.describe()}{extra}")
        return report


def _check_folders(out: Path, folder: Path) -> None:
    """Clear errors for a dataset or label path that is a file (the capture could never save there)."""
    for path, flag in ((out, "--out"), (folder, "--label")):
        if path.is_symlink() and not path.exists():
            raise KitError(f"{flag}: {path} is a broken symbolic link; remove it or choose another name")
        if path.exists() and not path.is_dir():
            raise KitError(f"{flag}: {path} exists and is a file, not a folder; choose another "
                           f"{'dataset folder' if flag == '--out' else 'label'}")


def _save(folder: Path, board: str, n: int, suffix: str, data: bytes,
          stop_message: Callable[[str], str]) -> tuple[Path, int]:
    from ..files import save_new_file

    for _ in range(100_000):
        path = folder / f"{board}_nohash_{n}{suffix}"
        try:
            save_new_file(path, data)
            return path, n + 1
        except FileExistsError:
            if not path.exists() and not path.is_symlink():
                # Not a clash over the name: the folder itself is the problem (e.g. a file in its place).
                raise CaptureError(stop_message(f"cannot write {path}: {folder} is not a folder")) from None
            n += 1  # another program wrote this number meanwhile: never overwrite, take the next
        except OSError as e:
            why = e.strerror or str(e)
            raise CaptureError(stop_message(
                f"cannot write {path}: {why} (is the disk full, or the folder read-only?); free space or "
                "fix the folder's permissions")) from None
    raise CaptureError(stop_message(f"{folder}: no free file number for board {board}"))


def _progress(enabled: bool, total: int, initial: int, desc: str):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc=desc, unit="file", leave=True)


def _write(bar, text: str, say: Callable[[str], None]) -> None:
    if bar is not None:
        bar.write(text)
    else:
        say(text)
