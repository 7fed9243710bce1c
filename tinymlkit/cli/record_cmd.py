"""``tinymlkit record``: a local web page that records keywords from the microphone or takes photos with the webcam."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..errors import KitError
from .common import int_in

__all__ = ["register"]


def register(sub: Any) -> None:
    """Add the ``record`` command."""
    p = sub.add_parser("record", help="record your own keywords, or take your own photos, in the browser "
                                      "(127.0.0.1 only)",
                       description="Serve a page on 127.0.0.1 that shows a word, records one second from the "
                                   "browser's microphone, shows the waveform and saves kept takes as 16 kHz mono "
                                   "WAVs in Speech Commands layout (OUT/WORD/SPEAKER_nohash_N.wav). With --photos "
                                   "the page shows a label (person, non_person) and what counts for it, a live "
                                   "webcam preview and a Snap button; kept stills are saved as "
                                   "OUT/LABEL/OWNER_N.png, pixels only (no EXIF, no GPS), longest side at most "
                                   "--max-side, the layout `tinymlkit vww run --data OUT` reads. Nothing is "
                                   "ever overwritten; run it again to add more.",
                       epilog="Own photos, then fine-tune with a before/after: take a training set and, on "
                              "another day or in other spots, a held-out set: `tinymlkit record --photos --out "
                              "mine`, `tinymlkit record --photos --out held_out`, then `tinymlkit vww run --data "
                              "mine --weights person_detect --real-eval held_out --out runs/mine`.")
    p.add_argument("--out", type=Path, required=True, help="dataset folder to add the takes or photos to")
    p.add_argument("--photos", action="store_true", help="take photos with the webcam instead of recording audio")
    p.add_argument("--words", help="comma-separated words to record (default: yes,no)")
    p.add_argument("--labels", help="with --photos: comma-separated labels to photograph, each a folder "
                                    "(default: person,non_person)")
    p.add_argument("--takes", type=int_in(1, 10000), default=None,
                   help="takes (or photos) wanted per word or label (default 10 takes, 20 photos)")
    p.add_argument("--speaker", help="speaker id in the file names (letters/digits; default: a new random id)")
    p.add_argument("--owner", help="with --photos: owner id starting the file names (letters/digits; "
                                   "default: a new random id)")
    p.add_argument("--max-side", type=int_in(32, 1920), default=None,
                   help="with --photos: longest side of a saved photo in pixels (default 640)")
    p.add_argument("--port", type=int_in(0, 65535), default=0, help="port on 127.0.0.1 (default: any free one)")
    p.add_argument("--no-browser", action="store_true", help="only print the address; do not open a browser")
    p.set_defaults(func=_record)


def _split(text: str) -> list[str]:
    return [w.strip() for w in text.split(",") if w.strip()]


def _server(args: argparse.Namespace) -> Any:
    from ..recorder import DEFAULT_PHOTO_LABELS, PhotoServer, RecorderServer

    if args.photos:
        for flag, value in (("--words", args.words), ("--speaker", args.speaker)):
            if value is not None:
                raise KitError(f"{flag} is for keyword recording; with --photos use "
                               f"{'--labels' if flag == '--words' else '--owner'}")
        labels = _split(args.labels) if args.labels is not None else list(DEFAULT_PHOTO_LABELS)
        kw = {} if args.max_side is None else {"max_side": args.max_side}
        return PhotoServer(args.out, labels, owner=args.owner, takes=args.takes or 20, port=args.port, **kw)
    for flag, value in (("--labels", args.labels), ("--owner", args.owner), ("--max-side", args.max_side)):
        if value is not None:
            raise KitError(f"{flag} is for photos; add --photos (keyword recording uses --words and --speaker)")
    words = _split(args.words if args.words is not None else "yes,no")
    return RecorderServer(args.out, words, speaker=args.speaker, takes=args.takes or 10, port=args.port)


def _record(args: argparse.Namespace) -> int:
    server = _server(args)
    s = server.session
    if args.photos:
        print(f"Photos of {', '.join(s.labels)} ({s.takes} each), owner {s.owner}, into {s.out} "
              f"(pixels only, longest side {s.max_side})")
    else:
        print(f"Recorder for {', '.join(s.words)} ({s.takes} takes each), speaker {s.speaker}, into {s.out}")
    print(f"Open {server.url} in a browser on this computer; stop with Ctrl-C.", flush=True)
    if not args.no_browser:
        import webbrowser

        webbrowser.open(server.url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    what = "photo(s)" if args.photos else "take(s)"
    per = "label" if args.photos else "word"
    print(f"Saved {len(server.saved)} {what} this session; per {per} now: {s.counts()}", file=sys.stderr)
    return 0
