"""``tinymlkit data speech-commands|synth-kws``: get or make keyword data sets."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .common import data_subparsers, int_in

__all__ = ["register"]


def register(sub: Any) -> None:
    """Add ``data speech-commands`` and ``data synth-kws``."""
    ds = data_subparsers(sub)
    p = ds.add_parser("speech-commands", help="download and extract Speech Commands v0.02 (2.4 GB)",
                      description="Download Speech Commands v0.02 with a checksum check; an interrupted "
                                  "download resumes where it stopped when run again.")
    p.add_argument("--out", type=Path, help="dataset folder (default: datasets/speech_commands_v0.02/data)")
    p.set_defaults(func=_speech_commands)
    p = ds.add_parser("synth-kws", help="make the offline text-to-speech keyword set",
                      description="Speak keywords with espeak-ng/flite voices into a Speech Commands style "
                                  "folder, holding whole voices out for validation and test.")
    p.add_argument("--out", type=Path, help="dataset folder (default: datasets/synth_kws/data)")
    p.add_argument("--voices", type=int_in(3, 10_000), help="number of voices (default 120; at least 3)")
    p.add_argument("--takes", type=int_in(1, 100), help="clips per word and voice (default 3)")
    p.set_defaults(func=_synth)


def _speech_commands(args: argparse.Namespace) -> int:
    from ..data.download import download_speech_commands

    out = download_speech_commands(args.out)
    print(f"Speech Commands v0.02 is in {out}")
    return 0


def _synth(args: argparse.Namespace) -> int:
    import dataclasses

    from ..data.synth_speech import SynthSpeechConfig, make_synthetic_speech

    if args.out is not None:
        _check_synth_out(args.out)
    cfg = SynthSpeechConfig()
    changes = {k: v for k, v in (("num_voices", args.voices), ("takes", args.takes)) if v is not None}
    out = make_synthetic_speech(args.out, dataclasses.replace(cfg, **changes))
    print(f"synthetic keyword set is in {out}")
    return 0


def _check_synth_out(out: Path) -> None:
    """Refuse an --out the synthetic set would replace although the kit did not make it."""
    from ..files import check_output_folder

    if (out / "DATASET.json").is_file() and (out / "_background_noise_").is_dir():
        return  # a synthetic set the kit made earlier (before folders carried the kit's marker)
    check_output_folder(out, "the synthetic keyword set")
