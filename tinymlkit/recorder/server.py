"""The local recorder: a small HTTP server on 127.0.0.1 that serves a page and saves what is kept.

One server serves one session: keyword takes from the microphone (:class:`RecorderSession`, this
module) or photos from the webcam (:class:`~tinymlkit.recorder.photos.PhotoSession`). The handler
only knows a session's page, its endpoint and its ``save``; each session checks and writes its own
files. Takes land as ``OUT/WORD/SPEAKER_nohash_N.wav`` (16 kHz mono 16-bit, one second), the Speech Commands
layout the loaders read, written create-only and atomically (``tinymlkit.files.save_new_file``): a
recording is never overwritten, and a stopped server leaves only whole files. The server listens on
the loopback interface only and answers only requests addressed to it by that name (the Host and
Origin checks stop another web site from posting into the folder through the browser).
"""
from __future__ import annotations

import dataclasses
import json
import re
import secrets
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

import numpy as np

from ..audio.wav import wav_bytes
from ..errors import KitError
from ..files import ensure_folder, save_new_file
from .page import PAGE

__all__ = ["RecorderSession", "RecorderServer", "LocalServer", "Session", "UploadRefused", "new_speaker_id",
           "check_speaker", "check_word", "SAMPLE_RATE", "CLIP_SAMPLES", "HOST"]

SAMPLE_RATE = 16000
"""Sample rate of every saved take."""
CLIP_SAMPLES = 16000
"""Samples in one take (one second)."""
HOST = "127.0.0.1"
"""The only interface the recorder listens on."""

_WORD = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
_SPEAKER = re.compile(r"^[0-9a-z]{1,32}$")


def new_speaker_id() -> str:
    """A random 8-hex-digit speaker id, like the ids of Speech Commands."""
    return secrets.token_hex(4)


def check_speaker(speaker: str) -> str:
    """A speaker id usable in Speech Commands file names (letters and digits, no '_'); KitError otherwise."""
    if not _SPEAKER.match(speaker):
        raise KitError(f"--speaker {speaker!r}: use 1-32 lower-case letters or digits (it goes before '_nohash_' "
                       "in every file name, so the hash split keeps one speaker in one split)")
    return speaker


def check_word(word: str, what: str = "word") -> str:
    """A keyword (or photo label, ``what``) usable as a folder name; KitError otherwise."""
    if not _WORD.match(word):
        raise KitError(f"{what} {word!r}: use lower-case letters, digits, '_' or '-' (it becomes a folder name)")
    return word


