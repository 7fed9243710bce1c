"""``tinymlkit record``: a local web page that records keywords from the laptop's microphone."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from .common import int_in

__all__ = ["register"]


def register(sub: Any) -> None:
    """Add the ``record`` command."""
    p = sub.add_parser("record", help="record your own keywords in the browser (127.0.0.1 only)",
                       description="Serve a page on 127.0.0.1 that shows a word, records one second from the "
                                   "browser's microphone, shows the waveform and saves kept takes as 16 kHz mono "
                                   "WAVs in Speech Commands layout (OUT/WORD/SPEAKER_nohash_N.wav). Nothing is "
                                   "ever overwritten; run it again to add more takes.")
    p.add_argument("--out", type=Path, required=True, help="dataset folder to add the takes to")
    p.add_argument("--words", default="yes,no", help="comma-separated words to record (default: yes,no)")
    p.add_argument("--takes", type=int, default=10, help="takes wanted per word (default 10)")
    p.add_argument("--speaker", help="speaker id in the file names (letters/digits; default: a new random id)")
    p.add_argument("--port", type=int_in(0, 65535), default=0, help="port on 127.0.0.1 (default: any free one)")
    p.add_argument("--no-browser", action="store_true", help="only print the address; do not open a browser")
    p.set_defaults(func=_record)


def _record(args: argparse.Namespace) -> int:
    from ..recorder import RecorderServer

    words = [w.strip() for w in args.words.split(",") if w.strip()]
    server = RecorderServer(args.out, words, speaker=args.speaker, takes=args.takes, port=args.port)
    s = server.session
    print(f"Recorder for {', '.join(s.words)} ({s.takes} takes each), speaker {s.speaker}, into {s.out}")
    print(f"Open {server.url} in a browser on this computer; stop with Ctrl-C.", flush=True)
    if not args.no_browser:
        import webbrowser

        webbrowser.open(server.url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    print(f"Saved {len(server.saved)} take(s) this session; per word now: {s.counts()}", file=sys.stderr)
    return 0
