"""Record keyword clips from the laptop's microphone, or take photos with its webcam, through a local web page.

No board needed: a small server on 127.0.0.1 serves the page and writes what the learner keeps,
create-only, in the layouts the loaders read (Speech Commands for clips, one folder per label for photos).

May import: errors, files, audio, vision (layers 0-1); only the command line imports it.
"""
from __future__ import annotations

from .photos import DEFAULT_PHOTO_LABELS, PhotoServer, PhotoSession
from .server import CLIP_SAMPLES, SAMPLE_RATE, RecorderServer, RecorderSession, check_speaker, new_speaker_id

__all__ = ["RecorderServer", "RecorderSession", "PhotoServer", "PhotoSession", "DEFAULT_PHOTO_LABELS",
           "new_speaker_id", "check_speaker", "SAMPLE_RATE", "CLIP_SAMPLES"]