class UploadRefused(KitError):
    """An upload the session will not write; ``status`` is the HTTP status the server answers with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class Session(Protocol):
    """What the server needs from a session (keyword takes or photos)."""

    out: Path
    page: str
    endpoint: str
    key: str

    def describe(self) -> Mapping[str, Any]:
        """The JSON the page asks for at start (names, counts, folder)."""

    def check_length(self, length: int) -> None:
        """Raise UploadRefused for a Content-Length the session will not read."""

    def save(self, key: str, body: bytes) -> Path:
        """Check and write one upload; UploadRefused/KitError for a bad one (nothing written)."""

    def counts(self) -> dict[str, int]:
        """Files saved so far per word or label."""


@dataclasses.dataclass
class RecorderSession:
    """What one recording session writes: which words, how many takes each, for which speaker, where."""

    out: Path
    """Dataset folder (Speech Commands layout)."""
    words: tuple[str, ...]
    """Words to record, in the order the page shows them."""
    speaker: str
    """Speaker id put in every file name."""
    takes: int = 10
    """Takes wanted per word (the page moves on when a word has them; more can still be kept)."""
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock, repr=False)
    """Serialises saves, so two quick clicks never pick the same number."""

    page = PAGE
    """The recorder page."""
    endpoint = "/api/clip"
    """Where the page posts a kept take."""
    key = "word"
    """Query parameter naming the word of a take."""

    def describe(self) -> dict[str, Any]:
        """Words, speaker, takes wanted, counts and folder, for the page."""
        return {"words": list(self.words), "speaker": self.speaker, "takes": self.takes,
                "counts": self.counts(), "out": str(self.out)}

    def check_length(self, length: int) -> None:
        """A take is exactly one second of 16-bit samples."""
        if length != 2 * CLIP_SAMPLES:
            raise UploadRefused(f"a take must be {2 * CLIP_SAMPLES} bytes, Content-Length says {length}")

    def numbers(self, word: str) -> list[int]:
        """Take numbers already saved for this word and speaker."""
        folder = self.out / word
        pat = re.compile(rf"^{re.escape(self.speaker)}_nohash_(\d+)\.wav$")
        if not folder.is_dir():
            return []
        return sorted(int(m.group(1)) for f in folder.iterdir() if (m := pat.match(f.name)))

    def counts(self) -> dict[str, int]:
        """Takes saved so far per word (this speaker's)."""
        return {w: len(self.numbers(w)) for w in self.words}

    def save(self, word: str, pcm: bytes) -> Path:
        """Write one take (int16 little-endian samples) as the next free file; never overwrites."""
        if word not in self.words:
            raise KitError(f"word {word!r} is not one of this session's words {list(self.words)}")
        if len(pcm) != 2 * CLIP_SAMPLES:
            raise KitError(f"a take must be {CLIP_SAMPLES} 16-bit samples ({2 * CLIP_SAMPLES} bytes), "
                           f"got {len(pcm)} bytes")
        x = np.frombuffer(pcm, dtype="<i2")
        data = wav_bytes(x, SAMPLE_RATE)
        with self.lock:
            ensure_folder(self.out / word)
            n = max(self.numbers(word), default=-1) + 1
            while True:
                path = self.out / word / f"{self.speaker}_nohash_{n}.wav"
                try:
                    return save_new_file(path, data)
                except FileExistsError:  # made by another program meanwhile: take the next number
                    n += 1


class _Handler(BaseHTTPRequestHandler):
    server: "_Server"
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        if self.server.verbose:
            super().log_message(format, *args)

    def _send(self, status: int, body: bytes, ctype: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, obj: Any) -> None:
        self._send(status, json.dumps(obj).encode(), "application/json")

    def _allowed(self) -> bool:
        port = self.server.server_address[1]
        names = {f"127.0.0.1:{port}", f"localhost:{port}"}
        if self.headers.get("Host") not in names:
            return False
        origin = self.headers.get("Origin")
        return origin is None or origin in {f"http://{n}" for n in names}

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        """The page and the session."""
        if not self._allowed():
            self._json(403, {"error": "the recorder answers only http://127.0.0.1 or http://localhost"})
            return
        path = urlsplit(self.path).path
        s = self.server.session
        if path in ("/", "/index.html"):
            self._send(200, s.page.encode(), "text/html; charset=utf-8")
        elif path == "/api/session":
            self._json(200, dict(s.describe()))
        else:
            self._json(404, {"error": f"no such page {path}"})

    def do_POST(self) -> None:  # noqa: N802
        """Save one kept take or photo."""
        if not self._allowed():
            self._json(403, {"error": "the recorder answers only http://127.0.0.1 or http://localhost"})
            return
        url = urlsplit(self.path)
        try:
            length = int(self.headers.get("Content-Length", "-1"))
        except ValueError:
            length = -1
        session = self.server.session
        if url.path != session.endpoint:
            self.close_connection = True
            self._json(404, {"error": f"no such endpoint {url.path}"})
            return
        try:
            session.check_length(length)
        except UploadRefused as e:
            # Read nothing of a body the session does not want: a bad length is refused before any large read.
            self.close_connection = True
            self._json(e.status, {"error": str(e)})
            return
        body = self.rfile.read(length)
        key = parse_qs(url.query).get(session.key, [""])[0]
        try:
            path = session.save(key, body)
        except UploadRefused as e:
            self._json(e.status, {"error": str(e)})
            return
        except KitError as e:
            self._json(400, {"error": str(e)})
            return
        except OSError as e:
            self._json(500, {"error": f"could not save: {e}"})
            return
        self.server.saved.append(path)
        rel = path.relative_to(self.server.session.out).as_posix()
        self._json(200, {"file": rel, "counts": self.server.session.counts()})


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, session: Session, port: int, verbose: bool) -> None:
        self.session, self.verbose, self.saved = session, verbose, []
        super().__init__((HOST, port), _Handler)


class LocalServer:
    """Serve one session's page on 127.0.0.1; ``start()`` in a thread or ``serve_forever()``."""

    session: Session

    def _listen(self, session: Session, port: int, verbose: bool) -> None:
        out = session.out
        if out.exists() and not out.is_dir():
            raise KitError(f"--out {out}: exists and is a file, not a folder")
        self.session = session
        try:
            self._server = _Server(session, port, verbose)
        except OSError as e:
            raise KitError(f"--port {port}: cannot listen on {HOST} ({e.strerror or e}); choose another port "
                           "or 0 for any free one") from None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Address of the page."""
        return f"http://{HOST}:{self._server.server_address[1]}/"

    @property
    def saved(self) -> list[Path]:
        """Files saved by this server so far."""
        return list(self._server.saved)

    def start(self) -> "LocalServer":
        """Serve in a background thread (for tests and notebooks)."""
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve until interrupted (Ctrl-C)."""
        try:
            self._server.serve_forever()
        finally:
            self._server.server_close()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> "LocalServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


class RecorderServer(LocalServer):
    """Serve the keyword recorder page for one session on 127.0.0.1."""

    session: RecorderSession

    def __init__(self, out: str | Path, words: tuple[str, ...] | list[str], speaker: str | None = None,
                 takes: int = 10, port: int = 0, verbose: bool = False) -> None:
        words = tuple(check_word(w) for w in words)
        if not words:
            raise KitError("give at least one word to record")
        if takes < 1:
            raise KitError(f"--takes {takes}: give a positive number")
        session = RecorderSession(Path(out), words, check_speaker(speaker or new_speaker_id()), takes)
        self._listen(session, port, verbose)
