"""Record keyword clips from the laptop's microphone through a local web page (no board needed).

May import: errors, files, audio (layers 0-1); only the command line imports it.
"""
from __future__ import annotations

from .server import CLIP_SAMPLES, SAMPLE_RATE, RecorderServer, RecorderSession, check_speaker, new_speaker_id

__all__ = ["RecorderServer", "RecorderSession", "new_speaker_id", "check_speaker", "SAMPLE_RATE", "CLIP_SAMPLES"]
